// SPDX-License-Identifier: MIT
// Tests for <aio/to_thread.hpp>: to_thread and run_in_executor give a task the result or the
// exception of a function run on another thread; cancelling the task returns at once while the
// function runs to its end; the default executor is bounded, shut down by
// shutdown_default_executor() and by aio::run; run_coroutine_threadsafe hands a task to a loop
// from another thread. Every test name mentions a thread, so the clang-tsan preset runs them.
// Every wait on another thread is bounded (a failing test cannot hang).
#include "helpers/catch.hpp"
#include "helpers/eventually.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/aio.hpp>
#include <aio/to_thread.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

using aio_test::eventually;
using aio_test::gate;

namespace {

// On the loop: sleeps in 1 ms steps until `done` holds (at most 10 s).
aio::task<bool> loop_until(std::function<bool()> done) {
    for (int i = 0; i < 10000; ++i) {
        if (done()) {
            co_return true;
        }
        co_await aio::sleep(1ms);
    }
    co_return false;
}

// Counts live instances across threads (helpers/counted.hpp is single-threaded).
struct tracked {
    static inline std::atomic<int> alive{0};
    explicit tracked(int v) : value(v) { ++alive; }
    tracked(tracked&& other) noexcept : value(other.value) { ++alive; }
    tracked(const tracked&) = delete;
    tracked& operator=(const tracked&) = delete;
    ~tracked() { --alive; }
    int value;
};

}  // namespace

TEST_CASE("to_thread gives the function's result to the awaiting task, computed on another thread",
          "[to_thread][thread]") {
    const auto loop_thread = std::this_thread::get_id();
    std::thread::id job_thread;
    const int r = aio::run([](std::thread::id& seen) -> aio::task<int> {
        auto call = aio::to_thread(
            [&seen](int a, int b) {
                seen = std::this_thread::get_id();
                return a * b;
            },
            6, 7);
        co_return co_await std::move(call);
    }(job_thread));
    REQUIRE(r == 42);
    REQUIRE(job_thread != loop_thread);
}

TEST_CASE("an exception thrown by a to_thread function reaches the awaiting task's thread",
          "[to_thread][thread]") {
    auto main = []() -> aio::task<std::string> {
        try {
            auto call = aio::to_thread([] { throw std::runtime_error("blocking call failed"); });
            co_await std::move(call);
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "no exception";
    };
    REQUIRE(aio::run(main()) == "blocking call failed");
}

TEST_CASE("to_thread moves a move-only result and move-only arguments across threads",
          "[to_thread][thread]") {
    auto main = []() -> aio::task<int> {
        auto arg = std::make_unique<int>(20);
        auto call = aio::to_thread(
            [](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); }, std::move(arg));
        std::unique_ptr<int> r = co_await std::move(call);
        co_return *r;
    };
    REQUIRE(aio::run(main()) == 21);
}

TEST_CASE("to_thread passes std::ref arguments by reference to the thread", "[to_thread][thread]") {
    std::vector<int> out;
    aio::run([](std::vector<int>& v) -> aio::task<> {
        auto call = aio::to_thread([](std::vector<int>& w) { w.push_back(7); }, std::ref(v));
        co_await std::move(call);
    }(out));
    REQUIRE(out == std::vector<int>{7});
}

TEST_CASE(
    "cancelling a task awaiting to_thread resumes it at once while the function runs to its end "
    "on its thread",
    "[to_thread][thread][cancel]") {
    gate release;
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    tracked::alive = 0;
    auto waiter = [&]() -> aio::task<int> {
        auto call = aio::to_thread([&] {
            started = true;
            release.pass();
            finished = true;
            return tracked(5);  // dropped: nobody waits for it any more
        });
        tracked r = co_await std::move(call);
        co_return r.value;
    };
    auto main = [&]() -> aio::task<std::string> {
        aio::task_handle<int> t = aio::create_task(waiter());
        auto wait_started = loop_until([&] { return started.load(); });
        if (!co_await std::move(wait_started)) {
            co_return "the job never started";
        }
        t.cancel();
        std::string seen;
        try {
            co_await t;
            seen = "not cancelled";
        } catch (const aio::cancelled_error&) {
            seen = finished ? "cancelled after the job" : "cancelled while the job runs";
        }
        release.open = true;  // now let the job finish; the loop stays up until it has
        auto wait_finished = loop_until([&] { return finished.load(); });
        co_await std::move(wait_finished);
        co_return seen;
    };
    REQUIRE(aio::run(main()) == "cancelled while the job runs");
    REQUIRE(finished);
    REQUIRE(tracked::alive == 0);  // the dropped result was destroyed: nothing leaked
}

TEST_CASE("a to_thread cancelled before its job started never runs the function, as asyncio's "
          "executor future",
          "[to_thread][thread][cancel]") {
    aio::thread_pool pool(1);
    gate release;
    std::atomic<bool> first_started{false};
    std::atomic<bool> second_ran{false};
    auto main = [&]() -> aio::task<std::string> {
        aio::event_loop& loop = aio::get_running_loop();
        auto first = loop.run_in_executor(&pool, [&] {
            first_started = true;
            release.pass();
        });
        auto second_job = [&]() -> aio::task<> {
            auto second = loop.run_in_executor(&pool, [&] { second_ran = true; });
            co_await std::move(second);
        };
        aio::task_handle<> t = aio::create_task(second_job());
        auto wait_started = loop_until([&] { return first_started.load(); });
        co_await std::move(wait_started);
        co_await aio::sleep(0s);  // t submits its job behind the held one
        t.cancel();
        std::string seen = "not cancelled";
        try {
            co_await t;
        } catch (const aio::cancelled_error&) {
            seen = "cancelled";
        }
        release.open = true;
        co_await std::move(first);
        co_return seen;
    };
    REQUIRE(aio::run(main()) == "cancelled");
    pool.shutdown();  // every queued job has been taken: the withdrawn one did nothing
    REQUIRE_FALSE(second_ran);
}

TEST_CASE("wait_for around to_thread times out while the function goes on in its thread",
          "[to_thread][thread][wait_for]") {
    gate release;
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    auto main = [&]() -> aio::task<bool> {
        // Submitted at once (run_in_executor), and awaited only once a worker runs it: a job
        // still queued when the timeout fired would be withdrawn, never run.
        auto slow = aio::get_running_loop().run_in_executor(nullptr, [&] {
            started = true;
            release.pass();
            finished = true;
        });
        for (int i = 0; i < 10000 && !started; ++i) {
            co_await aio::sleep(1ms);
        }
        REQUIRE(started);
        bool timed_out = false;
        try {
            auto op = aio::wait_for(std::move(slow), 20ms);
            co_await std::move(op);
        } catch (const aio::timeout_error&) {
            timed_out = true;
        }
        release.open = true;
        co_return timed_out;
    };
    REQUIRE(aio::run(main()));  // aio::run waits for the default executor's job
    REQUIRE(finished);
}

TEST_CASE("10000 to_thread calls complete on no more threads than the default executor's bound",
          "[to_thread][thread][pool]") {
    constexpr int calls = 10000;
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    auto main = [&]() -> aio::task<long long> {
        std::vector<aio::task<int>> jobs;
        jobs.reserve(calls);
        for (int i = 0; i < calls; ++i) {
            jobs.push_back(aio::to_thread(
                [&](int k) {
                    std::lock_guard lock(ids_mutex);
                    ids.insert(std::this_thread::get_id());
                    return k;
                },
                i));
        }
        auto all = aio::gather(std::move(jobs));
        const std::vector<int> results = co_await std::move(all);
        long long sum = 0;
        for (int i = 0; i < calls; ++i) {
            sum += results[static_cast<std::size_t>(i)] == i ? 1 : 0;
        }
        co_return sum;
    };
    REQUIRE(aio::run(main()) == calls);  // every result, in its place
    REQUIRE(ids.size() >= 1);
    REQUIRE(ids.size() <= aio::thread_pool::default_max_threads());
    REQUIRE(ids.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("run_in_executor runs the function on an explicit thread pool and keeps its bound",
          "[to_thread][thread][pool]") {
    aio::thread_pool pool(2);
    std::mutex ids_mutex;
    std::set<std::thread::id> ids;
    auto main = [&]() -> aio::task<int> {
        aio::event_loop& loop = aio::get_running_loop();
        std::vector<aio::executor_future<int>> calls;
        for (int i = 0; i < 50; ++i) {  // submitted at once, as asyncio's run_in_executor
            calls.push_back(loop.run_in_executor(
                &pool,
                [&](int k) {
                    std::this_thread::sleep_for(100us);
                    std::lock_guard lock(ids_mutex);
                    ids.insert(std::this_thread::get_id());
                    return k;
                },
                i));
        }
        int sum = 0;
        for (auto& call : calls) {
            sum += co_await call;
        }
        co_return sum;
    };
    REQUIRE(aio::run(main()) == 49 * 50 / 2);
    REQUIRE(pool.thread_count() <= 2);
    REQUIRE(ids.size() <= 2);
}

TEST_CASE("an executor future awaited twice on the loop thread is invalid_state_error",
          "[to_thread][thread]") {
    auto main = []() -> aio::task<int> {
        auto call = aio::get_running_loop().run_in_executor(nullptr, [] { return 3; });
        const int first = co_await call;
        try {
            co_await call;
        } catch (const aio::invalid_state_error&) {
            co_return first;
        }
        co_return -1;
    };
    REQUIRE(aio::run(main()) == 3);
}

TEST_CASE("shutdown_default_executor waits for the default executor's running jobs on their "
          "threads",
          "[to_thread][thread][pool]") {
    std::atomic<bool> finished{false};
    auto main = [&]() -> aio::task<std::string> {
        aio::event_loop& loop = aio::get_running_loop();
        std::atomic<bool> started{false};
        auto job = loop.run_in_executor(nullptr, [&] {
            started = true;
            std::this_thread::sleep_for(30ms);
            finished = true;
        });
        auto wait_started = loop_until([&] { return started.load(); });
        co_await std::move(wait_started);
        auto shutdown = loop.shutdown_default_executor();
        co_await std::move(shutdown);
        if (!finished) {
            co_return "returned before the job finished";
        }
        co_await job;
        try {
            auto late = aio::to_thread([] {});
            co_await std::move(late);
        } catch (const aio::event_loop_error&) {
            co_return "refused after shutdown";
        }
        co_return "accepted after shutdown";
    };
    REQUIRE(aio::run(main()) == "refused after shutdown");
}

TEST_CASE("a loop on virtual time does not jump its clock while a to_thread job is in flight",
          "[to_thread][thread][virtual_time]") {
    auto main = []() -> aio::task<std::string> {
        aio::event_loop& loop = aio::get_running_loop();
        const auto start = loop.time();
        bool timer_fired = false;
        aio::task_handle<> sleeper = aio::create_task([](bool& fired) -> aio::task<> {
            co_await aio::sleep(1h);
            fired = true;
        }(timer_fired));
        auto job = aio::to_thread([] { std::this_thread::sleep_for(20ms); });
        co_await std::move(job);  // the loop blocks for the job instead of jumping an hour
        const bool jumped = loop.time() != start || timer_fired;
        sleeper.cancel();
        co_return jumped ? "jumped past the job" : "waited for the job";
    };
    REQUIRE(run_virtual(main()) == "waited for the job");
}

TEST_CASE("run_coroutine_threadsafe from a foreign thread gives the task's result through a "
          "std::future",
          "[to_thread][thread][run_coroutine_threadsafe]") {
    aio::event_loop loop;
    std::atomic<bool> done{false};
    int answer = 0;
    std::thread::id ran_on;
    std::thread foreign([&] {
        std::future<int> f = aio::run_coroutine_threadsafe(
            [](std::thread::id& on) -> aio::task<int> {
                on = std::this_thread::get_id();
                co_await aio::sleep(1ms);
                co_return 42;
            }(ran_on),
            loop);
        if (f.wait_for(10s) == std::future_status::ready) {
            answer = f.get();
        }
        done = true;
    });
    const bool ok = loop.run_until_complete(loop_until([&] { return done.load(); }));
    foreign.join();
    REQUIRE(ok);
    REQUIRE(answer == 42);
    REQUIRE(ran_on == std::this_thread::get_id());  // the task ran on the loop's thread
}

TEST_CASE("run_coroutine_threadsafe passes the task's exception to the foreign thread",
          "[to_thread][thread][run_coroutine_threadsafe]") {
    auto main = []() -> aio::task<std::string> {
        aio::event_loop& loop = aio::get_running_loop();
        // A pool thread is as foreign to the loop as any other.
        auto ask = aio::to_thread([&loop]() -> std::string {
            std::future<int> f = aio::run_coroutine_threadsafe(
                []() -> aio::task<int> {
                    co_await aio::sleep(0s);
                    throw std::out_of_range("no such key");
                }(),
                loop);
            try {
                f.get();
            } catch (const std::out_of_range&) {  // the type is what this test checks
                return "out_of_range";
            }
            return "no exception";
        });
        co_return co_await std::move(ask);
    };
    REQUIRE(aio::run(main()) == "out_of_range");
}

TEST_CASE("run_coroutine_threadsafe on a closed loop throws event_loop_error in the calling thread",
          "[to_thread][thread][run_coroutine_threadsafe]") {
    aio::event_loop loop;
    loop.close();
    REQUIRE_THROWS_AS(
        aio::run_coroutine_threadsafe([]() -> aio::task<int> { co_return 1; }(), loop),
        aio::event_loop_error);
}

TEST_CASE("a run_coroutine_threadsafe future gets event_loop_error when the loop closes before "
          "the task finished on its thread",
          "[to_thread][thread][run_coroutine_threadsafe]") {
    std::future<int> f;
    {
        aio::event_loop loop;
        f = aio::run_coroutine_threadsafe(
            []() -> aio::task<int> {
                co_await aio::sleep(1h);
                co_return 1;
            }(),
            loop);
        loop.run_until_complete([]() -> aio::task<> {
            co_await aio::sleep(0s);  // the handed-over task starts and sleeps
            co_await aio::sleep(0s);
        }());
    }  // closed with the task pending
    REQUIRE(f.wait_for(0s) == std::future_status::ready);
    REQUIRE_THROWS_AS(f.get(), aio::event_loop_error);
}

TEST_CASE("a job on an explicit pool that finishes after its loop closed drops its result on "
          "its thread",
          "[to_thread][thread][pool]") {
    aio::thread_pool pool(1);
    gate release;
    std::atomic<bool> started{false};
    tracked::alive = 0;
    {
        aio::event_loop loop;
        loop.run_until_complete(
            [](aio::thread_pool& p, gate& g, std::atomic<bool>& s) -> aio::task<> {
                aio::event_loop& l = aio::get_running_loop();
                auto call = l.run_in_executor(&p, [&g, &s] {
                    s = true;
                    g.pass();
                    return tracked(1);
                });
                (void)call;  // never awaited: the loop closes with the job running
                auto wait_started = loop_until([&s] { return s.load(); });
                co_await std::move(wait_started);
            }(pool, release, started));
    }
    release.open = true;
    pool.shutdown();
    REQUIRE(started);
    REQUIRE(tracked::alive == 0);
}

TEST_CASE("closing a loop waits for the default executor's running jobs on their threads",
          "[to_thread][thread][pool]") {
    gate release;
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    aio::event_loop loop;
    loop.run_until_complete([](gate& g, std::atomic<bool>& s, std::atomic<bool>& f) -> aio::task<> {
        auto call = aio::get_running_loop().run_in_executor(nullptr, [&g, &s, &f] {
            s = true;
            g.pass();
            f = true;
        });
        (void)call;  // never awaited: the loop stops with the job running
        auto wait_started = loop_until([&s] { return s.load(); });
        co_await std::move(wait_started);
    }(release, started, finished));
    std::thread opener([&] {
        std::this_thread::sleep_for(50ms);
        release.open = true;
    });
    loop.close();  // blocks until the job has ended
    const bool finished_at_close = finished;
    opener.join();
    REQUIRE(finished_at_close);
}
