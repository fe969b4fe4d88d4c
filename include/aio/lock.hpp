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
// aio::invalid_state_error (asyncio's RuntimeError). The waiting itself is
// detail/handoff_wait.hpp (a suspension in m_waiters, see suspend.hpp); `handoff` below is
// what the lock does when a waiter is woken, runs, or is cancelled.
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Waiting allocates nothing (the
// suspension lives in the awaiter, i.e. in the waiting coroutine's frame). Destroying a lock
// that tasks wait on leaves them parked for good: let them finish (or cancel them) first. A
// guard must not outlive its lock.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_LOCK_HPP_INCLUDED
#define AIO_LOCK_HPP_INCLUDED

#include "detail/handoff_wait.hpp"
#include "detail/release_guard.hpp"
#include "errors.hpp"
#include "suspend.hpp"

namespace aio {

class lock {
    struct handoff;  // how a waiter takes the lock (detail/handoff_wait.hpp)

public:
    /// `co_await lock.acquire()`: returns once the calling task holds the lock.
    using acquire_awaiter = detail::handoff_wait<handoff>;

    using guard = detail::release_guard<lock>;

    lock() noexcept = default;
    lock(const lock&) = delete;
    lock& operator=(const lock&) = delete;

    /// True while some task holds the lock.
    [[nodiscard]] bool locked() const noexcept { return m_state == state::locked; }

    /// Awaitable: takes the lock, waiting for it in FIFO order if needed.
    acquire_awaiter acquire() noexcept { return acquire_awaiter(*this); }

    /// Awaitable: takes the lock and yields a guard that releases it (`async with lock`).
    detail::scoped_acquire<lock, acquire_awaiter> scoped() noexcept {
        return {*this, acquire_awaiter(*this)};
    }

    /// Unlocks and lets the longest waiter take the lock. invalid_state_error if not locked.
    void release() {
        if (m_state != state::locked) [[unlikely]] {
            not_acquired();
        }
        m_state = state::free;
        if (!m_waiters.empty()) {
            wake_next();
        }
    }

private:
    // promised: free, but a woken waiter will take it when it runs (a newcomer queues behind).
    // why one byte for the three states: acquire and release each test and set just it.
    enum class state : unsigned char { free, locked, promised };

    // What a waiter is handed when it is woken: the turn to take the lock.
    struct handoff {
        using owner_type = lock;
        static constexpr const char* what = "aio::lock::acquire";
        // Invariant: when the lock is free (not promised), no task waits on it, so it can be
        // taken without queueing.
        static bool ready(lock& l) noexcept {
            if (l.m_state != state::free) {
                return false;
            }
            l.m_state = state::locked;
            return true;
        }
        static wait_list& waiters(lock& l) noexcept { return l.m_waiters; }
        static void claim(lock& l) noexcept { l.m_state = state::locked; }
        // The woken waiter will not take the lock after all: the next one gets the turn.
        static void pass_on(lock& l) {
            if (l.m_state != state::locked) {
                l.m_state = state::free;
                l.wake_next();
            }
        }
        static void withdrawn(lock&) noexcept {}
    };

    // why out of line (both): clang 14 does not inline release() into the caller otherwise.
    [[gnu::noinline]] void wake_next() {
        if (m_state == state::free && m_waiters.wake_first()) {
            m_state = state::promised;
        }
    }
    [[noreturn, gnu::noinline]] static void not_acquired() {
        throw invalid_state_error("aio::lock::release: the lock is not acquired");
    }

    wait_list m_waiters;
    state m_state = state::free;
};

}  // namespace aio

#endif
