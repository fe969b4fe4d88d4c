// SPDX-License-Identifier: MIT
// Tests for <aio/event.hpp>: aio::event, asyncio.Event's semantics (ported from CPython's
// Lib/test/test_asyncio/test_locks.py, EventTests; each test names the one it follows), and
// cancellation from every direction.
#include "helpers/catch.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::task<void> waiter(aio::event& ev, int tag, std::vector<int>& order) {
    co_await ev.wait();
    order.push_back(tag);
}

}  // namespace

TEST_CASE("set() wakes every waiter in order: a task waiting on a set event does not suspend",
          "[locks][event]") {
    // test_wait
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::event ev;
        CHECK(!ev.is_set());
        auto t1 = aio::create_task(waiter(ev, 1, order));
        auto t2 = aio::create_task(waiter(ev, 2, order));
        co_await yield_times(1);
        CHECK(order.empty());
        auto t3 = aio::create_task(waiter(ev, 3, order));  // starts after set(): never waits
        ev.set();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{3, 1, 2});
        CHECK((t1.done() && t2.done() && t3.done()));
    }(order));
}

TEST_CASE("waiting on an event that is set returns at once", "[locks][event]") {
    // test_wait_on_set
    run_virtual([]() -> aio::task<void> {
        aio::event ev;
        ev.set();
        co_await ev.wait();
        CHECK(ev.is_set());
    }());
}

TEST_CASE("clear() resets the flag", "[locks][event]") {
    // test_clear
    aio::event ev;
    CHECK(!ev.is_set());
    ev.set();
    CHECK(ev.is_set());
    ev.clear();
    CHECK(!ev.is_set());
}

TEST_CASE("a clear() after set() does not take the wake-up back from the waiters",
          "[locks][event]") {
    // test_clear_with_waiters
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::event ev;
        auto t = aio::create_task(waiter(ev, 1, order));
        co_await yield_times(1);
        CHECK(order.empty());
        ev.set();
        ev.clear();
        CHECK(!ev.is_set());
        ev.set();
        ev.set();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        CHECK(t.done());
        ev.clear();
        auto later = aio::create_task(waiter(ev, 2, order));  // a wait after clear() blocks
        co_await yield_times(2);
        CHECK(!later.done());
        ev.set();
        co_await later;
    }(order));
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("a cancelled event waiter ends cancelled and is not woken by set()",
          "[locks][event][cancel]") {
    // test_wait_cancel: cancelling the waiting task directly (handle.cancel()).
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::event ev;
        auto a = aio::create_task(waiter(ev, 1, order));
        auto b = aio::create_task(waiter(ev, 2, order));
        co_await yield_times(1);
        CHECK(a.cancel());
        co_await yield_times(1);
        CHECK(a.cancelled());
        ev.set();
        co_await b;
    }(order));
    CHECK(order == std::vector<int>{2});
}

TEST_CASE("wait_for gives up on an event that is never set", "[locks][event][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::event ev;
        auto bounded = aio::wait_for(ev.wait(), 2ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        ev.set();
        auto in_time = aio::wait_for(ev.wait(), 1s);
        co_await in_time;
    }());
}

TEST_CASE("a failing gather sibling cancels a task waiting for an event",
          "[locks][event][cancel]") {
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::event ev;
        auto both = aio::gather(waiter(ev, 1, order), fail_soon());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        ev.set();
        co_await yield_times(1);
    }(order));
    CHECK(order.empty());
}
