// SPDX-License-Identifier: MIT
// Tests for <aio/suspend.hpp>: the awaiter interface. A small awaitable, `gate`, is built on it
// here exactly as a user would (a wait_list of parked tasks, opened by hand), and the tests check
// what every awaitable built this way gets for free: FIFO wake-ups on the loop, cancellation
// from every direction (cancel(), wait_for, a failing gather sibling), a cancellation that
// uncancel() cannot take back once the wait was stopped, a woken-then-cancelled waiter that
// knows it was woken, and frames destroyed while parked.
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/suspend.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <coroutine>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Tasks wait at the gate until open_one() or open_all(). Counts its cancelled waiters that had
/// been woken (they would pass on what they were given, as a lock does).
class gate {
public:
    class awaiter {
    public:
        explicit awaiter(gate& g) noexcept : m_gate(g) {}
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> task) {
            if (!m_wait.park(task)) {
                return false;
            }
            m_gate.m_waiters.push_back(m_wait);
            return true;
        }
        void await_resume() {
            try {
                m_wait.resume();
            } catch (const aio::cancelled_error&) {
                if (m_wait.woken()) {
                    ++m_gate.woken_then_cancelled;
                }
                throw;
            }
        }

    private:
        gate& m_gate;
        aio::suspension m_wait;
    };

    awaiter wait() noexcept { return awaiter(*this); }
    bool open_one() { return m_waiters.wake_first(); }
    std::size_t open_all() { return m_waiters.wake_all(); }
    [[nodiscard]] std::size_t waiting() const noexcept { return m_waiters.size(); }

    int woken_then_cancelled = 0;

private:
    aio::wait_list m_waiters;
};

aio::task<void> pass(gate& g, std::string name, journal& log) {
    try {
        co_await g.wait();
    } catch (const aio::cancelled_error&) {
        log.push_back(name + " cancelled");
        throw;
    }
    log.push_back(name + " passed");
}

/// Misuse: parks the same suspension twice.
struct double_park {
    aio::suspension wait;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        (void)wait.park(h);
        return wait.park(h);  // throws
    }
    void await_resume() {}
};

}  // namespace

TEST_CASE("a parked task resumes on a later iteration, in the order the tasks parked",
          "[suspend]") {
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        auto a = aio::create_task(pass(g, "a", log));
        auto b = aio::create_task(pass(g, "b", log));
        auto c = aio::create_task(pass(g, "c", log));
        co_await yield_times(1);
        CHECK(g.waiting() == 3);
        CHECK(g.open_all() == 3);
        log.push_back("opened");  // nobody resumed inside wake()
        co_await a;
        co_await b;
        co_await c;
    }(log));
    CHECK(log == journal{"opened", "a passed", "b passed", "c passed"});
}

TEST_CASE("cancelling a parked task takes it off the wait list and throws at its await",
          "[suspend][cancel]") {
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        auto a = aio::create_task(pass(g, "a", log));
        auto b = aio::create_task(pass(g, "b", log));
        co_await yield_times(1);
        CHECK(a.cancel());
        CHECK(g.waiting() == 1);  // at once, not when a runs
        CHECK(g.open_one());      // b is first now
        co_await yield_times(2);
        CHECK(a.cancelled());
        CHECK(b.done());
        CHECK(!b.cancelled());
    }(log));
    CHECK(log == journal{"a cancelled", "b passed"});
}

TEST_CASE("a wait stopped by cancel() still throws after uncancel()", "[suspend][cancel]") {
    // asyncio: once the future a task waits on is cancelled, the task sees CancelledError at
    // that await whatever uncancel() does before it runs.
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        auto a = aio::create_task(pass(g, "a", log));
        co_await yield_times(1);
        CHECK(a.cancel());
        CHECK(a.uncancel() == 0);
        co_await yield_times(2);
        CHECK(a.cancelled());
        CHECK(g.waiting() == 0);
    }(log));
    CHECK(log == journal{"a cancelled"});
}

TEST_CASE("a waiter woken and then cancelled before it runs knows it was woken",
          "[suspend][cancel]") {
    // locks.py: `if fut.done() and not fut.cancelled(): self._wake_up_first()`.
    journal log;
    int woken_then_cancelled = 0;
    run_virtual([](journal& log, int& count) -> aio::task<void> {
        gate g;
        auto a = aio::create_task(pass(g, "a", log));
        co_await yield_times(1);
        CHECK(g.open_one());
        CHECK(a.cancel());  // woken, not yet run: the cancellation is delivered at its await
        co_await yield_times(2);
        CHECK(a.cancelled());
        count = g.woken_then_cancelled;
    }(log, woken_then_cancelled));
    CHECK(log == journal{"a cancelled"});
    CHECK(woken_then_cancelled == 1);
}

TEST_CASE("a task with a cancellation pending does not park and throws at once",
          "[suspend][cancel]") {
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        aio::task_handle<void> slot;
        auto self_cancelling = [](gate& g, aio::task_handle<void>& self,
                                  journal& log) -> aio::task<void> {
            CHECK(self.cancel());  // while running: pending until the next suspension point
            co_await pass(g, "a", log);
        };
        slot = aio::create_task(self_cancelling(g, slot, log));
        co_await yield_times(2);
        CHECK(slot.cancelled());
        CHECK(g.waiting() == 0);
    }(log));
    CHECK(log == journal{"a cancelled"});
}

TEST_CASE("wait_for times out a parked task and leaves the wait list clean", "[suspend][cancel]") {
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        auto waiting = pass(g, "a", log);
        auto bounded = aio::wait_for(std::move(waiting), 5ms);
        CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        CHECK(g.waiting() == 0);
    }(log));
    CHECK(log == journal{"a cancelled"});
}

TEST_CASE("a failing gather sibling cancels a parked task", "[suspend][cancel]") {
    journal log;
    run_virtual([](journal& log) -> aio::task<void> {
        gate g;
        auto fail = []() -> aio::task<void> {
            co_await aio::sleep(1ms);
            throw std::runtime_error("boom");
        };
        auto both = aio::gather(pass(g, "a", log), fail());
        CHECK_THROWS_AS(co_await both, std::runtime_error);
        CHECK(g.waiting() == 0);
    }(log));
    CHECK(log == journal{"a cancelled"});
}

TEST_CASE("a frame destroyed while parked leaves its wait list", "[suspend]") {
    gate g;
    journal log;
    {
        aio::event_loop loop;
        auto a = loop.create_task(pass(g, "a", log));
        loop.run_until_complete(yield_times(1));
        CHECK(g.waiting() == 1);
    }  // the loop closes; the handle goes: the parked frame is destroyed
    CHECK(g.waiting() == 0);
    CHECK(!g.open_one());
    CHECK(log.empty());
}

TEST_CASE("waking a task whose frame is kept after its loop closed does nothing", "[suspend]") {
    gate g;
    journal log;
    aio::task_handle<void> kept;
    {
        aio::event_loop loop;
        kept = loop.create_task(pass(g, "a", log));
        loop.run_until_complete(yield_times(1));
    }
    CHECK(!kept.done());
    CHECK(g.open_one());  // the loop is gone: the task is not queued anywhere
    CHECK(!kept.done());
    CHECK(log.empty());
}

aio::task<void> park_twice() {
    double_park d;
    co_await d;
}

TEST_CASE("a suspension that is already parked cannot park again", "[suspend]") {
    CHECK_THROWS_AS(run_virtual(park_twice()), aio::invalid_state_error);
}
