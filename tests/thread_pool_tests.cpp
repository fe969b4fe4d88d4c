// SPDX-License-Identifier: MIT
// Tests for <aio/detail/thread_pool.hpp>, the default executor of to_thread: every job runs once,
// never more workers than the bound, workers start lazily, shutdown runs what is queued and
// joins, and a throwing job is reported without harming the pool. Every wait is bounded.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/eventually.hpp"

#include <aio/detail/thread_pool.hpp>
#include <aio/errors.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using aio::detail::thread_pool;

using aio_test::eventually;
using aio_test::gate;

TEST_CASE("the thread pool's bound is asyncio's default, min(32, hardware threads + 4)",
          "[thread_pool]") {
    const std::size_t expected =
        std::min<std::size_t>(32, std::size_t{std::thread::hardware_concurrency()} + 4);
    REQUIRE(thread_pool::default_max_threads() == expected);
    REQUIRE(thread_pool().max_threads() == expected);
    REQUIRE_THROWS_AS(thread_pool(0), std::invalid_argument);
}

TEST_CASE("the thread pool starts no thread before the first job", "[thread_pool][thread]") {
    std::atomic<bool> ran{false};  // before the pool: its jobs use it until the pool is joined
    thread_pool pool(4);
    REQUIRE(pool.thread_count() == 0);
    pool.submit([&] { ran = true; });
    REQUIRE(eventually([&] { return ran.load(); }));
    REQUIRE(pool.thread_count() == 1);
}

TEST_CASE("the thread pool starts a worker for a job that arrives while every worker is busy",
          "[thread_pool][thread]") {
    gate held;
    std::atomic<int> started{0};
    thread_pool pool(4);
    pool.submit([&] {
        ++started;
        held.pass();
    });
    REQUIRE(eventually([&] { return started == 1; }));
    pool.submit([&] { ++started; });  // must not wait behind the held job
    REQUIRE(eventually([&] { return started == 2; }));
    REQUIRE(pool.thread_count() == 2);
    held.open = true;
}

TEST_CASE("the thread pool reuses an idle worker instead of starting another",
          "[thread_pool][thread]") {
    std::atomic<int> done{0};
    thread_pool pool(4);
    for (int i = 1; i <= 20; ++i) {
        pool.submit([&] { ++done; });
        REQUIRE(eventually([&] { return done == i && pool.pending() == 0; }));
    }
    REQUIRE(pool.thread_count() == 1);
}

TEST_CASE("the thread pool runs 10000 jobs exactly once each on at most its bound of threads",
          "[thread_pool][thread]") {
    constexpr std::size_t jobs = 10000;
    constexpr std::size_t bound = 3;
    std::vector<std::atomic<int>> runs(jobs);
    std::atomic<int> running{0};
    std::atomic<int> most_running{0};
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    {
        thread_pool pool(bound);
        for (std::size_t i = 0; i < jobs; ++i) {
            pool.submit([&, i] {
                const int now = ++running;
                int seen = most_running.load();
                while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
                }
                runs[i].fetch_add(1);
                {
                    std::lock_guard lock(ids_mutex);
                    ids.insert(std::this_thread::get_id());
                }
                --running;
            });
            REQUIRE(pool.thread_count() <= bound);
        }
        pool.shutdown();
    }
    REQUIRE(std::all_of(runs.begin(), runs.end(), [](const auto& n) { return n.load() == 1; }));
    REQUIRE(most_running.load() >= 1);
    REQUIRE(most_running.load() <= static_cast<int>(bound));
    REQUIRE(ids.size() <= bound);
}

TEST_CASE("the thread pool's shutdown runs the queued jobs, then joins its workers",
          "[thread_pool][thread]") {
    gate held;
    std::atomic<int> done{0};
    thread_pool pool(1);
    pool.submit([&] {
        held.pass();
        ++done;
    });
    for (int i = 0; i < 10; ++i) {
        pool.submit([&] { ++done; });
    }
    REQUIRE(pool.pending() == 11);
    std::thread opener([&] {
        std::this_thread::sleep_for(20ms);
        held.open = true;
    });
    pool.shutdown(true);
    opener.join();
    REQUIRE(done == 11);
    REQUIRE(pool.pending() == 0);
    REQUIRE(pool.thread_count() == 0);
    pool.shutdown(true);  // again: harmless
}

TEST_CASE("the thread pool's shutdown(false) returns at once: the queued jobs still run",
          "[thread_pool][thread]") {
    std::atomic<int> done{0};
    gate held;
    {
        thread_pool pool(1);
        pool.submit([&] {
            held.pass();
            ++done;
        });
        pool.submit([&] { ++done; });
        pool.shutdown(false);
        REQUIRE(done == 0);
        held.open = true;
    }  // the destructor joins
    REQUIRE(done == 2);
}

TEST_CASE("the thread pool refuses a job after shutdown", "[thread_pool]") {
    std::atomic<bool> ran{false};
    thread_pool pool(2);
    pool.shutdown();
    REQUIRE_THROWS_AS(pool.submit([&] { ran = true; }), aio::invalid_state_error);
    REQUIRE_FALSE(ran);
    REQUIRE(pool.thread_count() == 0);
}

TEST_CASE("a job that throws is reported on stderr and the pool runs the next jobs",
          "[thread_pool][thread]") {
    capture_stderr capture;
    std::atomic<int> done{0};
    {
        thread_pool pool(1);
        pool.submit([] { throw std::runtime_error("job failed on purpose"); });
        pool.submit([] { throw 42; });
        pool.submit([&] { ++done; });
        pool.shutdown();
    }
    const std::string text = capture.stop();
    REQUIRE(done == 1);
    REQUIRE(text.find("job failed on purpose") != std::string::npos);
    REQUIRE(text.find("non-std exception") != std::string::npos);
}

TEST_CASE("a job cannot make its own pool wait for it: shutdown(true) from a job is refused",
          "[thread_pool][thread]") {
    std::atomic<bool> refused{false};
    std::atomic<bool> finished{false};
    thread_pool pool(1);
    pool.submit([&] {
        try {
            pool.shutdown(true);
        } catch (const aio::invalid_state_error&) {
            refused = true;
        }
        finished = true;
    });
    REQUIRE(eventually([&] { return finished.load(); }));
    REQUIRE(refused);
}

TEST_CASE("the thread pool takes a job as a pool_job node", "[thread_pool][thread]") {
    struct counting_job final : aio::detail::pool_job {
        std::atomic<int>* count;
        explicit counting_job(std::atomic<int>* c) : count(c) {}
        void run() override { ++*count; }
    };
    std::atomic<int> count{0};
    thread_pool pool(2);
    pool.submit(std::make_unique<counting_job>(&count));
    pool.submit(aio::detail::make_pool_job([&] { ++count; }));
    pool.shutdown();
    REQUIRE(count == 2);
}
