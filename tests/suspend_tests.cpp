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

// ---- park_passing_cancel: a wait that passes the cancellation on --------------------------------

namespace {

/// A fake remote operation that answers through a callback: with its value after `work`, or,
/// once asked to stop, with "stopped" after `stop` (an acknowledgement, as a real service sends)
/// — unless it ignores stop requests. The awaitable built on it is the suspension (privately), as
/// in example 07, so that its pass_on function can reach the operation.
struct remote_job {
    std::chrono::milliseconds work;
    std::chrono::milliseconds stop;
    bool obeys_stop = true;
    int started = 0;
    journal* log = nullptr;
};

class job_awaiter : private aio::suspension {
public:
    explicit job_awaiter(remote_job& job) noexcept : m_job(job) {}
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        if (!park_passing_cancel(task, &ask_to_stop)) {
            return false;  // a cancellation is pending: resume() throws it
        }
        ++m_job.started;
        m_answer = aio::get_running_loop().call_later(m_job.work, [this] { answer(42); });
        return true;
    }
    int await_resume() {
        resume();  // throws only a cancellation that was pending before the wait
        if (m_stopped) {
            throw aio::cancelled_error{};
        }
        return m_value;
    }

private:
    void answer(int value) {
        m_value = value;
        wake();
    }
    // Called by the task's cancel(): asks the job to stop; it answers later, on the loop.
    static void ask_to_stop(aio::suspension& wait) noexcept {
        auto& self = static_cast<job_awaiter&>(wait);
        self.m_job.log->push_back("stop asked");
        if (!self.m_job.obeys_stop) {
            return;  // the job runs on and answers with its value
        }
        self.m_answer.cancel();
        try {
            self.m_answer = aio::get_running_loop().call_later(self.m_job.stop, [&self] {
                self.m_job.log->push_back("job stopped");
                self.m_stopped = true;
                self.wake();
            });
        } catch (...) {  // no memory for the callback: stop at once
            self.m_stopped = true;
            self.wake();
        }
    }

    remote_job& m_job;
    aio::callback_handle m_answer;
    int m_value = 0;
    bool m_stopped = false;
};

aio::task<int> run_job(remote_job& job) {
    try {
        const int v = co_await job_awaiter(job);
        job.log->push_back("task got " + std::to_string(v));
        co_return v;
    } catch (const aio::cancelled_error&) {
        job.log->push_back("task cancelled");
        throw;
    }
}

}  // namespace

TEST_CASE("a wait parked with park_passing_cancel passes cancel() on and resumes when the "
          "operation has stopped",
          "[suspend][cancel]") {
    journal log;
    remote_job job{100ms, 5ms, true, 0, &log};
    std::chrono::steady_clock::duration elapsed{};
    run_virtual(
        [](remote_job& job, journal& log) -> aio::task<void> {
            auto h = aio::create_task(run_job(job));
            co_await aio::sleep(1ms);
            CHECK(h.cancel());
            co_await yield_times(2);
            CHECK(!h.done());  // still parked: the job has not answered yet
            log.push_back("still waiting");
            CHECK_THROWS_AS(co_await h, aio::cancelled_error);
        }(job, log),
        elapsed);
    CHECK(log == journal{"stop asked", "still waiting", "job stopped", "task cancelled"});
    CHECK(elapsed >= 6ms);   // 1 ms, then the job's 5 ms to stop
    CHECK(elapsed < 100ms);  // not its whole work: the cancellation reached it
}

TEST_CASE("an operation that ignores a passed-on cancellation gives the task its value, as an "
          "awaited asyncio task that catches CancelledError does",
          "[suspend][cancel]") {
    journal log;
    remote_job job{10ms, 5ms, false, 0, &log};
    run_virtual([](remote_job& job) -> aio::task<void> {
        auto h = aio::create_task(run_job(job));
        co_await aio::sleep(1ms);
        CHECK(h.cancel());
        CHECK(co_await h == 42);
        CHECK(!h.cancelled());
        CHECK(h.cancelling() == 1);  // the request is counted, as Task.cancelling() does
    }(job));
    CHECK(log == journal{"stop asked", "task got 42"});
}

TEST_CASE("wait_for around a wait that passes the cancellation on times out once the operation "
          "has stopped",
          "[suspend][cancel]") {
    journal log;
    remote_job job{100ms, 5ms, true, 0, &log};
    std::chrono::steady_clock::duration elapsed{};
    run_virtual(
        [](remote_job& job) -> aio::task<void> {
            auto bounded = aio::wait_for(run_job(job), 10ms);
            CHECK_THROWS_AS(co_await bounded, aio::timeout_error);
        }(job),
        elapsed);
    CHECK(log == journal{"stop asked", "job stopped", "task cancelled"});
    CHECK(elapsed >= 15ms);  // the timeout, then the job's stop
}

TEST_CASE("a task with a cancellation pending does not start a passing wait", "[suspend][cancel]") {
    journal log;
    remote_job job{10ms, 5ms, true, 0, &log};
    run_virtual([](remote_job& job) -> aio::task<void> {
        aio::task_handle<int> slot;
        auto self_cancelling = [](remote_job& job, aio::task_handle<int>& self) -> aio::task<int> {
            CHECK(self.cancel());  // while running: pending until the next suspension point
            co_return co_await run_job(job);
        };
        slot = aio::create_task(self_cancelling(job, slot));
        CHECK_THROWS_AS(co_await slot, aio::cancelled_error);
    }(job));
    CHECK(job.started == 0);
    CHECK(log == journal{"task cancelled"});
}
