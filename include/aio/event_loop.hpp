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
// One iteration: wait (blocking, no spinning) until the ready queue has work or the earliest
// timer is due; move every expired timer's coroutine to the ready queue; run exactly the items
// that were ready when the iteration began (so a task that keeps yielding cannot starve the
// others — asyncio's `ntodo`).
//
// Time: loop.time() is steady_clock, or virtual time for tests (`event_loop loop{virtual_time}`,
// see detail/loop_clock.hpp): every sleep, timeout and call_later reads the loop's clock.
//
// Lifetime rules: the loop owns every created task until it finishes. close() (or the
// destructor) drops what is still pending: frames are destroyed as soon as no handle refers to
// them, nothing leaks, and in debug mode each is reported. Only the thread-local "running loop"
// pointer is global, and only while run_* executes.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_EVENT_LOOP_HPP_INCLUDED
#define AIO_EVENT_LOOP_HPP_INCLUDED

#include "detail/callback.hpp"
#include "detail/idle_wait.hpp"
#include "detail/loop_clock.hpp"
#include "detail/ready_queue.hpp"
#include "detail/task_registry.hpp"
#include "detail/timer_queue.hpp"
#include "errors.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

class event_loop;

namespace detail {
// why a function-local thread_local: constant-initialised, so reading it costs a TLS load
// and no guard; it is read afresh each time, never cached across a suspension.
inline event_loop*& running_loop_slot() noexcept {
    thread_local event_loop* loop = nullptr;
    return loop;
}
} // namespace detail

/// The loop running on this thread (asyncio.get_running_loop()); throws event_loop_error
/// when none is running.
inline event_loop& get_running_loop() {
    event_loop* loop = detail::running_loop_slot();
    if (loop == nullptr) {
        throw event_loop_error("aio::get_running_loop: no running event loop on this thread");
    }
    return *loop;
}

class event_loop final : private detail::root_owner {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    event_loop() = default;
    /// A loop on virtual time (see detail/loop_clock.hpp): the clock moves only through
    /// advance() or, with autojump, to the next timer when nothing is ready.
    explicit event_loop(virtual_time_t v) noexcept : m_clock(v) {}
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;
    ~event_loop() { close_now(); }

    // ---- running ----------------------------------------------------------------------------
    /// Runs the loop until `t` finishes; returns its value or rethrows its exception.
    /// A loop that cannot run (closed, already running, another loop running) throws
    /// event_loop_error first: `t` is then destroyed unrun.
    template <class T>
    T run_until_complete(task<T> t) {
        running_scope scope(*this);
        task_handle<T> main = create_task(std::move(t));
        run_until_done(main.root());
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return main.result();
        } else {
            return T(std::move(main.promise()).result());
        }
    }

    /// Runs until stop() is called.
    void run_forever() {
        running_scope scope(*this);
        do {  // a stop() that came first still lets one iteration run, as in asyncio
            run_once();
        } while (!m_stopping);
        m_stopping = false;
    }

    /// Makes run_forever() return after the current iteration.
    void stop() noexcept { m_stopping = true; }
    [[nodiscard]] bool is_running() const noexcept { return m_running; }
    [[nodiscard]] bool is_closed() const noexcept { return m_closed; }

    /// Drops everything still pending (see the header comment); the loop cannot run again.
    void close() {
        if (m_running) {
            throw event_loop_error("aio::event_loop::close: cannot close a running event loop");
        }
        close_now();
    }

    // ---- tasks --------------------------------------------------------------------------------
    /// Schedules `t` to start on the next iteration and returns a handle to it
    /// (loop.create_task). The loop keeps the task alive until it finishes.
    template <class T>
    task_handle<T> create_task(task<T> t) {
        check_open("create_task");
        t.check_runnable("aio::event_loop::create_task");
        m_ready.reserve(2);  // may throw: do it before taking ownership
        if (const std::size_t moved = m_tasks.reserve_one()) {
            move_queued_starts(moved);
        }
        auto coro = t.release();
        detail::task_root& root = coro.promise().make_root(this);
        root.m_refs = 2;  // the loop's reference and the handle's
        root.m_registered = true;
        root.m_debug = m_debug;
        const std::size_t slot = m_tasks.next_slot();
        m_tasks.add(root);
        queue_start(slot);
        return task_handle<T>(coro);
    }
    /// Tasks created on this loop that have not finished yet (len(asyncio.all_tasks())).
    [[nodiscard]] std::size_t pending_tasks() const noexcept { return m_tasks.size(); }
    /// Requests cancellation of every pending task; returns how many were asked. The pending
    /// list is copied first, because a cancellation may finish tasks and reshape the loop's
    /// list; if that copy throws std::bad_alloc, no task has been asked yet.
    std::size_t cancel_all() {
        std::vector<detail::task_root*> tasks = m_tasks.live();
        for (detail::task_root* root : tasks) {
            root->add_ref();
        }
        for (detail::task_root* root : tasks) {
            root->request_cancel();
            root->release();
        }
        return tasks.size();
    }

    /// Cancels every pending task and runs the loop until they have all finished their
    /// cleanup (what asyncio.run does before closing its loop). Returns how many were cancelled.
    std::size_t shutdown_tasks() {
        const std::size_t cancelled = cancel_all();
        running_scope scope(*this);
        while (!m_tasks.empty() && (!m_ready.empty() || !m_timers.empty())) {
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
    /// The loop's clock (loop.time()): std::chrono::steady_clock, never jumps; or, on virtual
    /// time, the virtual clock.
    [[nodiscard]] time_point time() const noexcept { return m_clock.now(); }
    /// Virtual time: moves the clock forward by `delay` at once; timers now due fire at the next
    /// iteration's timer pass (the next run if the loop is not running). A negative delay is
    /// std::invalid_argument; on real time, invalid_state_error.
    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> delay) {
        m_clock.advance(delay);
    }
    [[nodiscard]] bool uses_virtual_time() const noexcept { return m_clock.is_virtual(); }

    void set_debug(bool enabled) noexcept { m_debug = enabled; }
    [[nodiscard]] bool get_debug() const noexcept { return m_debug; }
    /// In debug mode, a single step slower than this is reported (asyncio's
    /// slow_callback_duration, 100 ms by default).
    clock::duration slow_callback_duration = std::chrono::milliseconds(100);

    // ---- for awaiters (sleep, gather): not part of the asyncio-facing API -------------------
    void schedule(std::coroutine_handle<> h) override {
        m_ready.push(detail::make_ready_item(h.address(), detail::ready_kind::resume));
    }
    void add_timer(detail::timer_node& node) { push_timer(node); }
    bool interrupt_timer(detail::timer_node& node) override {
        if (!node.linked()) {
            return false;  // it fired: the sleeper is queued already
        }
        m_timers.remove(node);
        m_ready.push(node.m_target);
        return true;
    }
    void remove_timer(detail::timer_node& node) noexcept { m_timers.remove(node); }
    [[nodiscard]] std::size_t timer_count() const noexcept { return m_timers.size(); }
    /// A timer due by `t` may still be waiting in the timer queue (a yield queued now would
    /// run before it); false only if certainly none is.
    [[nodiscard]] bool timer_due_by(time_point t) const noexcept {
        return !m_timers.empty() && m_timers.next_deadline() <= t;
    }
    /// The loop as a root's loop pointer, and back.
    [[nodiscard]] detail::root_owner* as_root_owner() noexcept { return this; }
    static event_loop& of(detail::root_owner& owner) noexcept {
        return static_cast<event_loop&>(owner);
    }

    /// `now + delay`, rounded up to the clock's tick and saturated: a sleep never wakes early
    /// and an enormous delay means "forever" instead of overflowing.
    template <class Rep, class Period>
    time_point deadline_after(std::chrono::duration<Rep, Period> delay) const {
        return detail::saturating_deadline(time(), delay);
    }

private:
    class running_scope {
    public:
        explicit running_scope(event_loop& loop) : m_loop(loop) {
            loop.check_open("run");
            if (loop.m_running) {
                throw event_loop_error("aio::event_loop: this event loop is already running");
            }
            if (detail::running_loop_slot() != nullptr) {
                throw event_loop_error(
                    "aio::event_loop: cannot run an event loop while another loop is running");
            }
            detail::running_loop_slot() = &loop;
            loop.m_running = true;
        }
        ~running_scope() {
            m_loop.m_running = false;
            detail::running_loop_slot() = nullptr;
        }
        running_scope(const running_scope&) = delete;
        running_scope& operator=(const running_scope&) = delete;

    private:
        event_loop& m_loop;
    };

    void run_until_done(detail::task_root& main) {
        while (!main.done()) {
            if (m_stopping) {
                m_stopping = false;
                throw event_loop_error(
                    "aio::event_loop::run_until_complete: the loop was stopped before the task "
                    "completed");
            }
            if (m_ready.empty() && m_timers.empty()) {
                throw event_loop_error(
                    "aio::event_loop::run_until_complete: deadlock: the task is waiting but "
                    "nothing is scheduled that could wake it");
            }
            run_once();
        }
    }

    void run_once();
    void idle_virtual(time_point deadline);
    void push_timer(detail::timer_node& node) {
        m_timers.push(node, [this]() noexcept { return time(); });
    }
    void dispatch(std::uintptr_t item);
    void start_tasks(std::size_t first, std::size_t count);
    void start_task(detail::task_root& root);

    // m_tasks squeezed out finished slots: the unstarted tasks moved down by `moved` slots.
    void move_queued_starts(std::size_t moved) noexcept {
        if (m_starting_next < m_starting_end) {  // the run start_tasks is going through
            m_starting_next -= moved;
            m_starting_end -= moved;
        }
        for (std::size_t k = 0; k < m_ready.size(); ++k) {
            std::uintptr_t& item = m_ready.at(k);
            if (detail::kind_of(item) == detail::ready_kind::start_task) {
                item -= static_cast<std::uintptr_t>(moved) << 2;
                ++k;  // the count
            }
        }
    }

    // Queues the first step of the task in slot `slot` of m_tasks: extends the run of starts
    // at the back of the ready queue if it was queued last and ends right before `slot`
    // (see ready_queue.hpp). Room for two items was reserved.
    void queue_start(std::size_t slot) noexcept {
        if (m_ready.pushed() == m_start_run_mark) {
            std::uintptr_t& count = m_ready.from_back(0);
            if ((m_ready.from_back(1) >> 2) + count == slot) {
                ++count;
                return;
            }
        }
        m_ready.push((static_cast<std::uintptr_t>(slot) << 2) |
                     static_cast<std::uintptr_t>(detail::ready_kind::start_task));
        m_ready.push(1);
        m_start_run_mark = m_ready.pushed();
    }
    void close_now() noexcept;
    void release(detail::task_root& root) noexcept override;

    void check_open(const char* what) const {
        if (m_closed) [[unlikely]] {
            closed(what);
        }
    }
    [[noreturn, gnu::noinline]] static void closed(const char* what) {
        throw event_loop_error(std::string("aio::event_loop::") + what +
                               ": the event loop is closed");
    }

    template <class F>
    static detail::callback_owner make_callback(F&& f) {
        return detail::callback_owner(
            new detail::callback_impl<std::decay_t<F>>(std::forward<F>(f)));
    }

    detail::ready_queue m_ready;
    std::size_t m_start_run_mark = 0;  // m_ready.pushed() right after the last run of starts
    std::size_t m_starting_next = 0;   // the run start_tasks is in: its next slot and its end
    std::size_t m_starting_end = 0;
    detail::timer_queue m_timers;
    detail::task_registry m_tasks;  // pending created tasks (asyncio.all_tasks)
    detail::idle_wait m_idle;
    detail::loop_clock m_clock;
    bool m_running = false;
    bool m_stopping = false;
    bool m_closed = false;
    bool m_debug = false;
};

/// Schedules `t` on the running loop (asyncio.create_task).
template <class T>
task_handle<T> create_task(task<T> t) {
    return get_running_loop().create_task(std::move(t));
}

} // namespace aio

#include "detail/event_loop_impl.hpp"

#endif
