// SPDX-License-Identifier: MIT
// Tests for <aio/barrier.hpp>: aio::barrier, asyncio.Barrier's semantics (ported from CPython's
// Lib/test/test_asyncio/test_locks.py, BarrierTests; each test names the one it follows):
// arrival indices, draining, a cancelled waiter leaving the count, reset() and abort()
// breaking waiters, and cancellation from every direction.
#include "helpers/catch.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/barrier.hpp>
#include <aio/errors.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <numeric>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::size_t N = 5;

std::vector<std::size_t> indices(std::size_t n) {
    std::vector<std::size_t> v(n);
    std::iota(v.begin(), v.end(), std::size_t{0});
    return v;
}

}  // namespace

TEST_CASE("a barrier needs at least one party", "[locks][barrier]") {
    // test_barrier_parties
    CHECK_THROWS_AS(aio::barrier(0), std::invalid_argument);
    CHECK_THROWS_AS(aio::barrier(-4), std::invalid_argument);
    aio::barrier b(static_cast<std::ptrdiff_t>(N));
    CHECK(b.parties() == N);
    CHECK(b.n_waiting() == 0);
    CHECK(!b.broken());
    CHECK(b.state() == aio::barrier::state_type::filling);
}

TEST_CASE("the parties of a round pass together, each with a distinct arrival index",
          "[locks][barrier]") {
    // test_context_manager, test_filling_one_task
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        std::vector<aio::task<std::size_t>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(b.wait());
        }
        std::vector<std::size_t> got = co_await aio::gather(std::move(tasks));
        std::sort(got.begin(), got.end());
        CHECK(got == indices(N));
        CHECK(b.n_waiting() == 0);
        CHECK(!b.broken());

        aio::barrier one(1);
        CHECK(co_await one.wait() == 0);
        CHECK(one.n_waiting() == 0);
    }());
}

TEST_CASE("a one-party barrier lets each task through alone", "[locks][barrier]") {
    // test_filling_one_task_twice
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(1);
        auto t1 = aio::create_task(b.wait());
        co_await yield_times(1);
        CHECK(b.n_waiting() == 0);
        auto t2 = aio::create_task(b.wait());
        co_await yield_times(1);
        CHECK((t1.done() && t2.done()));
        CHECK(t1.result() == t2.result());
        CHECK(!b.broken());
    }());
}

TEST_CASE("n_waiting() counts the tasks of the round being filled", "[locks][barrier]") {
    // test_filling_task_by_task
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(3);
        auto t1 = aio::create_task(b.wait());
        co_await yield_times(1);
        CHECK(b.n_waiting() == 1);
        CHECK(b.state() == aio::barrier::state_type::filling);
        auto t2 = aio::create_task(b.wait());
        co_await yield_times(1);
        CHECK(b.n_waiting() == 2);
        auto t3 = aio::create_task(b.wait());
        co_await aio::gather(t1, t2, t3);
        CHECK(b.n_waiting() == 0);
        CHECK(!b.broken());
    }());
}

TEST_CASE("a barrier can be passed again and again by the same tasks", "[locks][barrier]") {
    // test_filling_tasks_wait_twice, test_filling_tasks_check_return_value
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        int first = 0;
        int second = 0;
        auto coro = [](aio::barrier& b, int& first, int& second) -> aio::task<std::size_t> {
            co_await b.wait();
            ++first;
            const std::size_t i = co_await b.wait();
            ++second;
            co_return i;
        };
        std::vector<aio::task<std::size_t>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(coro(b, first, second));
        }
        std::vector<std::size_t> got = co_await aio::gather(std::move(tasks));
        std::sort(got.begin(), got.end());
        CHECK(got == indices(N));
        CHECK(first == static_cast<int>(N));
        CHECK(second == static_cast<int>(N));
        CHECK(b.n_waiting() == 0);
    }());
}

TEST_CASE("a round drains until its last task has left wait()", "[locks][barrier]") {
    // test_draining_state
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        std::vector<bool> draining;
        auto coro = [](aio::barrier& b, std::vector<bool>& draining) -> aio::task<void> {
            co_await b.wait();
            draining.push_back(b.state() == aio::barrier::state_type::draining);
        };
        std::vector<aio::task<void>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(coro(b, draining));
        }
        co_await aio::gather(std::move(tasks));
        REQUIRE(draining.size() == N);
        CHECK(std::count(draining.begin(), draining.end() - 1, true) == N - 1);
        CHECK(!draining.back());
        CHECK(b.state() == aio::barrier::state_type::filling);
    }());
}

TEST_CASE("tasks arriving while a round drains wait for the next round", "[locks][barrier]") {
    // test_blocking_tasks_while_draining
    run_virtual([]() -> aio::task<void> {
        constexpr int rewait = 2;
        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        aio::barrier others(static_cast<std::ptrdiff_t>(N) - rewait);
        int rewait_n = rewait;
        auto coro = [](aio::barrier& b, aio::barrier& others, int& rewait_n) -> aio::task<void> {
            co_await b.wait();
            if (rewait_n > 0) {
                --rewait_n;
                co_await b.wait();  // straight back in: must wait for the round to drain
            } else {
                co_await others.wait();
                co_await b.wait();
            }
        };
        std::vector<aio::task<void>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(coro(b, others, rewait_n));
        }
        co_await aio::gather(std::move(tasks));
        CHECK(b.n_waiting() == 0);
    }());
}

TEST_CASE("a cancelled barrier waiter leaves the count", "[locks][barrier][cancel]") {
    // test_filling_tasks_cancel_one: cancelling the waiting task directly (handle.cancel()).
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(3);
        int passed = 0;
        auto coro = [](aio::barrier& b, int& passed) -> aio::task<void> {
            co_await b.wait();
            ++passed;
        };
        auto t1 = aio::create_task(coro(b, passed));
        co_await yield_times(1);
        CHECK(b.n_waiting() == 1);
        auto t2 = aio::create_task(coro(b, passed));
        co_await yield_times(1);
        CHECK(b.n_waiting() == 2);
        CHECK(t1.cancel());
        co_await yield_times(1);
        CHECK(b.n_waiting() == 1);
        CHECK_THROWS_AS(co_await t1, aio::cancelled_error);
        CHECK(t1.cancelled());
        auto t3 = aio::create_task(coro(b, passed));
        co_await yield_times(1);
        CHECK(b.n_waiting() == 2);
        auto t4 = aio::create_task(coro(b, passed));
        co_await aio::gather(t2, t3, t4);
        CHECK(passed == 3);
        CHECK(b.n_waiting() == 0);
        CHECK(!b.broken());
    }());
}

TEST_CASE("reset() of an empty barrier leaves it filling", "[locks][barrier]") {
    // test_reset_barrier
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(1);
        co_await b.reset();
        CHECK(b.n_waiting() == 0);
        CHECK(!b.broken());
        CHECK(b.state() == aio::barrier::state_type::filling);
    }());
}

TEST_CASE("reset() breaks the waiting tasks and leaves the barrier usable", "[locks][barrier]") {
    // test_reset_barrier_while_tasks_waiting, test_reset_barrier_while_tasks_waiting_and_
    // waiting_again
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        int broken = 0;
        int passed = 0;
        auto coro = [](aio::barrier& b, int& broken, int& passed) -> aio::task<void> {
            try {
                co_await b.wait();
            } catch (const aio::broken_barrier_error&) {
                ++broken;
            }
            co_await b.wait();  // the next round
            ++passed;
        };
        std::vector<aio::task_handle<void>> tasks;
        for (std::size_t i = 0; i + 1 < N; ++i) {
            tasks.push_back(aio::create_task(coro(b, broken, passed)));
        }
        co_await yield_times(1);
        CHECK(b.n_waiting() == N - 1);
        co_await b.reset();
        CHECK(b.state() == aio::barrier::state_type::resetting);
        co_await yield_times(3);
        CHECK(broken == static_cast<int>(N) - 1);
        CHECK(b.n_waiting() == N - 1);  // all back, waiting in the next round
        co_await b.wait();              // the missing party
        co_await aio::gather(std::move(tasks));
        CHECK(passed == static_cast<int>(N) - 1);
        CHECK(!b.broken());
        CHECK(b.n_waiting() == 0);
    }());
}

TEST_CASE("abort() breaks the barrier for its waiters and later tasks until reset()",
          "[locks][barrier]") {
    // test_abort_barrier, test_abort_barrier_when_exception
    run_virtual([]() -> aio::task<void> {
        aio::barrier one(1);
        co_await one.abort();
        CHECK(one.broken());
        CHECK(one.n_waiting() == 0);

        aio::barrier b(static_cast<std::ptrdiff_t>(N));
        int passed = 0;
        int broken = 0;
        auto coro = [](aio::barrier& b, int& passed, int& broken) -> aio::task<void> {
            bool failed = false;
            try {
                const std::size_t i = co_await b.wait();
                if (i == N / 2) {
                    throw std::runtime_error("boom");
                }
                co_await b.wait();
                ++passed;
            } catch (const aio::broken_barrier_error&) {
                ++broken;
            } catch (const std::runtime_error&) {
                failed = true;
            }
            if (failed) {
                co_await b.abort();
            }
        };
        std::vector<aio::task<void>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(coro(b, passed, broken));
        }
        co_await aio::gather(std::move(tasks));
        CHECK(b.broken());
        CHECK(passed == 0);
        CHECK(broken == static_cast<int>(N) - 1);
        CHECK(b.n_waiting() == 0);
        CHECK_THROWS_AS(co_await b.wait(), aio::broken_barrier_error);
        co_await b.reset();
        CHECK(!b.broken());
    }());
}

TEST_CASE("an aborted barrier works again after reset()", "[locks][barrier]") {
    // test_abort_barrier_when_exception_then_resetting
    run_virtual([]() -> aio::task<void> {
        aio::barrier b1(static_cast<std::ptrdiff_t>(N));
        aio::barrier b2(static_cast<std::ptrdiff_t>(N));
        int r1 = 0;
        int r2 = 0;
        int r3 = 0;
        auto coro = [](aio::barrier& b1, aio::barrier& b2, int& r1, int& r2,
                       int& r3) -> aio::task<void> {
            bool failed = false;
            try {
                const std::size_t i = co_await b1.wait();
                if (i == N / 2) {
                    throw std::runtime_error("boom");
                }
                co_await b1.wait();
                ++r1;
            } catch (const aio::broken_barrier_error&) {
                ++r2;
            } catch (const std::runtime_error&) {
                failed = true;
            }
            if (failed) {
                co_await b1.abort();
            }
            // Everyone has left b1 before the reset, and nobody enters it before.
            const std::size_t i = co_await b2.wait();
            if (i == N / 2) {
                co_await b1.reset();
            }
            co_await b2.wait();
            co_await b1.wait();
            ++r3;
        };
        std::vector<aio::task<void>> tasks;
        for (std::size_t i = 0; i < N; ++i) {
            tasks.push_back(coro(b1, b2, r1, r2, r3));
        }
        co_await aio::gather(std::move(tasks));
        CHECK(!b1.broken());
        CHECK(r1 == 0);
        CHECK(r2 == static_cast<int>(N) - 1);
        CHECK(r3 == static_cast<int>(N));
        CHECK(b1.n_waiting() == 0);
    }());
}

TEST_CASE("wait_for gives up on a barrier that does not fill, and the round needs one more",
          "[locks][barrier][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(2);
        auto bounded = aio::wait_for(b.wait(), 2ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        CHECK(b.n_waiting() == 0);
        auto other = aio::create_task(b.wait());
        co_await yield_times(1);
        CHECK(b.n_waiting() == 1);
        const std::size_t mine = co_await b.wait();
        CHECK(mine == 1);
        CHECK(co_await other == 0);
    }());
}

TEST_CASE("a failing gather sibling cancels a task waiting at a barrier",
          "[locks][barrier][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::barrier b(2);
        auto both = aio::gather(b.wait(), fail_soon());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        CHECK(b.n_waiting() == 0);
        CHECK(!b.broken());
    }());
}
