// SPDX-License-Identifier: MIT
// Tests for <aio/condition.hpp>: aio::condition, asyncio.Condition's semantics (ported from
// CPython's Lib/test/test_asyncio/test_locks.py, ConditionTests; each test names the one it
// follows): wait() takes the lock again even when cancelled (bpo-32841), a notify() racing a
// cancel is not lost (gh-112202), misuse without the lock, and cancellation from every
// direction.
#include "helpers/catch.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/condition.hpp>
#include <aio/errors.hpp>
#include <aio/gather.hpp>
#include <aio/lock.hpp>
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

/// Takes the lock, waits once, records the tag; keeps the lock unless `release`.
aio::task<void> wait_once(aio::condition& cond, int tag, std::vector<int>& order,
                          bool release = false) {
    co_await cond.acquire();
    co_await cond.wait();
    order.push_back(tag);
    if (release) {
        cond.release();
    }
}

/// Consumes `state` items until state < 0 (the consumer of gh-112202's tests).
aio::task<void> consumer(aio::condition& cond, int& state) {
    auto guard = co_await cond.scoped();
    for (;;) {
        auto nonzero = [&state] { return state != 0; };
        co_await cond.wait_for(nonzero);
        if (state < 0) {
            co_return;
        }
        --state;
    }
}

}  // namespace

TEST_CASE("a notified waiter returns from wait() only once it holds the lock again",
          "[locks][condition]") {
    // test_wait
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::condition cond;
        auto t1 = aio::create_task(wait_once(cond, 1, order));
        auto t2 = aio::create_task(wait_once(cond, 2, order));
        auto t3 = aio::create_task(wait_once(cond, 3, order));
        co_await yield_times(1);
        CHECK(order.empty());
        CHECK(!cond.locked());  // wait() released it
        co_await cond.acquire();
        cond.notify();
        co_await yield_times(1);
        CHECK(order.empty());  // notified, but the lock is ours
        CHECK(cond.locked());
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        CHECK(cond.locked());  // t1 keeps it
        cond.notify(2);
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2});
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK(cond.locked());
        CHECK((t1.done() && t2.done() && t3.done()));
    }(order));
}

TEST_CASE("a cancelled wait() ends cancelled, holding the lock again",
          "[locks][condition][cancel]") {
    // test_wait_cancel: cancelling the waiting task directly (handle.cancel()).
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        co_await cond.acquire();
        auto waiting = aio::create_task(cond.wait());
        co_await yield_times(1);
        CHECK(!cond.locked());
        CHECK(waiting.cancel());
        CHECK_THROWS_AS(co_await waiting, aio::cancelled_error);
        CHECK(cond.locked());
        cond.notify();  // nobody waits any more: nothing happens
        cond.release();
    }());
}

TEST_CASE("a notified wait() cancelled while the lock is contested still takes the lock",
          "[locks][condition][cancel]") {
    // test_wait_cancel_contested
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        co_await cond.acquire();
        auto waiting = aio::create_task(cond.wait());
        co_await yield_times(1);
        CHECK(!cond.locked());
        co_await cond.acquire();  // contest the lock, then notify and cancel
        cond.notify();
        auto cancel = aio::get_running_loop().call_soon([&waiting] { waiting.cancel(); });
        auto release = aio::get_running_loop().call_soon([&cond] { cond.release(); });
        try {
            co_await waiting;
        } catch (const aio::cancelled_error&) {
        }
        CHECK(cond.locked());
        CHECK(waiting.done());
    }());
}

TEST_CASE("a wait() cancelled while it takes the lock again waits for the lock, then ends "
          "cancelled",
          "[locks][condition][cancel]") {
    // test_wait_cancel_after_notify (bpo-32841)
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        bool waited = false;
        auto body = [](aio::condition& cond, bool& waited) -> aio::task<void> {
            auto guard = co_await cond.scoped();
            waited = true;
            co_await cond.wait();
        };
        auto waiter = aio::create_task(body(cond, waited));
        co_await yield_times(1);  // waiting
        co_await cond.acquire();
        cond.notify();
        co_await yield_times(1);  // the waiter now waits for the lock
        CHECK(waiter.cancel());
        co_await yield_times(1);  // the cancellation is taken: it waits for the lock again
        CHECK(!waiter.done());
        cond.release();
        co_await yield_times(1);
        CHECK(waiter.cancelled());
        CHECK(waited);
        CHECK(!cond.locked());  // the waiter's guard released it
    }());
}

TEST_CASE("wait(), notify() and notify_all() without the lock throw invalid_state_error",
          "[locks][condition]") {
    // test_wait_unacquired, test_notify_unacquired, test_notify_all_unacquired
    aio::condition cond;
    CHECK_THROWS_AS(cond.notify(), aio::invalid_state_error);
    CHECK_THROWS_AS(cond.notify_all(), aio::invalid_state_error);
    run_virtual([](aio::condition& cond) -> aio::task<void> {
        CHECK_THROWS_AS(co_await cond.wait(), aio::invalid_state_error);
        CHECK(!cond.locked());
    }(cond));
}

TEST_CASE("wait_for() waits until the predicate holds and returns its value",
          "[locks][condition]") {
    // test_wait_for
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::condition cond;
        bool presult = false;
        auto c1 = [](aio::condition& cond, bool& presult,
                     std::vector<int>& order) -> aio::task<void> {
            co_await cond.acquire();
            auto predicate = [&presult] { return presult; };
            if (co_await cond.wait_for(predicate)) {
                order.push_back(1);
                cond.release();
            }
        };
        auto t = aio::create_task(c1(cond, presult, order));
        co_await yield_times(1);
        CHECK(order.empty());
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await yield_times(1);
        CHECK(order.empty());  // woken, predicate still false: waits again
        presult = true;
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        CHECK(t.done());
    }(order));
}

TEST_CASE("wait_for() with a true predicate returns without the lock: a false one needs it",
          "[locks][condition]") {
    // test_wait_for_unacquired
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        auto answer = [] { return 42; };
        const int value = co_await cond.wait_for(answer);
        CHECK(value == 42);
        auto never = [] { return false; };
        CHECK_THROWS_AS(co_await cond.wait_for(never), aio::invalid_state_error);
    }());
}

TEST_CASE("notify(n) wakes n waiters in order: notify_all() wakes them all", "[locks][condition]") {
    // test_notify, test_notify_all
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::condition cond;
        auto t1 = aio::create_task(wait_once(cond, 1, order, true));
        auto t2 = aio::create_task(wait_once(cond, 2, order, true));
        auto t3 = aio::create_task(wait_once(cond, 3, order, true));
        co_await yield_times(1);
        co_await cond.acquire();
        cond.notify(1);
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        co_await cond.acquire();
        cond.notify(1);
        cond.notify(2048);
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2, 3});
        auto t4 = aio::create_task(wait_once(cond, 4, order, true));
        auto t5 = aio::create_task(wait_once(cond, 5, order, true));
        co_await yield_times(1);
        co_await cond.acquire();
        cond.notify_all();
        cond.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2, 3, 4, 5});
        CHECK((t1.done() && t2.done() && t3.done() && t4.done() && t5.done()));
    }(order));
}

TEST_CASE("a condition's scoped guard holds its lock: a shared lock is the same lock",
          "[locks][condition]") {
    // test_context_manager, test_explicit_lock
    run_virtual([]() -> aio::task<void> {
        aio::condition own;
        {
            auto g = co_await own.scoped();
            CHECK(own.locked());
        }
        CHECK(!own.locked());

        aio::lock shared;
        aio::condition cond(shared);
        {
            auto g = co_await cond.scoped();
            CHECK(shared.locked());
            CHECK(cond.locked());
        }
        CHECK(!shared.locked());
        {
            auto g = co_await shared.scoped();
            CHECK(cond.locked());
            cond.notify();  // the shared lock is held: allowed
        }
        CHECK(!cond.locked());
    }());
}

TEST_CASE("wait_for times out a wait() and the lock is held again afterwards",
          "[locks][condition][cancel]") {
    // test_timeout_in_block
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        auto g = co_await cond.scoped();
        auto bounded = aio::wait_for(cond.wait(), 2ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        CHECK(cond.locked());
    }());
}

TEST_CASE("a notify() racing a cancel of the notified waiter goes to another waiter",
          "[locks][condition][cancel]") {
    // test_cancelled_wakeup (gh-112202): the waiter is cancelled after notify() woke it,
    // before it ran. (The CPython test waits with a timeout for the item to be consumed; here
    // the lock is released and the loop runs a few times instead.)
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        int state = 0;
        auto c0 = aio::create_task(consumer(cond, state));
        auto c1 = aio::create_task(consumer(cond, state));
        co_await yield_times(1);
        {
            auto g = co_await cond.scoped();
            state += 1;
            cond.notify(1);
            CHECK(c0.cancel());
        }
        co_await yield_times(3);
        CHECK(c0.cancelled());
        CHECK(state == 0);  // c1 consumed the item
        {
            auto g = co_await cond.scoped();
            state = -1;
            cond.notify_all();
        }
        co_await c1;
    }());
}

TEST_CASE("a notified waiter cancelled while it takes the lock again passes the notification on",
          "[locks][condition][cancel]") {
    // test_cancelled_wakeup_relock (gh-112202)
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        int state = 0;
        auto c0 = aio::create_task(consumer(cond, state));
        auto c1 = aio::create_task(consumer(cond, state));
        co_await yield_times(1);
        {
            auto g = co_await cond.scoped();
            state += 1;
            cond.notify(1);
            co_await yield_times(1);  // c0 wakes up and waits for the lock
            CHECK(c0.cancel());
        }
        co_await yield_times(3);
        CHECK(c0.cancelled());
        CHECK(state == 0);
        {
            auto g = co_await cond.scoped();
            state = -1;
            cond.notify_all();
        }
        co_await c1;
    }());
}

TEST_CASE("a failing gather sibling cancels a task waiting on a condition",
          "[locks][condition][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::condition cond;
        int state = 0;
        auto both = aio::gather(consumer(cond, state), fail_soon());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        CHECK(!cond.locked());  // the consumer took the lock again, then its guard released it
    }());
}
