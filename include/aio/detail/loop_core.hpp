// SPDX-License-Identifier: MIT
// loop_core: the event loop's state and the members its awaiters use — what asyncio keeps in
// the loop's private half (_ready, _scheduled, _selector, _add_callback, _timer_handle_cancelled)
// and in the Future/Handle objects it hands around.
//
// aio::event_loop derives from it privately, so a user sees asyncio's API and nothing else;
// the library's awaiters (sleep, suspension, wait_for, to_thread…) reach the core through
// detail::core_of(loop), or from a task's root through loop_core::of(root.m_loop). Everything
// here belongs to the loop's thread except wake() and external_begin()/external_end().
#ifndef AIO_DETAIL_LOOP_CORE_HPP_INCLUDED
#define AIO_DETAIL_LOOP_CORE_HPP_INCLUDED

#include "../errors.hpp"
#include "../task.hpp"
#include "callback.hpp"
#include "io_events.hpp"
#include "loop_clock.hpp"
#include "owning_ptr.hpp"
#include "poller.hpp"
#include "ready_queue.hpp"
#include "signals.hpp"
#include "step_observer.hpp"
#include "sync.hpp"
#include "task_registry.hpp"
#include "thread_inbox.hpp"
#include "timer_queue.hpp"

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio {

class event_loop;

namespace detail {

class thread_pool;  // thread_pool.hpp

/// The loop's side of to_thread / run_in_executor, made on their first use. <aio/to_thread.hpp>
/// implements it, so that the loop's headers do not pull <thread> into every program.
class executor_service {
public:
    executor_service() = default;
    executor_service(const executor_service&) = delete;
    executor_service& operator=(const executor_service&) = delete;
    virtual ~executor_service() = default;
    /// loop.shutdown_default_executor(): a task that waits, without blocking the loop, until the
    /// default executor's jobs have run and its threads have ended.
    virtual task<> shutdown_default(event_loop& loop) = 0;
    /// The loop closes: from now on no job's completion reaches it.
    virtual void detach() noexcept = 0;
    /// The loop has closed: waits for the default executor's jobs and threads (blocking).
    virtual void join() noexcept = 0;
};

// why a function-local thread_local: constant-initialised, so reading it costs a TLS load
// and no guard; it is read afresh each time, never cached across a suspension.
inline event_loop*& running_loop_slot() noexcept {
    thread_local event_loop* loop = nullptr;
    return loop;
}

class loop_core;
/// The core of `loop` (defined in event_loop.hpp, whose private base it is).
loop_core& core_of(event_loop& loop) noexcept;

/// An fd registered with a loop's poller (detail/fd_watch.hpp builds on it): the poller's
/// reports for the fd come to `m_on_events`, on the loop's thread, in run_once. The loop keeps
/// the registered watches on a list, so that closing it detaches those still registered.
class io_watch {
public:
    using events_fn = void (*)(io_watch& self, io_events events) noexcept;
    io_watch(const io_watch&) = delete;
    io_watch& operator=(const io_watch&) = delete;

protected:
    explicit io_watch(events_fn on_events) noexcept : m_on_events(on_events) {}
    ~io_watch() = default;

    /// The loop whose poller watches the fd; nullptr when none does (or that loop closed).
    [[nodiscard]] loop_core* watching_loop() const noexcept { return m_loop; }

private:
    friend class loop_core;
    events_fn m_on_events;
    loop_core* m_loop = nullptr;
    io_watch* m_prev = nullptr;  // the loop's list of registered watches
    io_watch* m_next = nullptr;
};

class loop_core : public root_owner {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    loop_core(const loop_core&) = delete;
    loop_core& operator=(const loop_core&) = delete;

    /// The loop behind a root's loop pointer, and back.
    static loop_core& of(root_owner& owner) noexcept { return static_cast<loop_core&>(owner); }
    [[nodiscard]] root_owner* as_root_owner() noexcept { return this; }

    [[nodiscard]] time_point time() const noexcept { return m_clock.now(); }
    /// `now + delay`, rounded up to the clock's tick and saturated: a sleep never wakes early
    /// and an enormous delay means "forever" instead of overflowing.
    template <class Rep, class Period>
    time_point deadline_after(std::chrono::duration<Rep, Period> delay) const {
        return saturating_deadline(time(), delay);
    }

    // ---- the ready queue and the timers --------------------------------------------------
    // why final: awaiters call these through a loop_core&, and final lets the compiler make
    // that a direct, inlined call instead of a virtual one.
    /// Queues a coroutine to resume on the next iteration.
    void schedule(std::coroutine_handle<> h) final {
        m_ready.push(make_ready_item(h.address(), ready_kind::resume));
    }
    void add_timer(timer_node& node) { push_timer(node); }
    /// A parked timer is cancelled: takes it out and queues its target now. False if it fired
    /// already (the target is queued).
    bool interrupt_timer(timer_node& node) final {
        if (!node.linked()) {
            return false;
        }
        m_timers.remove(node);
        m_ready.push(node.m_target);
        return true;
    }
    void remove_timer(timer_node& node) noexcept { m_timers.remove(node); }
    // Debug mode or a trace (step_observer.hpp).
    void observe_step(task_root& root) noexcept final { m_observer.noted(root); }
    void observe_destroy(task_root& root) noexcept final {
        m_observer.destroyed(root, m_debug_mode);
    }
    [[nodiscard]] std::size_t timer_count() const noexcept { return m_timers.size(); }
    /// A timer due by `t` may still be waiting in the timer queue (a yield queued now would
    /// run before it); false only if certainly none is.
    [[nodiscard]] bool timer_due_by(time_point t) const noexcept {
        return !m_timers.empty() && m_timers.next_deadline() <= t;
    }

    // ---- outside work: threads, signals ---------------------------------------------------
    /// Ends the poller's current or next wait (any thread).
    void wake() noexcept { m_poller.wake(); }
    /// Outside work: something outside the loop (a worker thread running a to_thread job, an fd
    /// wait) that will later hand the loop work through call_soon_threadsafe. While any is
    /// pending, a loop on virtual time does not autojump nor report a deadlock: it blocks in
    /// its poller until woken. external_begin() on any thread before the work starts;
    /// external_end() once the work is over and its result has been handed in (ending first
    /// could let the loop jump or report a deadlock in between): simplest from the handed-in
    /// callback itself, on the loop's thread; from another thread, the loop must still exist.
    void external_begin() noexcept { m_external.fetch_add(1, memory_order_relaxed); }
    void external_end() noexcept {
        if (m_external.fetch_sub(1, memory_order_acq_rel) == 1) {
            wake();  // a loop waiting for the last outside work looks again
        }
    }
    [[nodiscard]] std::size_t external_pending() const noexcept {
        return m_external.load(memory_order_acquire);
    }
    /// A signal handler that no task waits for (aio::run's SIGINT): unlike add_signal_handler's,
    /// it does not keep a loop on virtual time from reporting a deadlock.
    template <class F>
    void add_internal_signal_handler(int sig, F&& f) {
        check_open("add_signal_handler");
        m_signals.add(sig, make_callback(std::forward<F>(f)), false);
    }
    /// The loop's executor service (see executor_service), or nullptr before the first
    /// to_thread / run_in_executor.
    [[nodiscard]] detail::executor_service* executor_service() const noexcept {
        return m_executor.get();
    }
    void set_executor_service(owning_ptr<detail::executor_service> service) noexcept {
        m_executor = std::move(service);
    }

    [[nodiscard]] bool is_running() const noexcept { return m_running.load(memory_order_relaxed); }

    // ---- fds (detail/fd_watch.hpp) ----------------------------------------------------------
    /// Registers `fd` with the poller for `interest`; its reports go to `w` until unwatch_fd.
    void watch_fd(int fd, io_events interest, io_watch& w) {
        check_open("watch an fd");
        m_poller.add(fd, interest, &w);
        w.m_loop = this;
        w.m_prev = nullptr;
        w.m_next = m_watches;
        if (m_watches != nullptr) {
            m_watches->m_prev = &w;
        }
        m_watches = &w;
    }
    /// Changes what a registered fd is watched for (re-reports what is ready already).
    void rewatch_fd(int fd, io_events interest, io_watch& w) { m_poller.modify(fd, interest, &w); }
    /// Unregisters `fd` (before it is closed).
    void unwatch_fd(int fd, io_watch& w) {
        unlink_watch(w);
        m_poller.remove(fd);
    }
    /// A task parks on / leaves an fd: while any is parked the loop hears its poller even when
    /// busy, and a loop on virtual time counts it as outside work (no autojump, no deadlock).
    void io_wait_begin() noexcept { ++m_io_waiters; }
    void io_wait_end() noexcept { --m_io_waiters; }
    [[nodiscard]] std::size_t io_waiters() const noexcept { return m_io_waiters; }

protected:
    loop_core() = default;
    explicit loop_core(virtual_time_t v) : m_clock(v) {}
    ~loop_core() = default;

    /// A created task finished or was abandoned: the loop forgets it and drops its reference.
    void forget_task(task_root& root) noexcept final {
        m_tasks.remove(root);
        root.drop_ref();
    }

    void unlink_watch(io_watch& w) noexcept {
        (w.m_prev != nullptr ? w.m_prev->m_next : m_watches) = w.m_next;
        if (w.m_next != nullptr) {
            w.m_next->m_prev = w.m_prev;
        }
        w.m_prev = w.m_next = nullptr;
        w.m_loop = nullptr;
    }
    /// The loop closes: every watch still registered forgets it (its poller goes with it).
    void detach_watches() noexcept {
        while (m_watches != nullptr) {
            unlink_watch(*m_watches);
        }
    }
    /// Hands the poller's report for one fd to its watch (the poller's sink; see fd_watch.hpp).
    static void deliver_io(void* data, io_events events) noexcept {
        auto* w = static_cast<io_watch*>(data);
        w->m_on_events(*w, events);
    }

    void push_timer(timer_node& node) {
        m_timers.push(node, [this]() noexcept { return time(); });
    }
    template <class F>
    static callback_owner make_callback(F&& f) {
        return callback_owner(new callback_impl<std::decay_t<F>>(std::forward<F>(f)));
    }

    void check_open(const char* what) const {
        check_thread(what);
        if (m_closed) [[unlikely]] {
            closed(what);
        }
    }
    // asyncio's debug check (BaseEventLoop._check_thread), in debug mode and in builds
    // without NDEBUG: a running loop's methods belong to its thread, whose running-loop slot
    // points at it.
    void check_thread(const char* what) const {
#ifdef NDEBUG
        if (!m_debug_mode) [[likely]] {
            return;
        }
#endif
        if (is_running()) {
            event_loop* const running = running_loop_slot();
            if (running == nullptr || &core_of(*running) != this) [[unlikely]] {
                wrong_thread(what);
            }
        }
    }
    [[noreturn, gnu::noinline]] static void wrong_thread(const char* what) {
        throw event_loop_error(
            std::string("aio::event_loop::") + what +
            ": Non-thread-safe operation invoked on an event loop other than the current one "
            "(only call_soon_threadsafe may be called from another thread)");
    }
    [[noreturn, gnu::noinline]] static void closed(const char* what) {
        throw event_loop_error(std::string("aio::event_loop::") + what +
                               ": the event loop is closed");
    }

    ready_queue m_ready;
    timer_queue m_timers;
    task_registry m_tasks;  // pending created tasks (asyncio.all_tasks)
    loop_clock m_clock;
    poller m_poller;                      // the blocking wait; wake() from any thread
    thread_inbox m_inbox;                 // call_soon_threadsafe's callbacks
    signal_handlers m_signals{m_poller};  // add_signal_handler's (wakes m_poller)
    atomic<std::size_t> m_external{0};    // outside work pending (external_begin/end)
    atomic<bool> m_running{false};        // atomic for the debug check from other threads
    bool m_closed = false;
    owning_ptr<detail::executor_service> m_executor;  // made by the first to_thread
    io_watch* m_watches = nullptr;                    // fds registered with m_poller
    std::size_t m_io_waiters = 0;                     // tasks parked on an fd
    step_observer m_observer;                         // debug mode and tracing: what each step ran
};

/// "in 0.250 s" or "0.100 s ago", from the loop's clock (for wait descriptions).
inline std::string seconds_from(const loop_core* loop, clock::time_point t) {
    if (loop == nullptr) {
        return "at a time not known yet";
    }
    // in floating point: t may be time_point::min() (a yield) or max(), far from "now"
    using seconds = std::chrono::duration<double>;
    const double s =
        seconds(t.time_since_epoch()).count() - seconds(loop->time().time_since_epoch()).count();
    char text[48];
    std::snprintf(text, sizeof text, s >= 0 ? "in %.3f s" : "%.3f s ago", s >= 0 ? s : -s);
    return text;
}

}  // namespace detail
}  // namespace aio

#endif
