// SPDX-License-Identifier: MIT
// aio::lock: a mutual-exclusion lock for tasks (asyncio.Lock). Not owned by a task: any task
// may release it, as in asyncio.
//
//     lock = asyncio.Lock()                 aio::lock lock;
//     await lock.acquire()                  co_await lock.acquire();
//     lock.release()                        lock.release();
//     lock.locked()                         lock.locked()
//     async with lock:                      {   auto guard = co_await lock.scoped();
//         ...                                   ...
//                                           }   // released by the guard's destructor
//
// Fairness, as in asyncio: waiters get the lock in the order they asked for it. release()
// wakes the longest waiter, which takes the lock itself when it runs; until then the lock reads
// unlocked but a newcomer cannot take it past that waiter (it queues behind). A woken waiter
// that is cancelled before it runs passes the turn on to the next, so a release is never lost
// and there are never two holders. Releasing a lock that is not locked throws
// aio::invalid_state_error (asyncio's RuntimeError).
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Waiting allocates nothing (the
// suspension lives in the awaiter, i.e. in the waiting coroutine's frame). Destroying a lock
// that tasks wait on leaves them parked for good: let them finish (or cancel them) first. A
// guard must not outlive its lock.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_LOCK_HPP_INCLUDED
#define AIO_LOCK_HPP_INCLUDED

#include "detail/release_guard.hpp"
#include "errors.hpp"
#include "suspend.hpp"

#include <coroutine>

namespace aio {

class lock {
public:
    /// `co_await lock.acquire()`: returns once the calling task holds the lock.
    class [[nodiscard]] acquire_awaiter {
    public:
        explicit acquire_awaiter(lock& target) noexcept : m_lock(target) {}
        /// Movable until awaited (so it can be handed to wait_for or gather).
        acquire_awaiter(acquire_awaiter&& other) noexcept : m_lock(other.m_lock) {}
        acquire_awaiter& operator=(const acquire_awaiter&) = delete;
        ~acquire_awaiter() {
            if (m_wait.woken() && !m_resumed) {
                m_lock.pass_on();  // the frame died between wake-up and resumption
            }
        }

        // why take it here: a free lock is taken without suspending, as asyncio does
        [[nodiscard]] bool await_ready() noexcept { return m_lock.try_take(); }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> task) {
            if (!m_wait.park(task)) {
                return false;  // a cancellation is pending: await_resume throws it
            }
            m_lock.m_waiters.push_back(m_wait);
            return true;
        }
        void await_resume() {
            m_resumed = true;
            try {
                m_wait.resume();
            } catch (const cancelled_error&) {
                if (m_wait.woken()) {
                    m_lock.pass_on();  // woken, then cancelled before it ran: wake the next
                }
                throw;
            }
            if (m_wait.woken()) {
                m_lock.m_waking = false;
                m_lock.m_locked = true;
            }
        }

    private:
        lock& m_lock;
        suspension m_wait;
        bool m_resumed = false;
    };

    using guard = detail::release_guard<lock>;

    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    /// True while some task holds the lock.
    [[nodiscard]] bool locked() const noexcept { return m_locked; }

    /// Awaitable: takes the lock, waiting for it in FIFO order if needed.
    acquire_awaiter acquire() noexcept { return acquire_awaiter(*this); }

    /// Awaitable: takes the lock and yields a guard that releases it (`async with lock`).
    detail::scoped_acquire<lock, acquire_awaiter> scoped() noexcept {
        return {*this, acquire_awaiter(*this)};
    }

    /// Unlocks and lets the longest waiter take the lock. invalid_state_error if not locked.
    void release() {
        if (!m_locked) {
            throw invalid_state_error("aio::lock::release: the lock is not acquired");
        }
        m_locked = false;
        wake_next();
    }

private:
    // Invariant: when the lock is free and no waiter is on its way to take it (m_waking), no
    // task waits on it. So a free, not-promised lock can be taken without queueing.
    [[nodiscard]] bool try_take() noexcept {
        if (m_locked || m_waking) {
            return false;
        }
        m_locked = true;
        return true;
    }
    void wake_next() {
        if (!m_waking && m_waiters.wake_first()) {
            m_waking = true;
        }
    }
    // The woken waiter will not take the lock after all: the next one gets the turn.
    void pass_on() {
        m_waking = false;
        if (!m_locked) {
            wake_next();
        }
    }

    wait_list m_waiters;
    bool m_locked = false;
    bool m_waking = false;  // a waiter was woken and will take the lock when it runs
};

}  // namespace aio

#endif
