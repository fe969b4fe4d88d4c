// SPDX-License-Identifier: MIT
// event_loop's out-of-class members: one iteration, dispatching a ready item, and shutdown.
// Kept apart so that event_loop.hpp reads as the interface. event_loop.hpp includes this file
// at its end, so this file does not include it back (that would be an include cycle).
#ifndef AIO_DETAIL_EVENT_LOOP_IMPL_HPP_INCLUDED
#define AIO_DETAIL_EVENT_LOOP_IMPL_HPP_INCLUDED

#ifndef AIO_EVENT_LOOP_HPP_INCLUDED
#error "aio: include <aio/event_loop.hpp>, which includes detail/event_loop_impl.hpp at its end"
#endif
#include "prefetch.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace aio {

inline void event_loop::run_until_done(detail::task_root& main) {
    while (!main.done()) {
        if (m_stopping) {
            m_stopping = false;
            throw event_loop_error(
                "aio::event_loop::run_until_complete: the loop was stopped before the task "
                "completed");
        }
        // Only virtual time can prove that nothing will ever wake the task; on real time
        // another thread may still call call_soon_threadsafe (asyncio waits too).
        if (m_clock.is_virtual() && m_ready.empty() && m_timers.empty() &&
            !outside_work_pending() && !m_signals.wakes_tasks()) [[unlikely]] {
            report_deadlock();
            throw event_loop_error(
                "aio::event_loop::run_until_complete: deadlock: the task is waiting but "
                "nothing is scheduled that could wake it");
        }
        run_once();
    }
}

// m_tasks squeezed out finished slots: the unstarted tasks moved down by `moved` slots.
inline void event_loop::move_queued_starts(std::size_t moved) noexcept {
    if (m_starting_next < m_starting_end) {  // the run start_tasks is going through
        m_starting_next -= moved;
        m_starting_end -= moved;
    }
    for (std::size_t k = 0; k < m_ready.size(); ++k) {
        std::uintptr_t& item = m_ready.at(k);
        if (detail::kind_of(item) == detail::ready_kind::start_task) {
            item = detail::make_start_item(detail::start_slot_of(item) - moved);
            ++k;  // the count
        }
    }
}

// Queues the first step of the task in slot `slot` of m_tasks: extends the run of starts
// at the back of the ready queue if it was queued last and ends right before `slot`
// (see ready_queue.hpp). Room for two items was reserved.
inline void event_loop::queue_start(std::size_t slot) noexcept {
    if (m_ready.pushed() == m_start_run_mark) {
        std::uintptr_t& count = m_ready.from_back(0);
        if (detail::start_slot_of(m_ready.from_back(1)) + count == slot) {
            ++count;
            return;
        }
    }
    m_ready.push(detail::make_start_item(slot));
    m_ready.push(1);
    m_start_run_mark = m_ready.pushed();
}

inline void event_loop::run_once() {
    take_incoming();
    if (m_ready.empty() && !m_stopping) {
        // Idle: block in the poller until the earliest timer is due or another thread wakes
        // it (with no timer at all, only such a wake can). A deadline that has already passed
        // needs no wait (and no system call).
        const time_point deadline = m_timers.empty() ? time_point::max() : m_timers.next_deadline();
        if (m_clock.is_virtual()) [[unlikely]] {
            idle_virtual(deadline);
        } else if (deadline > clock::now()) {
            (void)m_poller.wait(deadline, &loop_core::deliver_io);
        }
        take_incoming();
    } else if (m_io_waiters != 0) {
        // Busy, with tasks parked on fds: look at the poller without blocking (asyncio's
        // select(timeout=0)), or a loop that always has work ready would never hear its fds.
        (void)m_poller.wait(time_point::min(), &loop_core::deliver_io);
    }
    if (!m_timers.empty()) {
        const time_point now = time();
        // why reserve first: a timer once popped must reach the ready queue; if memory runs
        // out, std::bad_alloc leaves run_once with that timer still queued
        for (m_ready.reserve(1); detail::timer_node* node = m_timers.pop_expired(now);
             m_ready.reserve(1)) {
            // why a hook runs here rather than from the queue: its owner (a wait_for, a wait)
            // may be destroyed before a queued item would run, and a queued item cannot be
            // taken back; a hook only cancels or schedules, so running it now is safe.
            if (detail::kind_of(node->m_target) == detail::ready_kind::hook) {
                auto* hook = static_cast<detail::ready_hook*>(detail::pointer_of(node->m_target));
                hook->m_fn(*hook);
            } else {
                m_ready.push(node->m_target);
            }
        }
    }
    // Only what was ready when the iteration began: work scheduled now waits for the next one
    // (and a run of starts queued before now must not grow: see queue_start).
    m_start_run_mark = detail::ready_queue::no_mark;
    for (std::size_t n = m_ready.size(); n > 0; --n) {
        const std::uintptr_t item = m_ready.pop();
        if (detail::kind_of(item) == detail::ready_kind::start_task) {
            --n;
            start_tasks(detail::start_slot_of(item), m_ready.pop());
            continue;
        }
        if (n > detail::prefetch_distance) {
            const std::uintptr_t ahead = m_ready.peek(detail::prefetch_distance);
            if (detail::kind_of(ahead) == detail::ready_kind::resume) {
                detail::prefetch_for_write(ahead, 128);  // the frame to resume soon
            }
        }
        if (m_observing) [[unlikely]] {
            observed_step([this, item] { dispatch(item); }, item);
        } else {
            dispatch(item);
        }
    }
}

// Idle on virtual time: nothing can pass the time but the loop itself, so jump to the next
// timer (autojump) instead of blocking; with nothing to jump to, blocking would hang forever.
// Unless outside work is pending (a thread's job, a task parked on an fd): its result may come
// before the next timer would, so block in the poller until it is handed in (or an fd is ready,
// or external_end() wakes the loop) and look again.
inline void event_loop::idle_virtual(time_point deadline) {
    if (deadline <= m_clock.now()) {
        return;
    }
    if (outside_work_pending()) {
        if (!m_inbox.pending()) {
            (void)m_poller.wait(time_point::max(), &loop_core::deliver_io);
        }
        return;
    }
    if (deadline == time_point::max() && m_signals.wakes_tasks()) {
        // Only a signal can end this wait (its handler may wake a task): block until one comes.
        (void)m_poller.wait(time_point::max(), &loop_core::deliver_io);
        return;
    }
    if (deadline == time_point::max() || !m_clock.autojump()) {
        if (deadline == time_point::max()) {
            report_deadlock();
        }
        throw event_loop_error(
            deadline == time_point::max()
                ? "aio::event_loop: deadlock: nothing is ready and no timer will ever expire, "
                  "so virtual time cannot move"
                : "aio::event_loop: nothing is ready and autojump is off: only advance() can "
                  "move virtual time, and nothing is left to call it");
    }
    m_clock.jump_to(deadline);
}

// Everything other threads handed in, in push order. The ready queue grows first: if that
// fails (std::bad_alloc), the callbacks stay in the inbox for the next iteration.
inline void event_loop::drain_inbox() {
    m_inbox.drain([this](detail::callback_node* const* nodes, std::size_t count) {
        m_ready.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            m_ready.push(detail::make_ready_item(nodes[i], detail::ready_kind::callback));
        }
    });
}

// One callback per signal delivery (see signals.hpp). The ready queue grows first: if that
// fails (std::bad_alloc), the deliveries not queued stay pending for the next iteration.
inline void event_loop::take_signals() {
    m_signals.take_pending([this](detail::callback_node& node) {
        m_ready.reserve(1);
        node.add_ref();
        m_ready.push(detail::make_ready_item(&node, detail::ready_kind::callback));
    });
}

// A run of first steps: the tasks in slots [first, first + count) of m_tasks, in order. The
// range is kept in members, as a task started here may create tasks, and so make m_tasks
// move its slots down (see move_queued_starts).
inline void event_loop::start_tasks(std::size_t first, std::size_t count) {
    m_starting_next = first;
    m_starting_end = first + count;
    while (m_starting_next < m_starting_end) {
        const std::size_t slot = m_starting_next++;
        if (slot + detail::prefetch_distance < m_starting_end) {
            if (const detail::task_root* ahead = m_tasks.at(slot + detail::prefetch_distance)) {
                detail::prefetch_for_write(
                    reinterpret_cast<std::uintptr_t>(ahead->coroutine().address()), 128);
            }
        }
        if (detail::task_root* root = m_tasks.at(slot)) {
            start_task(*root);
        }
    }
}

inline void event_loop::start_task(detail::task_root& root) {
    if (m_observing) [[unlikely]] {
        observed_step([&root] { root.start(); }, 0);
    } else {
        root.start();  // a created task: finish() schedules its waiters
    }
}

inline void event_loop::dispatch(std::uintptr_t item) {
    void* const p = detail::pointer_of(item);
    switch (detail::kind_of(item)) {
    case detail::ready_kind::resume:
        std::coroutine_handle<>::from_address(p).resume();
        break;
    case detail::ready_kind::start_task:
        break;  // handled by run_once (a run of starts takes two items)
    case detail::ready_kind::hook: {
        auto* hook = static_cast<detail::ready_hook*>(p);
        hook->m_fn(*hook);
        break;
    }
    case detail::ready_kind::callback: {
        auto* node = static_cast<detail::callback_node*>(p);
        if (!node->m_cancelled) {
            try {
                node->invoke();
            } catch (const keyboard_interrupt&) {  // ends the run, as asyncio lets it through
                node->drop_ref();
                throw;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "aio: exception in callback: %s\n", e.what());
            } catch (...) {
                std::fputs("aio: exception in callback (not a std::exception)\n", stderr);
            }
        }
        node->drop_ref();
        break;
    }
    }
}

// ---- debug mode and tracing ------------------------------------------------------------------

// AIO_DEBUG set to anything but "" or "0" turns debug mode on (asyncio's PYTHONASYNCIODEBUG);
// AIO_TRACE=path starts a trace, if the program includes <aio/trace.hpp> (which sets
// start_trace_from_environment), else it says why there is none.
inline void event_loop::observe_from_environment() {
    const char* const value = std::getenv("AIO_DEBUG");
    if (value != nullptr && value[0] != '\0' && !(value[0] == '0' && value[1] == '\0')) {
        set_debug(true);
    }
    const char* const trace = std::getenv("AIO_TRACE");
    if (trace != nullptr && trace[0] != '\0') {
        if (detail::start_trace_from_environment != nullptr) {
            detail::start_trace_from_environment(*this, trace);
        } else {
            std::fprintf(stderr,
                         "aio: AIO_TRACE is set, but this program does not include "
                         "<aio/trace.hpp>: no trace is written\n");
        }
    }
}

inline void event_loop::set_debug(bool enabled) noexcept {
    m_debug_mode = enabled;
    update_observing();
}

inline void event_loop::update_observing() noexcept {
    m_observing = m_debug_mode || m_observer.tracer != nullptr;
    m_tasks.for_each_live([this](detail::task_root& root) noexcept {
        root.m_debug = m_debug_mode;
        root.m_observed = m_observing;
    });
}

template <class F>
void event_loop::observed_step(F&& step, std::uintptr_t item) {
    m_observer.begin(m_ready, *as_root_owner());
    {
        detail::step_observer::step_scope scope(m_observer);
        step();
    }
    after_step(item);
}

inline void event_loop::after_step(std::uintptr_t item) {
    const clock::duration took = m_observer.end(item, m_ready);
    if (m_debug_mode && took > slow_callback_duration) {
        const double seconds = std::chrono::duration<double>(took).count();
        const std::string task = m_observer.step_task();
        if (!task.empty()) {
            std::fprintf(stderr, "aio: a step of %s took %.3f seconds\n", task.c_str(), seconds);
        } else if (item != 0 && detail::kind_of(item) == detail::ready_kind::callback) {
            std::fprintf(stderr, "aio: a callback took %.3f seconds\n", seconds);
        } else {
            std::fprintf(stderr, "aio: a task step took %.3f seconds (the task is not aio's)\n",
                         seconds);
        }
    }
}

// Debug mode: before run_until_complete reports a deadlock, who waits on what.
inline void event_loop::report_deadlock() const noexcept {
    if (!m_debug_mode) {
        return;
    }
    try {
        const std::string text = tasks_report();
        std::fprintf(stderr, "aio: deadlock: nothing can wake these tasks: %s", text.c_str());
    } catch (...) {  // no memory for the report: the exception that follows still says it
    }
}

inline void event_loop::close_now() noexcept {
    if (m_closed) {
        return;
    }
    m_closed = true;
    if (m_observer.tracer != nullptr) {
        m_observer.tracer.reset();  // the trace's end, written and closed
        update_observing();
    }
    if (m_executor != nullptr) {
        m_executor->detach();  // first: no job's completion may reach the loop from now on
    }
    m_signals.remove_all();  // each signal's previous disposition back
    m_inbox.close();         // later call_soon_threadsafe calls throw; queued ones are dropped
    const auto drop_callback = [](std::uintptr_t item) noexcept {
        if (detail::kind_of(item) == detail::ready_kind::callback) {
            static_cast<detail::callback_node*>(detail::pointer_of(item))->drop_ref();
        }
    };
    // 1. Forget queued work. 2. Unlink every timer, so that the sleeping frames destroyed below
    // do not touch the timer queue. 3. Detach every pending task from the loop (see
    // task_root::detach): handles may outlive the loop. 4. Drop the loop's reference to each:
    // a frame nobody else holds is destroyed now, the rest when their last handle goes.
    while (!m_ready.empty()) {
        const std::uintptr_t item = m_ready.pop();
        if (detail::kind_of(item) == detail::ready_kind::start_task) {
            (void)m_ready.pop();  // the count; the tasks themselves are in m_tasks
        } else {
            drop_callback(item);
        }
    }
    m_timers.clear([&](detail::timer_node& node) noexcept { drop_callback(node.m_target); });
    const detail::task_registry tasks = m_tasks.take_all();
    tasks.for_each_live([](detail::task_root& root) noexcept { root.detach(); });
    tasks.for_each_live([](detail::task_root& root) noexcept { root.drop_ref(); });
    detach_watches();  // after the frames went: a socket destroyed with one unregistered itself
    // Last: a job of the default executor may be waiting for something dropped above (a
    // run_coroutine_threadsafe future now holds an error), so that it can end.
    if (m_executor != nullptr) {
        m_executor->join();
    }
}

}  // namespace aio

#endif
