// SPDX-License-Identifier: MIT
// aio::event: a flag tasks can wait for (asyncio.Event).
//
//     ev = asyncio.Event()                  aio::event ev;
//     await ev.wait()                       co_await ev.wait();
//     ev.set(); ev.clear(); ev.is_set()     ev.set(); ev.clear(); ev.is_set();
//
// set() wakes every task waiting now; they resume on later loop iterations, in the order they
// started waiting. A task that waits while the flag is set does not suspend at all. clear()
// only affects later waits: the tasks that set() woke stay woken (they are already on their
// way), as in asyncio.
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Waiting allocates nothing (the
// suspension lives in the awaiter, i.e. in the waiting coroutine's frame). Destroying an event
// that tasks wait on leaves them parked for good: set it (or cancel them) first.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_EVENT_HPP_INCLUDED
#define AIO_EVENT_HPP_INCLUDED

#include "suspend.hpp"

#include <coroutine>

namespace aio {

class event {
public:
    /// `co_await ev.wait()`: returns once the flag is set.
    class [[nodiscard]] wait_awaiter {
    public:
        explicit wait_awaiter(event& target) noexcept : m_event(target) {}
        /// Movable until awaited (so it can be handed to wait_for or gather).
        wait_awaiter(wait_awaiter&& other) noexcept : m_event(other.m_event) {}
        wait_awaiter& operator=(const wait_awaiter&) = delete;

        [[nodiscard]] bool await_ready() const noexcept { return m_event.m_set; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> task) {
            if (!m_wait.park(task, nullptr, "aio::event::wait")) {
                return false;  // a cancellation is pending: await_resume throws it
            }
            m_event.m_waiters.push_back(m_wait);
            return true;
        }
        void await_resume() { m_wait.resume(); }

    private:
        event& m_event;
        suspension m_wait;
    };

    event() noexcept = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    [[nodiscard]] bool is_set() const noexcept { return m_set; }

    /// Sets the flag and wakes every waiting task. Does nothing if already set.
    void set() {
        if (!m_set) {
            m_set = true;
            m_waiters.wake_all();
        }
    }

    /// Resets the flag: later waits block until the next set().
    void clear() noexcept { m_set = false; }

    /// Awaitable: returns at once if the flag is set, else when set() is called.
    wait_awaiter wait() noexcept { return wait_awaiter(*this); }

private:
    wait_list m_waiters;
    bool m_set = false;
};

}  // namespace aio

#endif
