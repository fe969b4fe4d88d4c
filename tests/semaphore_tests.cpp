// SPDX-License-Identifier: MIT
// Tests for <aio/semaphore.hpp>: aio::semaphore and aio::bounded_semaphore, asyncio 3.13's
// semantics (ported from CPython's Lib/test/test_asyncio/test_locks.py, SemaphoreTests; each
// test names the one it follows): strict FIFO, no hang after cancellations (gh-90155,
// gh-97545), the scoped guard, and cancellation from every direction.
#include "helpers/catch.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/semaphore.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Takes a permit (for good) and records the tag.
aio::task<void> take(aio::semaphore& sem, int tag, std::vector<int>& order) {
    co_await sem.acquire();
    order.push_back(tag);
}

}  // namespace

TEST_CASE("a semaphore starting at zero is locked: a negative start is invalid",
          "[locks][semaphore]") {
    // test_initial_value_zero, test_semaphore_value
    aio::semaphore zero(0);
    CHECK(zero.locked());
    CHECK(!aio::semaphore().locked());
    CHECK_THROWS_AS(aio::semaphore(-1), std::invalid_argument);
    CHECK_THROWS_AS(aio::bounded_semaphore(-1), std::invalid_argument);
}

TEST_CASE("permits are taken without waiting while free, then in FIFO order",
          "[locks][semaphore]") {
    // test_acquire
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(3);
        co_await sem.acquire();
        co_await sem.acquire();
        CHECK(!sem.locked());
        auto t1 = aio::create_task(take(sem, 1, order));
        auto t2 = aio::create_task(take(sem, 2, order));
        auto t3 = aio::create_task(take(sem, 3, order));
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        CHECK(sem.locked());
        auto t4 = aio::create_task(take(sem, 4, order));  // starts before t2, t3 run: queues
        sem.release();
        sem.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK(sem.locked());
        CHECK(!t4.done());
        sem.release();
        co_await t4;
        CHECK(order == std::vector<int>{1, 2, 3, 4});
    }(order));
}

TEST_CASE("release() without waiters frees a permit", "[locks][semaphore]") {
    // test_release_no_waiters
    run_virtual([]() -> aio::task<void> {
        aio::semaphore sem;
        co_await sem.acquire();
        CHECK(sem.locked());
        sem.release();
        CHECK(!sem.locked());
    }());
}

TEST_CASE("a bounded semaphore refuses to be released above its initial value",
          "[locks][semaphore]") {
    // test_release_not_acquired
    aio::bounded_semaphore sem;
    CHECK_THROWS_AS(sem.release(), aio::invalid_state_error);
    run_virtual([](aio::bounded_semaphore& sem) -> aio::task<void> {
        co_await sem.acquire();
        auto waiter = aio::create_task(
            [](aio::bounded_semaphore& sem) -> aio::task<void> { co_await sem.acquire(); }(sem));
        co_await yield_times(1);
        sem.release();  // the permit is reserved for the woken waiter: none is held now
        CHECK_THROWS_AS(sem.release(), aio::invalid_state_error);
        co_await waiter;
        sem.release();
        CHECK(!sem.locked());
    }(sem));
}

TEST_CASE("a cancelled semaphore waiter leaves the queue", "[locks][semaphore][cancel]") {
    // test_acquire_cancel: cancelling the waiting task directly (handle.cancel()).
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem;
        co_await sem.acquire();
        auto waiter = aio::create_task(take(sem, 1, order));
        co_await yield_times(1);
        CHECK(waiter.cancel());
        co_await yield_times(1);
        CHECK(waiter.cancelled());
        sem.release();
        CHECK(!sem.locked());
    }(order));
    CHECK(order.empty());
}

TEST_CASE("waiters cancelled before a release do not take its permit",
          "[locks][semaphore][cancel]") {
    // test_acquire_cancel_before_awoken
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(0);
        auto t1 = aio::create_task(take(sem, 1, order));
        auto t2 = aio::create_task(take(sem, 2, order));
        auto t3 = aio::create_task(take(sem, 3, order));
        auto t4 = aio::create_task(take(sem, 4, order));
        co_await yield_times(1);
        t1.cancel();
        t2.cancel();
        sem.release();
        co_await yield_times(2);
        CHECK(t3.done());
        CHECK(!t4.done());
        t4.cancel();
        co_await yield_times(1);
        CHECK(t4.cancelled());
    }(order));
    CHECK(order == std::vector<int>{3});
}

TEST_CASE("a release after a cancelled first waiter reaches the next waiter",
          "[locks][semaphore][cancel]") {
    // test_acquire_hang
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(0);
        auto t1 = aio::create_task(take(sem, 1, order));
        auto t2 = aio::create_task(take(sem, 2, order));
        co_await yield_times(1);
        t1.cancel();
        sem.release();
        co_await yield_times(2);
        CHECK(sem.locked());
        CHECK(t2.done());
    }(order));
    CHECK(order == std::vector<int>{2});
}

TEST_CASE("a waiter woken and then cancelled gives its permit back", "[locks][semaphore][cancel]") {
    // test_acquire_no_hang (gh-90155)
    run_virtual([]() -> aio::task<void> {
        aio::semaphore sem(1);
        aio::task_handle<void> t2;
        bool c2_entered = false;
        auto c1 = [](aio::semaphore& sem, aio::task_handle<void>& t2) -> aio::task<void> {
            {
                auto g = co_await sem.scoped();
                co_await aio::sleep(0ms);
            }             // released: t2 is woken...
            t2.cancel();  // ...and cancelled before it runs
        };
        auto c2 = [](aio::semaphore& sem, bool& entered) -> aio::task<void> {
            auto g = co_await sem.scoped();
            entered = true;
        };
        auto t1 = aio::create_task(c1(sem, t2));
        t2 = aio::create_task(c2(sem, c2_entered));
        auto [r1, r2] = co_await aio::gather(aio::return_exceptions, t1, t2);
        CHECK(r1.has_value());
        CHECK(r2.cancelled());
        CHECK(!c2_entered);
        CHECK(!sem.locked());
        auto bounded = aio::wait_for(sem.acquire(), 1s);  // not stuck
        co_await bounded;
    }());
}

TEST_CASE("tasks that release and re-acquire take turns in FIFO order", "[locks][semaphore]") {
    // test_acquire_fifo_order
    std::vector<std::string> log;
    run_virtual([](std::vector<std::string>& log) -> aio::task<void> {
        aio::semaphore sem(1);
        auto coro = [](aio::semaphore& sem, std::string tag,
                       std::vector<std::string>& log) -> aio::task<void> {
            co_await sem.acquire();
            log.push_back(tag + "_1");
            co_await yield_times(1);
            sem.release();
            co_await sem.acquire();
            log.push_back(tag + "_2");
            co_await yield_times(1);
            sem.release();
        };
        co_await aio::gather(coro(sem, "c1", log), coro(sem, "c2", log), coro(sem, "c3", log));
    }(log));
    CHECK(log == std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"});
}

TEST_CASE("a task that releases and re-acquires queues behind the woken waiters",
          "[locks][semaphore]") {
    // test_acquire_fifo_order_2
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(1);
        auto c2 = [](aio::semaphore& sem, std::vector<int>& order) -> aio::task<void> {
            co_await sem.acquire();
            order.push_back(2);
            sem.release();
            co_await sem.acquire();
            order.push_back(4);
        };
        auto t1 = aio::create_task(take(sem, 1, order));
        auto t2 = aio::create_task(c2(sem, order));
        auto t3 = aio::create_task(take(sem, 3, order));
        co_await yield_times(1);
        sem.release();
        sem.release();
        co_await aio::gather(t1, t2, t3);
    }(order));
    CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("a cancelled first waiter does not upset the FIFO order", "[locks][semaphore][cancel]") {
    // test_acquire_fifo_order_3
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(0);
        auto t1 = aio::create_task(take(sem, 1, order));
        auto t2 = aio::create_task(take(sem, 2, order));
        auto t3 = aio::create_task(take(sem, 3, order));
        co_await yield_times(1);
        t1.cancel();
        co_await yield_times(1);
        sem.release();
        sem.release();
        co_await aio::gather(aio::return_exceptions, t1, t2, t3);
    }(order));
    CHECK(order == std::vector<int>{2, 3});
}

TEST_CASE("a woken waiter wakes the waiters that queued behind it while permits were free",
          "[locks][semaphore]") {
    // test_acquire_fifo_order_4 (gh-97545)
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(0);
        aio::task_handle<void> t4;
        auto c4 = [](std::vector<int>& order) -> aio::task<void> {
            order.push_back(4);
            co_return;
        };
        auto c1 = [](aio::semaphore& sem, aio::task_handle<void>& t4, std::vector<int>& order,
                     decltype(c4) c4) -> aio::task<void> {
            co_await sem.acquire();
            CHECK(sem.locked());
            t4 = aio::create_task(c4(order));  // runs after c2 and c3, which c1 woke
            order.push_back(1);
        };
        auto c2 = [](aio::semaphore& sem, std::vector<int>& order) -> aio::task<void> {
            sem.release();
            sem.release();
            sem.release();
            CHECK(sem.locked());  // c1 has not run yet: FIFO
            co_await sem.acquire();
            order.push_back(2);
        };
        auto c3 = [](aio::semaphore& sem, std::vector<int>& order) -> aio::task<void> {
            co_await sem.acquire();
            CHECK(sem.locked());
            order.push_back(3);
        };
        auto t1 = aio::create_task(c1(sem, t4, order, c4));
        auto t2 = aio::create_task(c2(sem, order));
        auto t3 = aio::create_task(c3(sem, order));
        co_await yield_times(1);
        CHECK(sem.locked());
        co_await yield_times(1);
        co_await aio::gather(t1, t2, t3, t4);
    }(order));
    CHECK(order == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("a scoped semaphore guard returns its permit on every way out", "[locks][semaphore]") {
    run_virtual([]() -> aio::task<void> {
        aio::bounded_semaphore sem(2);
        {
            aio::bounded_semaphore::guard a = co_await sem.scoped();
            aio::bounded_semaphore::guard b = co_await sem.scoped();
            CHECK(sem.locked());
        }
        CHECK(!sem.locked());
        CHECK_THROWS_AS(sem.release(), aio::invalid_state_error);  // both permits came back
        auto failing = [](aio::semaphore& sem) -> aio::task<void> {
            aio::semaphore::guard g = co_await sem.scoped();
            throw std::runtime_error("inside");
        };
        aio::semaphore plain(1);
        CHECK_THROWS_AS(co_await failing(plain), std::runtime_error);
        CHECK(!plain.locked());
    }());
}

TEST_CASE("wait_for gives up on a semaphore with no free permit", "[locks][semaphore][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::semaphore sem(0);
        auto bounded = aio::wait_for(sem.acquire(), 2ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        sem.release();
        CHECK(!sem.locked());  // the permit was not given to the timed-out waiter
        auto in_time = aio::wait_for(sem.scoped(), 1s);
        aio::semaphore::guard g = co_await in_time;
        CHECK(sem.locked());
    }());
}

TEST_CASE("a failing gather sibling cancels a task waiting for a semaphore",
          "[locks][semaphore][cancel]") {
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::semaphore sem(0);
        auto both = aio::gather(take(sem, 1, order), fail_soon());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        sem.release();
        CHECK(!sem.locked());
    }(order));
    CHECK(order.empty());
}
