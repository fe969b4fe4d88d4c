// SPDX-License-Identifier: MIT
// aio::barrier: a meeting point for a fixed number of tasks (asyncio.Barrier): each waits
// until `parties` tasks are waiting, then all go on together.
//
//     b = asyncio.Barrier(3)                aio::barrier b(3);
//     index = await b.wait()                std::size_t index = co_await b.wait();
//     await b.reset(); await b.abort()      co_await b.reset(); co_await b.abort();
//     b.parties, b.n_waiting, b.broken      b.parties(), b.n_waiting(), b.broken()
//     except asyncio.BrokenBarrierError     catch (const aio::broken_barrier_error&)
//
// wait() returns each task of a round a distinct arrival index, 0 to parties-1. The round then
// drains: tasks arriving meanwhile wait until every task of the round has left wait(). A task
// cancelled while it waits leaves the count, so the round needs one more. reset() sends
// broken_barrier_error to the tasks waiting in the round and makes the barrier usable again
// once they have left; abort() breaks it: every waiting and later wait() throws
// broken_barrier_error until reset(). `parties` must be at least 1 (std::invalid_argument).
// state() tells filling, draining, resetting or broken (asyncio shows it in repr()).
//
// Built on aio::condition as asyncio's is, so wait(), reset() and abort() are coroutines
// (aio::task): each call allocates a frame.
//
// Lifetime rules: belongs to one loop's thread, as in asyncio. Destroying a barrier that tasks
// wait on leaves them parked for good: abort() it and let them finish first.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_BARRIER_HPP_INCLUDED
#define AIO_BARRIER_HPP_INCLUDED

#include "condition.hpp"
#include "errors.hpp"
#include "task.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>

namespace aio {

class barrier {
public:
    enum class state_type : std::uint8_t { filling, draining, resetting, broken };

    /// A barrier for `parties` tasks; std::invalid_argument if parties < 1.
    explicit barrier(std::ptrdiff_t parties) : m_parties(checked(parties)) {}
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    /// Waits until `parties()` tasks wait, then returns this task's arrival index.
    /// broken_barrier_error if the barrier is reset or aborted meanwhile, or is broken.
    task<std::size_t> wait() {
        auto held = co_await m_cond.scoped();
        auto may_enter = [this] {
            return m_state != state_type::draining && m_state != state_type::resetting;
        };
        co_await m_cond.wait_for(may_enter);  // the previous round is still leaving
        if (m_state == state_type::broken) {
            throw broken_barrier_error("aio::barrier::wait: the barrier is broken");
        }
        const std::size_t index = m_count++;
        std::exception_ptr error;
        try {
            if (index + 1 == m_parties) {
                m_state = state_type::draining;  // the last one in: release the round
                m_cond.notify_all();
            } else {
                auto released = [this] { return m_state != state_type::filling; };
                co_await m_cond.wait_for(released);
                if (m_state == state_type::broken || m_state == state_type::resetting) {
                    throw broken_barrier_error("aio::barrier::wait: the barrier was reset or "
                                               "aborted");
                }
            }
        } catch (...) {
            error = std::current_exception();
        }
        leave();  // also when cancelled: this task no longer counts
        if (error) {
            std::rethrow_exception(error);
        }
        co_return index;
    }

    /// Breaks the current round (its waiters get broken_barrier_error) and makes the barrier
    /// usable again once they have left. Also repairs a broken barrier.
    task<> reset() {
        auto held = co_await m_cond.scoped();
        m_state = m_count > 0 ? state_type::resetting : state_type::filling;
        m_cond.notify_all();
    }

    /// Breaks the barrier: waiting and later wait() calls throw broken_barrier_error.
    task<> abort() {
        auto held = co_await m_cond.scoped();
        m_state = state_type::broken;
        m_cond.notify_all();
    }

    [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
    /// Tasks waiting in the round being filled (0 while a round drains or resets).
    [[nodiscard]] std::size_t n_waiting() const noexcept {
        return m_state == state_type::filling ? m_count : 0;
    }
    [[nodiscard]] bool broken() const noexcept { return m_state == state_type::broken; }
    [[nodiscard]] state_type state() const noexcept { return m_state; }

private:
    static std::size_t checked(std::ptrdiff_t parties) {
        if (parties < 1) {
            throw std::invalid_argument("aio::barrier: parties must be >= 1");
        }
        return static_cast<std::size_t>(parties);
    }

    // The last task of a round to leave ends its draining or resetting.
    void leave() {
        if (--m_count == 0) {
            if (m_state == state_type::draining || m_state == state_type::resetting) {
                m_state = state_type::filling;
            }
            m_cond.notify_all();
        }
    }

    condition m_cond;
    std::size_t m_parties;
    std::size_t m_count = 0;  // tasks inside wait() in the current round
    state_type m_state = state_type::filling;
};

}  // namespace aio

#endif
