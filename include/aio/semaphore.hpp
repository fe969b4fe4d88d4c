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
// waiters hang (the waiting: detail/handoff_wait.hpp; `handoff` below). A negative initial
// value is std::invalid_argument; releasing a bounded semaphore above its initial value is
// aio::invalid_state_error (asyncio's ValueError).
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Waiting allocates nothing (the
// suspension lives in the awaiter, i.e. in the waiting coroutine's frame). Destroying a
// semaphore that tasks wait on leaves them parked for good. A guard must not outlive it.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SEMAPHORE_HPP_INCLUDED
#define AIO_SEMAPHORE_HPP_INCLUDED

#include "detail/handoff_wait.hpp"
#include "detail/release_guard.hpp"
#include "errors.hpp"
#include "suspend.hpp"

#include <cstddef>
#include <stdexcept>

namespace aio {

class semaphore {
    struct handoff;  // how a waiter takes a permit (detail/handoff_wait.hpp)

public:
    /// `co_await sem.acquire()`: returns once the calling task holds a permit.
    using acquire_awaiter = detail::handoff_wait<handoff>;

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

    // What a waiter is handed when it is woken: a permit, reserved for it by wake_next().
    struct handoff {
        using owner_type = semaphore;
        static constexpr const char* what = "aio::semaphore::acquire";
        static bool ready(semaphore& s) noexcept {
            if (s.locked()) {
                return false;
            }
            --s.m_value;
            return true;
        }
        static wait_list& waiters(semaphore& s) noexcept { return s.m_waiters; }
        static void claim(semaphore& s) {
            --s.m_woken;
            s.wake_allowed();  // waiters that queued behind us while permits were free
        }
        static void pass_on(semaphore& s) { s.give_back(); }
        static void withdrawn(semaphore& s) { s.wake_allowed(); }
    };

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
