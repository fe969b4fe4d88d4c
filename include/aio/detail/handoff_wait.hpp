// SPDX-License-Identifier: MIT
// handoff_wait: the awaiter behind lock.acquire(), semaphore.acquire(), queue.get() and
// queue.put() — a wait for something that is handed over when the waiter is woken: the lock's
// turn, a permit, an item, a free slot.
//
// asyncio's rule, kept here: the owner (a lock, a semaphore, a queue) keeps the thing for the
// waiter it wakes, and the waiter takes it itself when it runs. A waiter cancelled after it was
// woken, or whose frame is destroyed before it runs, gives it back and the owner passes it on
// to the next waiter (what CPython's _wake_up_next does after a cancelled acquire() or get()),
// so nothing is lost and nobody is left waiting behind a free lock.
//
// The owner's side is a Policy of static functions taking the owner:
//   ready(o)      await_ready: true if no wait is needed (a lock or semaphore takes it here)
//   waiters(o)    the wait_list to park in
//   claim(o)      a woken waiter runs: what was kept for it is its own now
//   pass_on(o)    a woken waiter will not take what was kept for it: the next one gets it
//   withdrawn(o)  a waiter was cancelled before it was woken
//   what          what the wait is, for the task dump ("aio::lock::acquire")
//
// Lifetime rules: as for a suspension (it lives in the awaiting frame; waiting allocates
// nothing). Movable until awaited, so that it can be handed to wait_for or gather.
#ifndef AIO_DETAIL_HANDOFF_WAIT_HPP_INCLUDED
#define AIO_DETAIL_HANDOFF_WAIT_HPP_INCLUDED

#include "../errors.hpp"
#include "../suspend.hpp"

#include <coroutine>

namespace aio::detail {

template <class Policy>
class [[nodiscard]] handoff_wait {
public:
    using owner_type = typename Policy::owner_type;

    explicit handoff_wait(owner_type& owner) noexcept : m_owner(owner) {}
    handoff_wait(handoff_wait&& other) noexcept : m_owner(other.m_owner) {}
    handoff_wait& operator=(const handoff_wait&) = delete;
    ~handoff_wait() {
        if (m_step == step::suspended) [[unlikely]] {
            abandon();
        }
    }

    // why no suspension when ready: a free lock, a permit or an item is taken at once, as in
    // asyncio; this check, and the m_step tests below, are all that the fast path costs.
    [[nodiscard]] bool await_ready() noexcept { return Policy::ready(m_owner); }
    // why: the task waits in the owner's FIFO until a release, put or get wakes it.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        m_step = step::suspended;
        if (!m_wait.park(task, nullptr, Policy::what)) {
            return false;  // a cancellation is pending: await_resume throws it
        }
        Policy::waiters(m_owner).push_back(m_wait);
        return true;
    }
    /// Claims what was kept for this waiter if it was woken; throws cancelled_error (after
    /// passing that on) if the task was cancelled at this wait.
    void await_resume() {
        if (m_step == step::suspended) [[unlikely]] {
            settle();
        }
    }

protected:
    owner_type& owner() const noexcept { return m_owner; }

private:
    // why out of line: keeps the fast path above small enough to be inlined into the awaiting
    // coroutine (GCC otherwise calls await_resume and the destructor on every acquire).
    [[gnu::noinline]] void settle() {
        m_step = step::settled;
        if (!m_wait.woken()) {
            try {
                m_wait.resume();
            } catch (const cancelled_error&) {
                Policy::withdrawn(m_owner);  // cancelled while it waited
                throw;
            }
            return;
        }
        try {
            m_wait.resume();
        } catch (const cancelled_error&) {
            Policy::pass_on(m_owner);  // woken, then cancelled before it ran
            throw;
        }
        Policy::claim(m_owner);
    }
    // The frame is destroyed after await_suspend and before await_resume.
    [[gnu::noinline]] void abandon() noexcept {
        if (m_wait.woken()) {
            Policy::pass_on(m_owner);  // woken, but it will never run
        }
    }

    enum class step : unsigned char { ready, suspended, settled };

    owner_type& m_owner;
    suspension m_wait;
    step m_step = step::ready;
};

}  // namespace aio::detail

#endif
