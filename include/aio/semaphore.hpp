// SPDX-License-Identifier: MIT
// aio::semaphore and aio::bounded_semaphore: a counter of permits that tasks acquire and
// release (asyncio.Semaphore, asyncio.BoundedSemaphore).
//
//     sem = asyncio.Semaphore(3)            aio::semaphore sem(3);
//     await sem.acquire()                   co_await sem.acquire();
//     sem.release()                         sem.release();
//     sem.locked()                          sem.locked()
//     async with sem:                       {   auto guard = co_await sem.scoped();
//         ...                                   ...
//                                           }   // released by the guard's destructor
//     asyncio.BoundedSemaphore(3)           aio::bounded_semaphore sem(3);
//
// Strict FIFO, as in asyncio 3.13: a permit freed by release() is reserved for the longest
// waiter, which then runs; while any task waits (or was woken and has not run yet), a newcomer
// queues even if a permit is free, and locked() is true. A woken waiter that is cancelled
// before it runs gives its permit back and wakes the next, so cancellations never make
// waiters hang. A negative initial value is std::invalid_argument; releasing a bounded
// semaphore above its initial value is aio::invalid_state_error (asyncio's ValueError).
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Waiting allocates nothing (the
// suspension lives in the awaiter, i.e. in the waiting coroutine's frame). Destroying a
// semaphore that tasks wait on leaves them parked for good. A guard must not outlive it.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SEMAPHORE_HPP_INCLUDED
#define AIO_SEMAPHORE_HPP_INCLUDED

#include "detail/release_guard.hpp"
#include "errors.hpp"
#include "suspend.hpp"

#include <coroutine>
#include <cstddef>
#include <stdexcept>

namespace aio {

class semaphore {
public:
    /// `co_await sem.acquire()`: returns once the calling task holds a permit.
    class [[nodiscard]] acquire_awaiter {
    public:
        explicit acquire_awaiter(semaphore& target) noexcept : m_sem(target) {}
        /// Movable until awaited (so it can be handed to wait_for or gather).
        acquire_awaiter(acquire_awaiter&& other) noexcept : m_sem(other.m_sem) {}
        acquire_awaiter& operator=(const acquire_awaiter&) = delete;
        ~acquire_awaiter() {
            if (m_wait.woken() && !m_resumed) {
                m_sem.give_back();  // the frame died between wake-up and resumption
            }
        }

        // why take it here: a free permit is taken without suspending, as asyncio does
        [[nodiscard]] bool await_ready() noexcept { return m_sem.try_take(); }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> task) {
            if (!m_wait.park(task)) {
                return false;  // a cancellation is pending: await_resume throws it
            }
            m_sem.m_waiters.push_back(m_wait);
            return true;
        }
        void await_resume() {
            m_resumed = true;
            try {
                m_wait.resume();
            } catch (const cancelled_error&) {
                if (m_wait.woken()) {
                    m_sem.give_back();  // woken, then cancelled: the permit goes to the next
                } else {
                    m_sem.wake_allowed();
                }
                throw;
            }
            if (m_wait.woken()) {  // the permit was taken for us when we were woken
                --m_sem.m_woken;
                m_sem.wake_allowed();  // waiters that queued behind us while permits were free
            }
        }

    private:
        semaphore& m_sem;
        suspension m_wait;
        bool m_resumed = false;
    };

    using guard = detail::release_guard<semaphore>;

    /// `value` permits; std::invalid_argument if negative.
    explicit semaphore(std::ptrdiff_t value = 1) : m_value(checked(value)) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    /// True when acquire() would wait: no permit is free, or other tasks wait (FIFO).
    [[nodiscard]] bool locked() const noexcept {
        return m_value == 0 || !m_waiters.empty() || m_woken != 0;
    }

    /// Awaitable: takes a permit, waiting for one in FIFO order if needed.
    acquire_awaiter acquire() noexcept { return acquire_awaiter(*this); }

    /// Awaitable: takes a permit and yields a guard that releases it (`async with sem`).
    detail::scoped_acquire<semaphore, acquire_awaiter> scoped() noexcept {
        return {*this, acquire_awaiter(*this)};
    }

    /// Returns a permit and wakes the longest waiter, if any.
    void release() {
        ++m_value;
        (void)wake_next();
    }

protected:
    std::size_t m_value;
    std::size_t m_woken = 0;  // waiters woken with a reserved permit that have not run yet

private:
    static std::size_t checked(std::ptrdiff_t value) {
        if (value < 0) {
            throw std::invalid_argument("aio::semaphore: the initial value must be >= 0");
        }
        return static_cast<std::size_t>(value);
    }

    [[nodiscard]] bool try_take() noexcept {
        if (locked()) {
            return false;
        }
        --m_value;
        return true;
    }
    // Reserves a permit for the longest waiter and wakes it.
    bool wake_next() {
        if (!m_waiters.wake_first()) {
            return false;
        }
        --m_value;
        ++m_woken;
        return true;
    }
    // Wakes as many waiters as there are free permits.
    void wake_allowed() {
        while (m_value > 0 && wake_next()) {
        }
    }
    // A woken waiter will not use its reserved permit after all.
    void give_back() {
        --m_woken;
        ++m_value;
        wake_allowed();
    }

    wait_list m_waiters;
};

/// A semaphore that refuses to be released above its initial value.
class bounded_semaphore : public semaphore {
public:
    using guard = detail::release_guard<bounded_semaphore>;

    /// `value` permits, also the bound; std::invalid_argument if negative.
    explicit bounded_semaphore(std::ptrdiff_t value = 1)
        : semaphore(value), m_bound(static_cast<std::size_t>(value)) {}

    /// Like semaphore::release(); invalid_state_error if every permit is already free.
    void release() {
        if (m_value + m_woken >= m_bound) {  // free + reserved: nobody holds a permit
            throw invalid_state_error("aio::bounded_semaphore::release: released too many times");
        }
        semaphore::release();
    }

    /// Awaitable: takes a permit and yields a guard that releases it.
    detail::scoped_acquire<bounded_semaphore, acquire_awaiter> scoped() noexcept {
        return {*this, acquire()};
    }

private:
    std::size_t m_bound;
};

}  // namespace aio

#endif
