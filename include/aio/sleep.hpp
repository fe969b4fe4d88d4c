// SPDX-License-Identifier: MIT
// aio::sleep / aio::sleep_until: suspend the current task for a while (asyncio.sleep).
//
//     await asyncio.sleep(0.5)         co_await aio::sleep(500ms);
//     await asyncio.sleep(pause)       co_await aio::sleep(std::chrono::duration<double>(pause));
//     await asyncio.sleep(0)           co_await aio::sleep(0ms);  // yield once
//
// Guarantees: a sleep never wakes early (the deadline is rounded up to the clock's tick); of
// two sleeps, the one that started first wakes first if its deadline is not later — also when
// a deadline has passed already (sleep_until) or is "now" (sleep(0)); sleep(0) (or any
// non-positive duration) lets every other ready task run once, then continues. A cancelled
// sleep leaves the timer queue at once and throws aio::cancelled_error.
//
// How the order holds when a deadline is not in the future: such a sleep is a yield (straight
// to the back of the ready queue, as asyncio's sleep(0)), unless a timer due by then is still
// in the timer queue; a yield would run before it, so the sleep goes into the timer queue too
// (as asyncio's call_at with a past deadline does), behind it.
//
// Lifetime rules: the timer node lives inside the awaiter, i.e. in the sleeping coroutine's
// frame — sleeping allocates nothing. Must be awaited inside a running event loop.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SLEEP_HPP_INCLUDED
#define AIO_SLEEP_HPP_INCLUDED

#include "event_loop.hpp"

#include <chrono>
#include <coroutine>

namespace aio {

namespace detail {

class [[nodiscard]] sleep_awaiter {
public:
    /// A deadline (sleep_until), or a delay measured from the moment of co_await (sleep).
    static sleep_awaiter at(clock::time_point deadline) noexcept {
        return {deadline, deadline_kind::absolute};
    }
    static sleep_awaiter after(clock::duration delay) noexcept {
        return {clock::time_point(delay), deadline_kind::relative};
    }
    /// Movable until awaited (so it can be handed to gather or wait_for), never while linked.
    sleep_awaiter(sleep_awaiter&& other) noexcept
        : sleep_awaiter(other.m_node.m_deadline, other.kind()) {}
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (m_node.linked()) {
            loop().remove_timer(m_node);  // the frame died while sleeping (loop teardown)
        }
        if (task_root* r = root()) {
            r->unpark(m_node);
        }
    }

    [[nodiscard]] bool await_ready() const noexcept { return false; }  // even sleep(0) yields

    // why: a timer node in this awaiter goes into the loop's timer queue (or, for a yield, the
    // coroutine goes straight to the back of the ready queue); the node is then parked on the
    // task's root, so that cancel() can pull the timer out again through the root's loop.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> self) {
        loop_core& loop = core_of(get_running_loop());
        task_root* const r = root_of(self);
        if (r != nullptr) {
            m_context = reinterpret_cast<std::uintptr_t>(r);
            if (r->cancel_pending()) {
                return false;  // a cancellation arrived while running: await_resume delivers it
            }
            if (r->m_loop == nullptr) {
                r->m_loop = loop.as_root_owner();  // a gather child started outside any loop
            } else if (r->m_loop != loop.as_root_owner()) {
                throw event_loop_error("aio::sleep: the task belongs to another event loop");
            }
        } else {
            m_context = reinterpret_cast<std::uintptr_t>(&loop) | foreign;
        }
        clock::time_point deadline = m_node.m_deadline;
        bool passed = false;  // the deadline is not in the future: a yield, see the header
        if (kind() == deadline_kind::relative) {
            const clock::duration delay = deadline.time_since_epoch();
            passed = delay <= clock::duration::zero();
            // sleep(0) is due "now"; the clock is read only if a timer could be due by then
            deadline = !passed                   ? saturating_deadline(loop.time(), delay)
                       : loop.timer_count() != 0 ? loop.time()
                                                 : clock::time_point::min();
        } else {
            passed = deadline <= loop.time();
        }
        m_node.m_deadline = deadline;
        m_node.m_target = make_ready_item(self.address(), ready_kind::resume);
        if (passed && !loop.timer_due_by(deadline)) {
            loop.schedule(self);
        } else {
            loop.add_timer(m_node);
        }
        if (r != nullptr) {
            r->park(m_node);
        }
        return true;
    }

    void await_resume() {
        if (task_root* r = root()) {
            r->unpark(m_node);
            if (r->take_pending_cancel()) {
                throw cancelled_error{};
            }
        }
    }

private:
    // Until awaited, the node's target (a ready-queue item, which only matters once the timer
    // is linked) holds one of these, saying what its deadline field holds: a deadline, or a
    // delay still to be added to "now". Why in the node: a separate field would make every
    // sleeping frame larger.
    enum class deadline_kind : std::uintptr_t { absolute = 2, relative = 3 };
    // m_context: the sleeping task's root (cancellation and the loop go through it), or, for
    // a coroutine type that is not aio's, the loop tagged with `foreign`; 0 until awaited.
    static constexpr std::uintptr_t foreign = 1;

    sleep_awaiter(clock::time_point deadline_or_delay, deadline_kind kind) noexcept {
        m_node.m_deadline = deadline_or_delay;
        m_node.m_target = static_cast<std::uintptr_t>(kind);
    }
    /// Valid until awaited (see deadline_kind).
    [[nodiscard]] deadline_kind kind() const noexcept {
        return static_cast<deadline_kind>(m_node.m_target);
    }

    [[nodiscard]] task_root* root() const noexcept {
        return (m_context & foreign) != 0 ? nullptr : reinterpret_cast<task_root*>(m_context);
    }
    [[nodiscard]] loop_core& loop() const noexcept {
        if ((m_context & foreign) != 0) {
            return *reinterpret_cast<loop_core*>(m_context & ~foreign);
        }
        return loop_core::of(*reinterpret_cast<task_root*>(m_context)->m_loop);
    }

    timer_node m_node;
    std::uintptr_t m_context = 0;
};

} // namespace detail

/// Suspends the calling task for at least `delay` (any std::chrono::duration, including
/// duration<double>). Non-positive: yield once. NaN: std::invalid_argument.
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> delay) {
    // Converted (rounded up, saturated) now; the deadline is taken at co_await.
    return detail::sleep_awaiter::after(detail::to_clock_duration(delay));
}

/// Suspends the calling task until `deadline` on the loop's clock (loop.time()). A deadline
/// that has passed by the time of co_await yields once (after the sleeps due no later that
/// started first).
[[nodiscard]] inline detail::sleep_awaiter sleep_until(event_loop::time_point deadline) {
    return detail::sleep_awaiter::at(deadline);
}

} // namespace aio

#endif
