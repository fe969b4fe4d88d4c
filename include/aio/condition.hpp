// SPDX-License-Identifier: MIT
// aio::condition: a condition variable for tasks (asyncio.Condition): wait, with its lock
// held, until another task notifies.
//
//     cond = asyncio.Condition()            aio::condition cond;        // owns its lock
//     cond = asyncio.Condition(lock)        aio::condition cond(lock);  // shares an aio::lock
//     async with cond:                      {   auto guard = co_await cond.scoped();
//         await cond.wait()                     co_await cond.wait();
//         await cond.wait_for(pred)             auto r = co_await cond.wait_for(pred);
//         cond.notify(n); cond.notify_all()     cond.notify(n); cond.notify_all();
//                                           }
//     cond.acquire(), release(), locked()   the same, on the lock
//
// wait() releases the lock, waits to be notified, and takes the lock again before it returns —
// also when it is cancelled: the task always leaves wait() holding the lock, as in asyncio (so
// a guard or the caller's release stays right). A task that was notified and then cancelled
// passes its notification on to the next waiter, so a notify() racing a cancel is never lost
// (asyncio may instead wake a waiter spuriously; aio only passes on a notification it got).
// wait(), notify() and notify_all() without the lock held throw aio::invalid_state_error
// (asyncio's RuntimeError). wait_for(pred) checks pred() first and waits until it is true,
// returning its last value.
//
// wait() and wait_for() are coroutines (aio::task): each call allocates one frame, unlike the
// other primitives' waits, because re-taking the lock after a cancellation is an await that
// has to happen outside the handler (a catch block cannot co_await).
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. A shared lock must outlive the
// condition. Destroying a condition that tasks wait on leaves them parked for good.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_CONDITION_HPP_INCLUDED
#define AIO_CONDITION_HPP_INCLUDED

#include "errors.hpp"
#include "lock.hpp"
#include "suspend.hpp"
#include "task.hpp"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <type_traits>

namespace aio {

class condition {
public:
    /// A condition with a lock of its own.
    condition() noexcept : m_lock(&m_own) {}
    /// A condition over `shared`, which must outlive it.
    explicit condition(lock& shared) noexcept : m_lock(&shared) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    [[nodiscard]] bool locked() const noexcept { return m_lock->locked(); }
    lock::acquire_awaiter acquire() noexcept { return m_lock->acquire(); }
    void release() { m_lock->release(); }
    /// Awaitable: takes the lock and yields a guard that releases it (`async with cond`).
    detail::scoped_acquire<lock, lock::acquire_awaiter> scoped() noexcept {
        return m_lock->scoped();
    }

    /// Releases the lock, waits for notify(), takes the lock again (even when cancelled).
    task<> wait() {
        if (!locked()) {
            throw invalid_state_error("aio::condition::wait: the lock is not acquired");
        }
        m_lock->release();
        std::exception_ptr error;
        bool notified = false;
        {
            notification n(*this);
            try {
                co_await n;
            } catch (...) {
                error = std::current_exception();
            }
            notified = n.woken();
        }
        // A handler cannot co_await: the lock is taken again here, and a cancellation that
        // arrives meanwhile is kept (the latest one) and rethrown once the lock is held.
        for (;;) {
            try {
                co_await m_lock->acquire();
                break;
            } catch (const cancelled_error&) {
                error = std::current_exception();
            }
        }
        if (error) {
            if (notified) {
                wake(1);  // the notification this task got goes to another waiter
            }
            std::rethrow_exception(error);
        }
    }

    /// Waits until `predicate()` is true (checked first, then after each notification);
    /// returns its last value.
    template <class Predicate>
    task<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }

    /// Wakes up to `n` waiting tasks; each returns from wait() once it has the lock again.
    /// invalid_state_error if the lock is not held.
    void notify(std::size_t n = 1) {
        if (!locked()) {
            throw invalid_state_error("aio::condition::notify: the lock is not acquired");
        }
        wake(n);
    }
    /// Wakes every waiting task. invalid_state_error if the lock is not held.
    void notify_all() {
        if (!locked()) {
            throw invalid_state_error("aio::condition::notify_all: the lock is not acquired");
        }
        m_waiters.wake_all();
    }

private:
    class notification {
    public:
        explicit notification(condition& c) noexcept : m_cond(c) {}
        [[nodiscard]] bool await_ready() const noexcept { return false; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> task) {
            if (!m_wait.park(task, nullptr, "aio::condition::wait")) {
                return false;
            }
            m_cond.m_waiters.push_back(m_wait);
            return true;
        }
        void await_resume() { m_wait.resume(); }
        [[nodiscard]] bool woken() const noexcept { return m_wait.woken(); }

    private:
        condition& m_cond;
        suspension m_wait;
    };

    void wake(std::size_t n) {
        for (std::size_t i = 0; i < n && m_waiters.wake_first(); ++i) {
        }
    }

    lock m_own;
    lock* m_lock;
    wait_list m_waiters;
};

}  // namespace aio

#endif
