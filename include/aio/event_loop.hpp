// SPDX-License-Identifier: MIT
// aio::event_loop: runs tasks, callbacks and timers on one thread (asyncio's event loop).
//
//     loop = asyncio.new_event_loop()        aio::event_loop loop;
//     loop.set_debug(True)                   loop.set_debug(true);
//     t = loop.create_task(work())           auto t = loop.create_task(work());
//     r = loop.run_until_complete(main())    auto r = loop.run_until_complete(main());
//     loop.call_later(0.5, cb)               loop.call_later(500ms, cb);
//     loop.close()                           loop.close();
//
// One iteration: take what other threads handed in (call_soon_threadsafe); if nothing is ready,
// block in the poller (detail/poller.hpp: epoll, or a condition variable) until the earliest
// timer is due, a watched fd is ready (its waiting task is queued: detail/fd_watch.hpp) or
// another thread wakes it (busy, with tasks waiting on fds, it only polls it); move every
// expired timer's coroutine to the ready queue; run exactly the items that were ready when the
// iteration began (so a task that keeps yielding cannot starve the others — asyncio's `ntodo`).
//
// Threads: the loop belongs to the thread that runs it. call_soon_threadsafe() is the one
// member that any thread may call (it wakes a blocked loop); every other member, and every
// task, future and lock bound to the loop, is for the loop's thread only. In builds without
// NDEBUG a loop method called from another thread while the loop runs throws event_loop_error
// (asyncio's debug check).
//
// Signals (POSIX, epoll poller): add_signal_handler(sig, f) runs f on the loop's thread, as a
// callback at the next iteration after each delivery (detail/signals.hpp says how, and why not
// signalfd); close() puts back each signal's previous disposition. A callback that throws
// aio::keyboard_interrupt ends the loop's run with it, as asyncio lets KeyboardInterrupt out.
//
// Time: loop.time() is steady_clock, or virtual time for tests (`event_loop loop{virtual_time}`,
// see detail/loop_clock.hpp): every sleep, timeout and call_later reads the loop's clock.
//
// A waiting loop never reports a deadlock on real time (another thread may still call
// call_soon_threadsafe, as in asyncio, which then hangs); on virtual time it does when nothing
// is ready, no timer can fire and no outside work (detail: external_begin/external_end, a
// call_soon_threadsafe in flight, a task waiting on an fd) is pending.
//
// Lifetime rules: the loop owns every created task until it finishes. close() (or the
// destructor) drops what is still pending: frames are destroyed as soon as no handle refers to
// them, nothing leaks, and in debug mode each is reported. Only the thread-local "running loop"
// pointer is global, and only while run_* executes. The loop must outlive every
// call_soon_threadsafe call made on it; after close() such calls throw.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_EVENT_LOOP_HPP_INCLUDED
#define AIO_EVENT_LOOP_HPP_INCLUDED

#include "any_task_handle.hpp"
#include "detail/loop_core.hpp"
#include "detail/task_dump.hpp"
#include "detail/task_info.hpp"
#include "errors.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

namespace detail {
/// Set by <aio/trace.hpp>: starts a trace for AIO_TRACE (nullptr: that header is not included).
using trace_starter = void (*)(event_loop& loop, const char* path);
inline constinit trace_starter start_trace_from_environment = nullptr;
}  // namespace detail

/// The loop running on this thread (asyncio.get_running_loop()); throws event_loop_error
/// when none is running.
inline event_loop& get_running_loop() {
    event_loop* loop = detail::running_loop_slot();
    if (loop == nullptr) {
        throw event_loop_error("aio::get_running_loop: no running event loop on this thread");
    }
    return *loop;
}

class event_loop final : private detail::loop_core {
public:
    using loop_core::clock;
    using loop_core::time_point;

    /// A loop on real time. Its poller's OS resources (epoll: three fds) are made here; if they
    /// cannot be, std::system_error.
    event_loop() { observe_from_environment(); }
    /// A loop on virtual time (see detail/loop_clock.hpp): the clock moves only through
    /// advance() or, with autojump, to the next timer when nothing is ready and no outside work
    /// is pending.
    explicit event_loop(virtual_time_t v) : loop_core(v) { observe_from_environment(); }
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;
    ~event_loop() { close_now(); }

    // ---- running ----------------------------------------------------------------------------
    /// Runs the loop until `t` finishes; returns its value or rethrows its exception.
    /// A loop that cannot run (closed, already running, another loop running) throws
    /// event_loop_error first: `t` is then destroyed unrun.
    template <class T>
    T run_until_complete(task<T> t,
                         creation_site where = creation_site::here()) {
        running_scope scope(*this);
        task_handle<T> main = create_task(std::move(t), {}, where);
        run_until_done(main.root());
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return main.result();
        } else {
            return T(std::move(main.promise()).result());
        }
    }

    /// Runs the loop until the task behind `t` (one of this loop's) finishes, as
    /// loop.run_until_complete(task) does; returns what t.result() does (a reference into the
    /// task's shared result) or rethrows its exception.
    template <class T>
    decltype(auto) run_until_complete(const task_handle<T>& t) {
        running_scope scope(*this);
        if (!t.valid() || t.root().m_loop != as_root_owner()) {
            throw event_loop_error(
                "aio::event_loop::run_until_complete: the handle is not a task of this loop");
        }
        run_until_done(t.root());
        return t.result();
    }

    /// Runs until stop() is called.
    void run_forever() {
        running_scope scope(*this);
        do {  // a stop() that came first still lets one iteration run, as in asyncio
            run_once();
        } while (!m_stopping);
        m_stopping = false;
    }

    /// Makes run_forever() return after the current iteration. From another thread, use
    /// call_soon_threadsafe([&loop] { loop.stop(); }).
    void stop() {
        check_thread("stop");
        m_stopping = true;
    }
    using loop_core::is_running;
    [[nodiscard]] bool is_closed() const noexcept { return m_closed; }

    /// Drops everything still pending (see the header comment); the loop cannot run again.
    void close() {
        check_thread("close");
        if (is_running()) {
            throw event_loop_error("aio::event_loop::close: cannot close a running event loop");
        }
        close_now();
    }

    // ---- tasks --------------------------------------------------------------------------------
    /// Schedules `t` to start on the next iteration and returns a handle to it
    /// (loop.create_task). The loop keeps the task alive until it finishes.
    ///
    /// `name` names the task (Task.get_name(); empty: the default "Task-N", N counting the
    /// tasks made on this thread). In debug mode the loop also remembers `where` it was created,
    /// for its reports (asyncio's Task._source_traceback).
    template <class T>
    task_handle<T> create_task(task<T> t, std::string_view name = {},
                               creation_site where = creation_site::here()) {
        check_open("create_task");
        t.check_runnable("aio::event_loop::create_task");
        m_ready.reserve(2);  // may throw: do it before taking ownership
        if (const std::size_t moved = m_tasks.reserve_one()) {
            move_queued_starts(moved);
        }
        detail::task_root& root = t.handle().promise().make_root(this);
        root.m_ident = detail::next_task_serial();  // the N of "Task-N", in creation order
        if (!name.empty() || m_debug_mode) [[unlikely]] {
            remember(root, name, where);  // may throw: then `t` destroys the frame unregistered
        }
        auto coro = t.release();
        root.m_refs = 2;  // the loop's reference and the handle's
        root.m_registered = true;
        const std::size_t slot = m_tasks.next_slot();
        m_tasks.add(root);
        queue_start(slot);
        return task_handle<T>(coro);
    }
    /// Tasks created on this loop that have not finished yet (len(asyncio.all_tasks())).
    [[nodiscard]] std::size_t pending_tasks() const noexcept { return m_tasks.size(); }
    /// Those tasks, in creation order (asyncio.all_tasks()).
    [[nodiscard]] std::vector<any_task_handle> all_tasks() const {
        std::vector<any_task_handle> out;
        out.reserve(m_tasks.size());
        m_tasks.for_each_live([&out](detail::task_root& root) { out.emplace_back(root); });
        return out;
    }
    /// Prints every pending task, in creation order: its name, where it was created (if
    /// recorded), what it waits on, and indented under it the tasks it waits for, and so on
    /// (asyncio's Task.print_stack for all tasks; aiomonitor's `ps`). tasks_report() is the
    /// same text.
    void print_tasks(std::FILE* out = stderr) const {
        const std::string text = tasks_report();
        std::fputs(text.c_str(), out);
        std::fflush(out);
    }
    [[nodiscard]] std::string tasks_report() const {
        return detail::dump_tasks(m_tasks.live());
    }
    /// Requests cancellation of every pending task; returns how many were asked. The pending
    /// list is copied first, because a cancellation may finish tasks and reshape the loop's
    /// list; if that copy throws std::bad_alloc, no task has been asked yet.
    std::size_t cancel_all() {
        check_thread("cancel_all");
        std::vector<detail::task_root*> tasks = m_tasks.live();
        for (detail::task_root* root : tasks) {
            root->add_ref();
        }
        for (detail::task_root* root : tasks) {
            root->request_cancel();
            root->drop_ref();
        }
        return tasks.size();
    }

    /// Cancels every pending task and runs the loop until they have all finished their
    /// cleanup (what asyncio.run does before closing its loop). Returns how many were cancelled.
    std::size_t shutdown_tasks() {
        const std::size_t cancelled = cancel_all();
        running_scope scope(*this);
        while (!m_tasks.empty() &&
               (!m_ready.empty() || !m_timers.empty() || outside_work_pending())) {
            run_once();
        }
        return cancelled;
    }

    // ---- callbacks and time ---------------------------------------------------------------
    template <class F>
    callback_handle call_soon(F&& f) {
        check_open("call_soon");
        detail::callback_owner node = make_callback(std::forward<F>(f));
        m_ready.push(detail::make_ready_item(node.get(), detail::ready_kind::callback));
        return callback_handle(node.release());  // the queue holds the loop's reference now
    }
    /// Schedules `f` to run on the loop's thread at its next iteration, and wakes the loop if
    /// it is blocked (loop.call_soon_threadsafe). The one member safe to call from any thread
    /// (not from a signal handler: it allocates and locks). Callbacks from one thread run in
    /// the order of the calls. On a closed loop: event_loop_error, and `f` is dropped unrun.
    template <class F>
    void call_soon_threadsafe(F&& f) {
        detail::callback_owner node = make_callback(std::forward<F>(f));
        if (!m_inbox.push(node, [this]() noexcept { wake(); })) {
            closed("call_soon_threadsafe");
        }
    }
    template <class F>
    callback_handle call_at(time_point when, F&& f) {
        check_open("call_at");
        detail::callback_owner node = make_callback(std::forward<F>(f));
        node->m_timer.m_deadline = when;
        node->m_timer.m_target = detail::make_ready_item(node.get(), detail::ready_kind::callback);
        node->m_queue = &m_timers;
        push_timer(node->m_timer);  // strong guarantee: on failure the node is freed
        return callback_handle(node.release());
    }
    template <class Rep, class Period, class F>
    callback_handle call_later(std::chrono::duration<Rep, Period> delay, F&& f) {
        return call_at(deadline_after(delay), std::forward<F>(f));
    }
    // ---- signals (POSIX; the epoll poller only) ---------------------------------------------
    /// Runs `f` on this loop's thread, as a callback at the loop's next iteration, once per
    /// delivery of `sig` (loop.add_signal_handler); replaces this loop's handler for `sig`. A
    /// signal belongs to one loop at a time: another loop's is event_loop_error. A number out
    /// of range, SIGKILL, SIGSTOP and the fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL) are
    /// std::invalid_argument; with the portable poller, std::system_error.
    template <class F>
    void add_signal_handler(int sig, F&& f) {
        check_open("add_signal_handler");
        m_signals.add(sig, make_callback(std::forward<F>(f)), true);
    }
    /// Removes this loop's handler for `sig` and puts back the disposition it replaced; false
    /// if there was none (loop.remove_signal_handler).
    bool remove_signal_handler(int sig) {
        check_thread("remove_signal_handler");
        return m_signals.remove(sig);
    }

    /// The loop's clock (loop.time()): std::chrono::steady_clock, never jumps; or, on virtual
    /// time, the virtual clock.
    using loop_core::time;
    /// Virtual time: moves the clock forward by `delay` at once; timers now due fire at the next
    /// iteration's timer pass (the next run if the loop is not running). A negative delay is
    /// std::invalid_argument; on real time, invalid_state_error.
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> delay) {
        m_clock.advance(delay);
    }
    [[nodiscard]] bool uses_virtual_time() const noexcept { return m_clock.is_virtual(); }

    /// asyncio's debug mode (also turned on by the environment variable AIO_DEBUG=1, as
    /// PYTHONASYNCIODEBUG): reports each step slower than slow_callback_duration with the
    /// task's name and creation site, names the task in "exception was never retrieved" and
    /// "destroyed but it is pending", checks that the loop's methods are called from its
    /// thread, and prints the pending tasks (print_tasks) when run_until_complete finds a
    /// deadlock. Off, it costs one predictable branch per step.
    void set_debug(bool enabled) noexcept;
    [[nodiscard]] bool get_debug() const noexcept { return m_debug_mode; }
    /// In debug mode, a single step slower than this is reported (asyncio's
    /// slow_callback_duration, 100 ms by default).
    clock::duration slow_callback_duration = std::chrono::milliseconds(100);

    // ---- tracing (<aio/trace.hpp>) ---------------------------------------------------------
    /// Writes a trace of every step from now on to `path`, in Chrome's Trace Event JSON (opens
    /// in Perfetto and chrome://tracing): a track per task, a slice per step and per wait, and
    /// arrows from a step to the steps of the tasks it woke. Also started by the environment
    /// variable AIO_TRACE=path. std::system_error if the file cannot be written. Defined in
    /// <aio/trace.hpp>: include it to call these.
    void start_trace(const std::string& path);
    /// Ends the trace and closes its file (also done by close()); nothing if none is running.
    void stop_trace();
    [[nodiscard]] bool is_tracing() const noexcept { return m_observer.tracer != nullptr; }

    // ---- threads (<aio/to_thread.hpp>) -------------------------------------------------------
    /// Runs `f(args...)` on `executor` (nullptr: the loop's default executor, a thread_pool made
    /// on first use) and returns an awaitable for its result (loop.run_in_executor). The job is
    /// submitted at once. Defined in <aio/to_thread.hpp>: include it to call this.
    template <class F, class... Args>
    auto run_in_executor(detail::thread_pool* executor, F&& f, Args&&... args);
    /// Waits, without blocking the loop, until the default executor's jobs have run and its
    /// threads have ended; to_thread and run_in_executor(nullptr, ...) are refused from the call
    /// on (loop.shutdown_default_executor). aio::run does it before closing its loop; close()
    /// waits for those jobs too, blocking.
    task<> shutdown_default_executor() {
        check_open("shutdown_default_executor");
        m_default_executor_shut_down = true;
        if (m_executor == nullptr) {
            return nothing_to_shut_down();
        }
        return m_executor->shutdown_default(*this);
    }
    /// Outside work: a thread of the program's own that will hand the loop work through
    /// call_soon_threadsafe announces it, so that a loop on virtual time neither autojumps nor
    /// reports a deadlock meanwhile: external_begin() (any thread) before the work starts,
    /// external_end() after its last hand-in (see detail/loop_core.hpp).
    using loop_core::external_begin;
    using loop_core::external_end;

private:
    friend detail::loop_core& detail::core_of(event_loop& loop) noexcept;

    class running_scope {
    public:
        explicit running_scope(event_loop& loop) : m_loop(loop) {
            loop.check_open("run");
            if (loop.is_running()) {
                throw event_loop_error("aio::event_loop: this event loop is already running");
            }
            if (detail::running_loop_slot() != nullptr) {
                throw event_loop_error(
                    "aio::event_loop: cannot run an event loop while another loop is running");
            }
            detail::running_loop_slot() = &loop;
            loop.m_running.store(true, detail::memory_order_relaxed);
        }
        ~running_scope() {
            m_loop.m_running.store(false, detail::memory_order_relaxed);
            detail::running_loop_slot() = nullptr;
        }
        running_scope(const running_scope&) = delete;
        running_scope& operator=(const running_scope&) = delete;

    private:
        event_loop& m_loop;
    };

    void run_until_done(detail::task_root& main);
    // ---- debug mode and tracing (detail/event_loop_impl.hpp) ----
    void observe_from_environment();
    static void remember(detail::task_root& root, std::string_view name,
                         const creation_site& where) {
        try {
            detail::task_info_table::instance().set(root, name, where);
        } catch (...) {  // the frame goes unrun: nothing to report about it
            root.m_debug = false;
            root.m_observed = false;
            throw;
        }
    }
    // m_observing = debug mode or a trace; every pending task's flags follow.
    void update_observing() noexcept;
    // Runs one step (a dispatch or a task's start) timing it and noting which task it ran.
    // `item`: the ready item the step runs (0: a task's start).
    template <class F>
    void observed_step(F&& step, std::uintptr_t item);
    void after_step(std::uintptr_t item);
    void report_deadlock() const noexcept;
    static task<> nothing_to_shut_down() { co_return; }
    void run_once();
    void idle_virtual(time_point deadline);
    // What other threads handed in, onto the ready queue (see thread_inbox.hpp).
    void take_incoming() {
        if (m_inbox.pending()) [[unlikely]] {
            drain_inbox();
        }
        if (m_signals.pending()) [[unlikely]] {
            take_signals();
        }
    }
    void take_signals();
    void drain_inbox();
    // Outside work that will hand the loop work later, or already has (read the counter
    // first: external_end() comes after its hand-in); a task parked on an fd waits for such too.
    [[nodiscard]] bool outside_work_pending() const noexcept {
        return external_pending() != 0 || m_inbox.pending() || m_io_waiters != 0;
    }
    void dispatch(std::uintptr_t item);
    void start_tasks(std::size_t first, std::size_t count);
    void start_task(detail::task_root& root);

    // m_tasks squeezed out finished slots: the unstarted tasks moved down by `moved` slots.
    void move_queued_starts(std::size_t moved) noexcept;
    // Queues the first step of the task in slot `slot` of m_tasks (detail/event_loop_impl.hpp).
    void queue_start(std::size_t slot) noexcept;
    void close_now() noexcept;
    // m_ready.pushed() right after the last run of starts (no_mark: none may grow)
    std::size_t m_start_run_mark = detail::ready_queue::no_mark;
    std::size_t m_starting_next = 0;   // the run start_tasks is in: its next slot and its end
    std::size_t m_starting_end = 0;
    bool m_stopping = false;
    bool m_default_executor_shut_down = false;
};

namespace detail {
inline loop_core& core_of(event_loop& loop) noexcept {
    return loop;
}
}  // namespace detail

/// Schedules `t` on the running loop (asyncio.create_task); `name` as event_loop::create_task.
template <class T>
task_handle<T> create_task(task<T> t, std::string_view name = {},
                           creation_site where = creation_site::here()) {
    return get_running_loop().create_task(std::move(t), name, where);
}

}  // namespace aio

#include "detail/event_loop_impl.hpp"

#endif
