// SPDX-License-Identifier: MIT
// thread_pool: the default executor behind to_thread / run_in_executor. asyncio equivalent:
// the loop's default concurrent.futures.ThreadPoolExecutor, with the same bound,
// min(32, hardware threads + 4) workers.
//
// Workers start lazily: none before the first submit(), and a new one only when a job arrives
// while every worker is busy, up to the bound; after that jobs queue in FIFO order. Idle workers
// wait for work until shutdown() (they do not time out). A job is a pool_job node, owned by the
// pool from submit() until it has run. What a job throws is its own business (to_thread captures
// it into its result); should anything escape, the worker reports it on stderr and carries on.
//
// Lifetime: shutdown() stops accepting jobs; the queued ones still run. shutdown(true) (and the
// destructor) then joins the workers, so it must not be called from a job of the same pool.
#ifndef AIO_DETAIL_THREAD_POOL_HPP_INCLUDED
#define AIO_DETAIL_THREAD_POOL_HPP_INCLUDED

#include "../errors.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio::detail {

/// A unit of work for the pool: run() once on a worker, then destroyed there.
class pool_job {
public:
    pool_job() = default;
    pool_job(const pool_job&) = delete;
    pool_job& operator=(const pool_job&) = delete;
    virtual ~pool_job() = default;
    virtual void run() = 0;

private:
    friend class thread_pool;
    pool_job* m_next = nullptr;  // the pool's queue
};

/// pool_job that calls a callable.
template <class F>
class pool_job_for final : public pool_job {
public:
    explicit pool_job_for(F fn) : m_fn(std::move(fn)) {}
    void run() override { m_fn(); }

private:
    F m_fn;
};

template <class F>
std::unique_ptr<pool_job> make_pool_job(F&& fn) {
    return std::make_unique<pool_job_for<std::decay_t<F>>>(std::forward<F>(fn));
}

class thread_pool {
public:
    /// asyncio's default bound: min(32, hardware threads + 4).
    static std::size_t default_max_threads() noexcept {
        return std::min<std::size_t>(32, std::size_t{std::thread::hardware_concurrency()} + 4);
    }

    explicit thread_pool(std::size_t max_threads = default_max_threads()) : m_max(max_threads) {
        if (max_threads == 0) {
            throw std::invalid_argument("aio::thread_pool: max_threads must be at least 1");
        }
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() { shutdown(true); }

    /// Queues `job` to run on a worker, starting one if every worker is busy and the bound
    /// allows. Throws invalid_state_error after shutdown().
    void submit(std::unique_ptr<pool_job> job) {
        std::lock_guard lock(m_mutex);
        if (m_stopping) {
            throw invalid_state_error("aio::thread_pool: cannot submit a job after shutdown()");
        }
        // Jobs that no waiting worker will take, counting this one.
        if (m_queued + 1 > m_waiting && m_threads.size() < m_max) {
            try {
                m_threads.emplace_back([this] { work(); });
            } catch (...) {
                if (m_threads.empty()) {
                    throw;  // nothing would ever run the job
                }
                // the workers there are will come to it
            }
        }
        pool_job* node = job.release();
        if (m_tail != nullptr) {
            m_tail->m_next = node;
        } else {
            m_head = node;
        }
        m_tail = node;
        ++m_queued;
        ++m_pending;
        if (m_waiting > 0) {
            m_cv.notify_one();
        }
    }

    /// Queues a callable as a job.
    template <class F>
    requires(!std::is_convertible_v<F, std::unique_ptr<pool_job>>) void submit(F&& fn) {
        submit(make_pool_job(std::forward<F>(fn)));
    }

    /// Stops accepting jobs; the queued ones still run. With `wait`, returns once they have
    /// run and the workers have ended. Calling it again is harmless.
    void shutdown(bool wait = true) {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(m_mutex);
            if (wait) {
                const auto self = std::this_thread::get_id();
                for (const std::thread& t : m_threads) {
                    if (t.get_id() == self) {
                        throw invalid_state_error(
                            "aio::thread_pool: shutdown(wait) called from one of its own jobs");
                    }
                }
                threads.swap(m_threads);
            }
            m_stopping = true;
        }
        m_cv.notify_all();
        for (std::thread& t : threads) {
            t.join();
        }
    }

    /// Workers started and not yet joined (never more than max_threads()).
    [[nodiscard]] std::size_t thread_count() const {
        std::lock_guard lock(m_mutex);
        return m_threads.size();
    }

    [[nodiscard]] std::size_t max_threads() const noexcept { return m_max; }

    /// Jobs submitted and not yet finished (queued or running).
    [[nodiscard]] std::size_t pending() const {
        std::lock_guard lock(m_mutex);
        return m_pending;
    }

private:
    void work() {
        std::unique_lock lock(m_mutex);
        for (;;) {
            if (m_head == nullptr) {
                if (m_stopping) {
                    return;
                }
                ++m_waiting;
                m_cv.wait(lock, [this] { return m_head != nullptr || m_stopping; });
                --m_waiting;
                continue;
            }
            std::unique_ptr<pool_job> job(m_head);
            m_head = m_head->m_next;
            if (m_head == nullptr) {
                m_tail = nullptr;
            }
            --m_queued;
            lock.unlock();
            run(std::move(job));
            lock.lock();
            --m_pending;
        }
    }

    // The job and its destructor run outside the lock; nothing they throw leaves the worker.
    static void run(std::unique_ptr<pool_job> job) noexcept {
        try {
            job->run();
            job.reset();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "aio: a job of the thread pool threw: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "aio: a job of the thread pool threw a non-std exception\n");
        }
    }

    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    pool_job* m_head = nullptr;  // FIFO of queued jobs, owned
    pool_job* m_tail = nullptr;
    std::size_t m_queued = 0;   // jobs in the FIFO
    std::size_t m_pending = 0;  // queued or running
    std::size_t m_waiting = 0;  // workers blocked on m_cv
    std::vector<std::thread> m_threads;
    const std::size_t m_max;
    bool m_stopping = false;
};

}  // namespace aio::detail

#endif
