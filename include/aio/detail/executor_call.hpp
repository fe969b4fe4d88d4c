// SPDX-License-Identifier: MIT
// What a run_in_executor job shares between the worker thread that runs it and the loop that
// waits for it (asyncio: the concurrent.futures.Future and the asyncio.Future chained to it),
// and the loop's executor service (its default thread pool and its link to the loop).
//
// A job's life: submitted (queued) -> running -> finished, its result or exception stored, then
// its completion is posted to the loop with call_soon_threadsafe; on the loop the completion
// wakes the awaiting task. A cancelled awaiter withdraws a job that has not started yet (queued
// -> withdrawn: the function never runs, as concurrent.futures.Future.cancel()); a running job
// runs to its end and its result is dropped.
//
// Threads: m_state is the only field both sides touch concurrently; the worker writes the
// result before it stores `finished` (release), and the loop reads it only after the completion
// has arrived (the loop's inbox lock orders the two). Everything marked "loop" is touched on the
// loop's thread only.
//
// Lifetime: the call is shared (std::shared_ptr) by the job, the posted completion and the
// awaitable, so whichever ends last frees it. A job finishing after its loop has closed (an
// explicit pool may outlive the loop) finds the loop_link cut and drops its result: it never
// touches a closed loop.
#ifndef AIO_DETAIL_EXECUTOR_CALL_HPP_INCLUDED
#define AIO_DETAIL_EXECUTOR_CALL_HPP_INCLUDED

#include "../event_loop.hpp"
#include "../suspend.hpp"
#include "owning_ptr.hpp"
#include "thread_pool.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace aio::detail {

/// Where completions go: the loop, until it closes. One per loop, shared with every job in
/// flight.
class loop_link {
public:
    explicit loop_link(event_loop& loop) noexcept : m_loop(&loop) {}

    /// Queues `f` on the loop (call_soon_threadsafe); false once the loop has closed.
    template <class F>
    bool post(F&& f) {
        std::lock_guard lock(m_mutex);
        if (m_loop == nullptr) {
            return false;
        }
        m_loop->call_soon_threadsafe(std::forward<F>(f));
        return true;
    }

    /// The loop closes: posts from now on find nothing (one in progress finishes first).
    void cut() noexcept {
        std::lock_guard lock(m_mutex);
        m_loop = nullptr;
    }

private:
    std::mutex m_mutex;
    event_loop* m_loop;
};

/// What f(args...) gives when the job calls it: f and the arguments are stored decayed (a
/// std::reference_wrapper argument becomes a reference, as with std::thread) and passed as
/// rvalues.
template <class F, class... Args>
using executor_result_t = std::invoke_result_t<std::decay_t<F>, std::unwrap_ref_decay_t<Args>...>;

template <class R>
class executor_call {
public:
    enum class state : std::uint8_t { queued, running, withdrawn, finished };

    executor_call(event_loop& loop, std::shared_ptr<loop_link> link) noexcept
        : m_link(std::move(link)), m_loop(&loop) {}

    // ---- on the worker ----
    /// Runs `fn` unless the job was withdrawn, stores its outcome and posts the completion.
    /// The job's reference moves on to the completion: the worker keeps none once it has
    /// posted, so the result (and an exception's last reference) is released on the loop.
    template <class Fn>
    static void run(std::shared_ptr<executor_call> self, Fn&& fn) noexcept {
        state expected = state::queued;
        if (!self->m_state.compare_exchange_strong(expected, state::running,
                                                   std::memory_order_acq_rel)) {
            return;  // withdrawn: its awaiter was cancelled before the job started
        }
        try {
            if constexpr (std::is_void_v<R>) {
                std::forward<Fn>(fn)();
                self->m_value.emplace();
            } else {
                self->m_value.emplace(std::forward<Fn>(fn)());
            }
        } catch (...) {
            self->m_error = std::current_exception();
        }
        self->m_state.store(state::finished, std::memory_order_release);
        const std::shared_ptr<loop_link> link = self->m_link;
        try {
            // false: the loop has closed, nobody waits for the result any more
            (void)link->post([call = std::move(self)] { call->complete(); });
        } catch (const std::exception& e) {
            std::fprintf(stderr, "aio: a to_thread result could not reach its loop: %s\n",
                         e.what());
        }
    }

    // ---- on the loop ----
    /// The job will not run if it has not started yet; true if so.
    bool withdraw() noexcept {
        state expected = state::queued;
        if (!m_state.compare_exchange_strong(expected, state::withdrawn,
                                             std::memory_order_acq_rel)) {
            return false;
        }
        end_outside_work();
        return true;
    }
    [[nodiscard]] bool delivered() const noexcept { return m_delivered; }

    /// The outcome, once delivered: the value, or the exception f threw.
    R take() {
        if (m_error) {
            std::rethrow_exception(m_error);
        }
        if constexpr (!std::is_void_v<R>) {
            return std::move(*m_value);
        }
    }

    suspension* m_waiter = nullptr;  // loop: the awaitable waiting for the completion, if any

private:
    void complete() {
        m_delivered = true;
        end_outside_work();
        if (m_waiter != nullptr) {
            m_waiter->wake();
        }
    }

    void end_outside_work() noexcept {
        if (m_counted) {
            m_counted = false;
            core_of(*m_loop).external_end();
        }
    }

    struct no_value {};
    using stored = std::conditional_t<std::is_void_v<R>, no_value, R>;
    std::atomic<state> m_state{state::queued};
    std::optional<stored> m_value;  // worker, then loop
    std::exception_ptr m_error;     // worker, then loop
    std::shared_ptr<loop_link> m_link;
    event_loop* m_loop;
    bool m_counted = true;     // loop: the loop counts this job as outside work
    bool m_delivered = false;  // loop: the completion arrived
};

/// The loop's executor service: its link, the default thread pool (made on first use) and the
/// thread that shuts the pool down for shutdown_default_executor().
class loop_executor final : public executor_service {
public:
    explicit loop_executor(event_loop& loop) : m_link(std::make_shared<loop_link>(loop)) {}
    ~loop_executor() override { join(); }

    /// The service of `loop`, made on first use.
    static loop_executor& of(event_loop& loop) {
        loop_core& core = core_of(loop);
        if (core.executor_service() == nullptr) {
            core.set_executor_service(make_owning<loop_executor>(loop));
        }
        return static_cast<loop_executor&>(*core.executor_service());
    }

    [[nodiscard]] const std::shared_ptr<loop_link>& link() const noexcept { return m_link; }

    thread_pool& default_pool() {
        if (m_pool == nullptr) {
            m_pool = std::make_unique<thread_pool>();  // asyncio's bound (thread_pool.hpp)
        }
        return *m_pool;
    }

    task<> shutdown_default(event_loop& loop) override;  // to_thread.hpp

    void detach() noexcept override { m_link->cut(); }

    void join() noexcept override {
        try {
            if (m_pool != nullptr) {
                m_pool->shutdown(true);
            }
            if (m_joiner != nullptr) {
                m_joiner->shutdown(true);  // it may still be joining m_pool's workers
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "aio: the default executor could not be shut down: %s\n",
                         e.what());
        }
    }

private:
    std::shared_ptr<loop_link> m_link;
    std::unique_ptr<thread_pool> m_pool;
    std::unique_ptr<thread_pool> m_joiner;  // one thread: runs m_pool->shutdown(true)
};

}  // namespace aio::detail

#endif
