// SPDX-License-Identifier: MIT
// Tests for <aio/lock.hpp>: aio::lock, asyncio.Lock's semantics (ported from CPython's
// Lib/test/test_asyncio/test_locks.py, LockTests; each test names the one it follows): FIFO
// hand-over, no barging past a woken waiter, a woken-then-cancelled waiter passing the lock
// on, never two holders; the scoped guard; cancellation from every direction.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/lock.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Takes the lock (for good) and records the tag.
aio::task<void> take(aio::lock& l, int tag, std::vector<int>& order) {
    co_await l.acquire();
    order.push_back(tag);
}

/// Takes the lock, records the tag, waits for `blocker` if given, releases.
aio::task<void> lockit(aio::lock& l, int tag, std::vector<int>& order,
                       aio::event* blocker = nullptr) {
    co_await l.acquire();
    order.push_back(tag);
    if (blocker != nullptr) {
        co_await blocker->wait();
    }
    l.release();
}

}  // namespace

TEST_CASE("a free lock is taken without waiting and release() frees it", "[locks][lock]") {
    // test_lock, test_release_no_waiters
    run_virtual([]() -> aio::task<void> {
        aio::lock l;
        CHECK(!l.locked());
        co_await l.acquire();
        CHECK(l.locked());
        l.release();
        CHECK(!l.locked());
    }());
}

TEST_CASE("releasing a lock that is not locked throws invalid_state_error", "[locks][lock]") {
    // test_release_not_acquired
    aio::lock l;
    CHECK_THROWS_AS(l.release(), aio::invalid_state_error);
    CHECK(!l.locked());
}

TEST_CASE("waiters get the lock one release at a time, in the order they asked for it",
          "[locks][lock]") {
    // test_acquire
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto t1 = aio::create_task(take(l, 1, order));
        auto t2 = aio::create_task(take(l, 2, order));
        co_await yield_times(1);
        CHECK(order.empty());
        l.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1});
        auto t3 = aio::create_task(take(l, 3, order));  // starts before t2 runs: queues behind
        l.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2});
        l.release();
        co_await yield_times(1);
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK((t1.done() && t2.done() && t3.done()));
        l.release();
    }(order));
}

TEST_CASE("a newcomer cannot take the lock past a waiter that was woken but has not run yet",
          "[locks][lock]") {
    // asyncio's acquire() fast path requires that no waiter is pending (locks.py: "fair
    // scheduling, where thread always waits its turn"); the lock reads unlocked meanwhile.
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto waiter = aio::create_task(lockit(l, 1, order));
        co_await yield_times(1);
        l.release();  // the waiter is woken; it takes the lock when it runs
        CHECK(!l.locked());
        co_await l.acquire();  // this task must queue behind it
        order.push_back(0);
        l.release();
        co_await waiter;
    }(order));
    CHECK(order == std::vector<int>{1, 0});
}

TEST_CASE("a cancelled waiter leaves the queue and the lock stays usable",
          "[locks][lock][cancel]") {
    // test_acquire_cancel: cancelling the waiting task directly (handle.cancel()).
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto waiter = aio::create_task(take(l, 1, order));
        co_await yield_times(1);
        CHECK(waiter.cancel());
        co_await yield_times(1);
        CHECK(waiter.cancelled());
        l.release();
        CHECK(!l.locked());  // nobody was woken: the cancelled waiter is gone
        co_await l.acquire();
        CHECK(l.locked());
        l.release();
    }(order));
    CHECK(order.empty());
}

TEST_CASE("a release racing the cancel of the first waiter goes to the next waiter",
          "[locks][lock][cancel]") {
    // test_cancel_race: A holds the lock, B and C wait; B is cancelled as A releases.
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        aio::event fa;
        auto ta = aio::create_task(lockit(l, 1, order, &fa));
        co_await yield_times(1);
        CHECK(l.locked());
        auto tb = aio::create_task(lockit(l, 2, order));
        co_await yield_times(1);
        auto tc = aio::create_task(lockit(l, 3, order));
        co_await yield_times(1);
        fa.set();  // A will release
        CHECK(tb.cancel());
        co_await yield_times(1);
        CHECK(!l.locked());  // C was woken and has not run yet
        CHECK(ta.done());
        CHECK(tb.cancelled());
        co_await tc;
        CHECK(!l.locked());
    }(order));
    CHECK(order == std::vector<int>{1, 3});
}

TEST_CASE("a cancel and a release in one callback never make two holders",
          "[locks][lock][cancel]") {
    // test_cancel_release_race (bpo-32734)
    struct counts {
        int calls = 0;
        int locks = 0;
    } n;
    run_virtual([](counts& n) -> aio::task<void> {
        aio::lock l;
        auto lockit = [](aio::lock& l, counts& n) -> aio::task<void> {
            ++n.calls;
            co_await l.acquire();
            ++n.locks;
        };
        co_await l.acquire();
        auto t1 = aio::create_task(lockit(l, n));
        auto t2 = aio::create_task(lockit(l, n));
        auto t3 = aio::create_task(lockit(l, n));
        co_await yield_times(1);
        auto trigger = aio::get_running_loop().call_soon([&t1, &l] {
            t1.cancel();
            l.release();
        });
        CHECK_THROWS_AS(co_await t1, aio::cancelled_error);
        CHECK(n.locks == 1);
        CHECK(n.calls == 3);
        CHECK(t1.cancelled());
        CHECK(t2.done());
        CHECK(t3.cancel());  // stuck waiting: clean up
        co_await yield_times(1);
        CHECK(t3.cancelled());
        CHECK(l.locked());  // t2 holds it for good
    }(n));
}

TEST_CASE("a waiter cancelled before the release does not block the next acquirer",
          "[locks][lock][cancel]") {
    // test_finished_waiter_cancelled
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto tb = aio::create_task(take(l, 2, order));
        co_await yield_times(1);
        auto tc = aio::create_task(take(l, 3, order));
        CHECK(tb.cancel());
        l.release();
        co_await yield_times(1);
        CHECK(l.locked());
        CHECK(tb.cancelled());
        co_await tc;
    }(order));
    CHECK(order == std::vector<int>{3});
}

TEST_CASE("a waiter woken and then cancelled before it runs passes the lock to the next",
          "[locks][lock][cancel]") {
    // bpo-27585 (locks.py: "if not self._locked: self._wake_up_first()"); the order of
    // test_finished_waiter_cancelled with release() first, so that B's wake-up is lost
    // unless B passes it on.
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto tb = aio::create_task(take(l, 2, order));
        auto tc = aio::create_task(take(l, 3, order));
        co_await yield_times(1);
        l.release();         // B is woken...
        CHECK(tb.cancel());  // ...and cancelled before it runs
        co_await yield_times(2);
        CHECK(tb.cancelled());
        CHECK(tc.done());
        CHECK(l.locked());
    }(order));
    CHECK(order == std::vector<int>{3});
}

TEST_CASE("a scoped guard holds the lock for its scope and releases it on every way out",
          "[locks][lock]") {
    // test_context_manager
    run_virtual([]() -> aio::task<void> {
        aio::lock l;
        {
            aio::lock::guard g = co_await l.scoped();
            CHECK(l.locked());
            CHECK(g.owns());
        }
        CHECK(!l.locked());
        auto failing = [](aio::lock& l) -> aio::task<void> {
            auto g = co_await l.scoped();
            throw std::runtime_error("inside");
        };
        CHECK_THROWS_AS(co_await failing(l), std::runtime_error);
        CHECK(!l.locked());
    }());
}

TEST_CASE("a guard is move-only, releases once, and can release early", "[locks][lock]") {
    run_virtual([]() -> aio::task<void> {
        aio::lock l;
        aio::lock::guard outer;
        CHECK(!outer.owns());
        {
            auto g = co_await l.scoped();
            outer = std::move(g);
            CHECK(!g.owns());
        }
        CHECK(l.locked());  // the moved-from guard released nothing
        outer.release();
        CHECK(!l.locked());
        CHECK(!outer.owns());
        CHECK_THROWS_AS(outer.release(), aio::invalid_state_error);
    }());
}

TEST_CASE("a guard whose lock was released by hand reports it on stderr", "[locks][lock]") {
    capture_stderr capture;
    run_virtual([]() -> aio::task<void> {
        aio::lock l;
        auto g = co_await l.scoped();
        l.release();  // misuse: the guard still thinks it holds the lock
    }());
    const std::string text = capture.stop();
    CHECK(text.find("not acquired") != std::string::npos);
}

TEST_CASE("wait_for gives up on a lock that stays locked and leaves no waiter behind",
          "[locks][lock][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto bounded = aio::wait_for(l.acquire(), 2ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        l.release();
        CHECK(!l.locked());  // the timed-out waiter was not woken
        auto in_time = aio::wait_for(l.scoped(), 1s);
        aio::lock::guard g = co_await in_time;
        CHECK(l.locked());
    }());
}

TEST_CASE("a failing gather sibling cancels a task waiting for a lock", "[locks][lock][cancel]") {
    std::vector<int> order;
    run_virtual([](std::vector<int>& order) -> aio::task<void> {
        aio::lock l;
        co_await l.acquire();
        auto both = aio::gather(take(l, 1, order), fail_soon());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        l.release();
        CHECK(!l.locked());
    }(order));
    CHECK(order.empty());
}

TEST_CASE("a waiter woken but destroyed with its loop before it ran passes the lock on",
          "[locks][lock]") {
    aio::lock l;
    std::vector<int> order;
    {
        aio::event_loop loop;
        loop.run_until_complete([](aio::lock& l) -> aio::task<void> { co_await l.acquire(); }(l));
        {
            auto a = loop.create_task(take(l, 1, order));
            auto b = loop.create_task(take(l, 2, order));
            loop.run_until_complete(yield_times(1));
        }             // only the loop holds a and b now
        l.release();  // a is woken, and never runs
    }                 // the loop closes: a's frame is destroyed, then b's
    CHECK(order.empty());
    CHECK(!l.locked());
    run_virtual([](aio::lock& l) -> aio::task<void> {  // not stuck waiting for a or b
        co_await l.acquire();
        l.release();
    }(l));
}
