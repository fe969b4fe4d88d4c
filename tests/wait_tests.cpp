// SPDX-License-Identifier: MIT
// Tests for <aio/wait.hpp>: aio::wait (return_when::first_completed / first_exception /
// all_completed, with and without a timeout) and aio::as_completed. Neither cancels anything:
// the pending tasks keep running, and cancelling the waiter only stops the waiting.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside.
#include "helpers/catch.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait.hpp>

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<int> cancelled_after(std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    throw aio::cancelled_error{};
}

using handles = std::vector<aio::task_handle<int>>;

struct wait_outcome {
    std::vector<int> done;        // values of the done set (-1 for a failed task)
    std::size_t pending = 0;
    bool any_pending_cancelled = true;
    unsigned pending_cancelling = 99;
    std::vector<int> pending_later;  // values of the pending set, awaited afterwards
    std::size_t timers_after = 99;
    steady::duration elapsed{};
};

/// Creates tasks from `delays` (a negative delay: the task fails after -delay), waits, then lets
/// the pending ones finish.
aio::task<wait_outcome> wait_scenario(std::vector<int> delays, aio::return_when when,
                                      std::chrono::milliseconds timeout) {
    wait_outcome out;
    handles tasks;
    for (std::size_t i = 0; i < delays.size(); ++i) {
        const int d = delays[i];
        const int value = static_cast<int>(i) + 1;
        if (d >= 0) {
            tasks.push_back(aio::create_task(value_after(std::chrono::milliseconds(d), value)));
        } else {
            tasks.push_back(aio::create_task(fail_after(std::chrono::milliseconds(-d), "failed")));
        }
    }
    const steady::time_point start = aio::get_running_loop().time();
    aio::wait_result<int> result;
    if (timeout.count() > 0) {
        auto op = aio::wait(tasks, timeout, when);
        result = co_await op;
    } else {
        auto op = aio::wait(tasks, when);
        result = co_await op;
    }
    out.elapsed = aio::get_running_loop().time() - start;
    out.timers_after = aio::detail::core_of(aio::get_running_loop()).timer_count() - result.pending.size();
    for (const auto& h : result.done) {
        out.done.push_back(h.exception() ? -1 : h.result());
    }
    out.pending = result.pending.size();
    out.any_pending_cancelled = false;
    out.pending_cancelling = 0;
    for (const auto& h : result.pending) {
        out.pending_cancelling += h.cancelling();
    }
    for (auto& h : result.pending) {
        try {
            out.pending_later.push_back(co_await h);
        } catch (const test_error&) {
            out.pending_later.push_back(-1);
        }
        out.any_pending_cancelled = out.any_pending_cancelled || h.cancelled();
    }
    co_return out;
}

aio::task<bool> wait_on_nothing() {
    handles none;
    try {
        auto op = aio::wait(none);
        (void)co_await op;
    } catch (const std::invalid_argument&) {
        co_return true;
    }
    co_return false;
}

aio::task<std::size_t> wait_on_finished_tasks() {
    handles tasks{aio::create_task(value_after(0ms, 1)), aio::create_task(value_after(0ms, 2))};
    co_await aio::sleep(5ms);
    auto op = aio::wait(tasks, aio::return_when::first_completed);
    const aio::wait_result<int> result = co_await op;  // ready at once: both are done
    co_return result.done.size();
}

/// A cancelled task is not an exception for first_exception (as in asyncio).
aio::task<wait_outcome> first_exception_ignores_cancelled() {
    wait_outcome out;
    handles tasks{aio::create_task(cancelled_after(1ms)), aio::create_task(value_after(20ms, 2))};
    auto op = aio::wait(tasks, aio::return_when::first_exception);
    const aio::wait_result<int> result = co_await op;
    out.pending = result.pending.size();
    out.done.push_back(static_cast<int>(result.done.size()));
    co_return out;
}

struct waiter_cancel_outcome {
    bool waiter_cancelled = false;
    bool tasks_cancelled = true;
    std::vector<int> values;
};

aio::task<void> wait_forever_on(handles tasks) {
    auto op = aio::wait(tasks);
    (void)co_await op;
}

aio::task<waiter_cancel_outcome> cancel_a_waiter() {
    waiter_cancel_outcome out;
    handles tasks{aio::create_task(value_after(100ms, 1)), aio::create_task(value_after(150ms, 2))};
    aio::task_handle<void> waiter = aio::create_task(wait_forever_on(tasks));
    co_await aio::sleep(5ms);
    waiter.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    out.tasks_cancelled = tasks[0].done() || tasks[1].done();  // still running
    for (auto& t : tasks) {
        out.values.push_back(co_await t);
    }
    co_return out;
}

// ---- as_completed --------------------------------------------------------------------------

aio::task<std::vector<int>> in_completion_order(std::vector<int> delays) {
    handles tasks;
    for (std::size_t i = 0; i < delays.size(); ++i) {
        tasks.push_back(aio::create_task(
            value_after(std::chrono::milliseconds(delays[i]), static_cast<int>(i) + 1)));
    }
    std::vector<int> order;
    aio::as_completed completed(tasks);
    for (std::size_t i = 0; i < completed.size(); ++i) {
        aio::task_handle<int> next = co_await completed.next();
        order.push_back(next.result());
    }
    co_return order;
}

struct as_completed_mixed_outcome {
    std::vector<std::string> order;
    std::size_t remaining_at_end = 99;
    bool extra_next_threw = false;
};

aio::task<as_completed_mixed_outcome> as_completed_mixed() {
    as_completed_mixed_outcome out;
    handles tasks{aio::create_task(value_after(200ms, 1)),
                  aio::create_task(fail_after(100ms, "two")),
                  aio::create_task(value_after(0ms, 3))};
    while (!tasks[2].done()) {  // the third one is done before as_completed sees it
        co_await aio::sleep(0ms);
    }
    aio::as_completed completed(tasks);
    while (completed.remaining() > 0) {
        aio::task_handle<int> next = co_await completed.next();
        try {
            out.order.push_back(std::to_string(next.result()));
        } catch (const test_error& e) {
            out.order.push_back(e.what());
        }
    }
    out.remaining_at_end = completed.remaining();
    try {
        (void)co_await completed.next();
    } catch (const aio::invalid_state_error&) {
        out.extra_next_threw = true;
    }
    co_return out;
}

aio::task<void> take_one_from(handles tasks) {
    aio::as_completed completed(tasks);
    (void)co_await completed.next();
}

aio::task<waiter_cancel_outcome> cancel_an_as_completed_waiter() {
    waiter_cancel_outcome out;
    handles tasks{aio::create_task(value_after(100ms, 1)), aio::create_task(value_after(150ms, 2))};
    aio::task_handle<void> waiter = aio::create_task(take_one_from(tasks));
    co_await aio::sleep(5ms);
    waiter.cancel();
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.waiter_cancelled = waiter.cancelled();
    }
    out.tasks_cancelled = tasks[0].done() || tasks[1].done();
    for (auto& t : tasks) {
        out.values.push_back(co_await t);
    }
    co_return out;
}

/// A task that cancels itself and then waits on as_completed: the pending cancellation should
/// be delivered at that suspension point, not when the next task happens to finish.
aio::task<void> cancel_self_then_as_completed(const aio::task_handle<void>* self, handles tasks) {
    aio::task_handle<void> me = *self;
    me.cancel();
    aio::as_completed completed(tasks);
    (void)co_await completed.next();
}

aio::task<void> cancel_self_then_wait(const aio::task_handle<void>* self, handles tasks) {
    aio::task_handle<void> me = *self;
    me.cancel();
    auto op = aio::wait(tasks);
    (void)co_await op;
}

struct self_cancel_outcome {
    bool cancelled = false;
    bool tasks_done_when_cancelled = true;
};

aio::task<self_cancel_outcome> self_cancelled_waiter(bool use_as_completed) {
    self_cancel_outcome out;
    handles tasks{aio::create_task(value_after(500ms, 1))};
    aio::task_handle<void> waiter;
    if (use_as_completed) {
        waiter = aio::create_task(cancel_self_then_as_completed(&waiter, tasks));
    } else {
        waiter = aio::create_task(cancel_self_then_wait(&waiter, tasks));
    }
    try {
        co_await waiter;
    } catch (const aio::cancelled_error&) {
        out.cancelled = waiter.cancelled();
    }
    out.tasks_done_when_cancelled = tasks[0].done();
    tasks[0].cancel();
    co_return out;
}

// ---- a task finishes just before the timeout fires -------------------------------------------

aio::task<std::size_t> wait_in_own_frame(handles tasks, std::chrono::milliseconds timeout) {
    auto op = aio::wait(tasks, timeout);
    const aio::wait_result<int> result = co_await op;
    co_return result.done.size();
}

aio::task<std::size_t> completion_then_timeout_in_next_iteration() {
    const steady::time_point d = aio::get_running_loop().time() + 10ms;
    handles tasks{aio::create_task(value_at(d, 1))};
    aio::task_handle<void> blocker = aio::create_task(block_loop(d, d + 20ms));
    // At d the task finishes (its waiter is queued for the next iteration), then the blocker
    // holds the loop past the 15 ms timeout. The next iteration queues the timeout's hook
    // behind the waiter, which resumes first and destroys the wait awaitable.
    const std::size_t done = co_await wait_in_own_frame(tasks, 15ms);
    co_await aio::sleep(5ms);
    co_await blocker;
    co_return done;
}

} // namespace

TEST_CASE("wait with all_completed returns when every task has finished, in the order given",
          "[wait]") {
    const wait_outcome out =
        run_virtual(wait_scenario({20, 5, 10}, aio::return_when::all_completed, 0ms));
    CHECK(out.done == std::vector<int>{1, 2, 3});
    CHECK(out.pending == 0);
    CHECK(out.elapsed >= 20ms);
    CHECK(out.elapsed < 1s);
}

TEST_CASE("wait with first_completed returns after the first task: the others keep running",
          "[wait]") {
    const wait_outcome out =
        run_virtual(wait_scenario({200, 5, 150}, aio::return_when::first_completed, 0ms));
    CHECK(out.done == std::vector<int>{2});
    CHECK(out.pending == 2);
    CHECK(out.pending_cancelling == 0);
    CHECK_FALSE(out.any_pending_cancelled);
    CHECK(out.pending_later == std::vector<int>{1, 3});
    CHECK(out.elapsed >= 5ms);
    CHECK(out.elapsed < 1s);
}

TEST_CASE("wait with first_exception returns at the first failure, or when all completed",
          "[wait]") {
    SECTION("a task fails") {
        const wait_outcome out =
            run_virtual(wait_scenario({5, -60, 200}, aio::return_when::first_exception, 0ms));
        CHECK(out.done == std::vector<int>{1, -1});  // the first task had finished too
        CHECK(out.pending == 1);
        CHECK_FALSE(out.any_pending_cancelled);
        CHECK(out.pending_later == std::vector<int>{3});
        CHECK(out.elapsed >= 60ms);
    }
    SECTION("no task fails") {
        const wait_outcome out =
            run_virtual(wait_scenario({5, 10, 15}, aio::return_when::first_exception, 0ms));
        CHECK(out.done == std::vector<int>{1, 2, 3});
        CHECK(out.pending == 0);
        CHECK(out.elapsed >= 15ms);
    }
    SECTION("a cancelled task is not a failure") {
        const wait_outcome out = run_virtual(first_exception_ignores_cancelled());
        CHECK(out.pending == 0);
        CHECK(out.done == std::vector<int>{2});
    }
}

TEST_CASE("wait with a timeout returns the unfinished tasks as pending and cancels nothing",
          "[wait]") {
    const auto when = GENERATE(aio::return_when::all_completed, aio::return_when::first_completed,
                               aio::return_when::first_exception);
    CAPTURE(static_cast<int>(when));
    steady::duration elapsed{};
    const wait_outcome out = run_virtual(wait_scenario({100, 150}, when, 20ms), elapsed);
    CHECK(out.done.empty());
    CHECK(out.pending == 2);
    CHECK(out.pending_cancelling == 0);
    CHECK(out.elapsed >= 20ms);
    CHECK(out.elapsed < 100ms + 1s);
    CHECK(out.timers_after == 0);  // only the pending tasks' own sleeps remain
    CHECK_FALSE(out.any_pending_cancelled);
    CHECK(out.pending_later == std::vector<int>{1, 2});  // they ran to the end
    CHECK(elapsed >= 150ms);
}

TEST_CASE("wait with a timeout that the tasks beat returns early and drops its timer", "[wait]") {
    const wait_outcome out =
        run_virtual(wait_scenario({5, 10}, aio::return_when::all_completed, 10'000ms));
    CHECK(out.done == std::vector<int>{1, 2});
    CHECK(out.timers_after == 0);
    CHECK(out.elapsed < 1s);
}

TEST_CASE("wait on finished tasks returns without suspending", "[wait]") {
    CHECK(run_virtual(wait_on_finished_tasks()) == 2);
}

TEST_CASE("wait on an empty set of tasks throws std::invalid_argument", "[wait]") {
    CHECK(run_virtual(wait_on_nothing()));
}

TEST_CASE("cancelling the task awaiting wait stops the waiting and cancels none of the tasks",
          "[wait]") {
    const waiter_cancel_outcome out = run_virtual(cancel_a_waiter());
    CHECK(out.waiter_cancelled);
    CHECK_FALSE(out.tasks_cancelled);
    CHECK(out.values == std::vector<int>{1, 2});
}

TEST_CASE("as_completed yields the tasks in the order they finish", "[wait][as_completed]") {
    CHECK(run_virtual(in_completion_order({150, 50, 100, 0})) == std::vector<int>{4, 2, 3, 1});
}

TEST_CASE("as_completed yields finished tasks first and failed tasks like the others, then "
          "refuses another next()",
          "[wait][as_completed]") {
    const as_completed_mixed_outcome out = run_virtual(as_completed_mixed());
    CHECK(out.order == std::vector<std::string>{"3", "two", "1"});
    CHECK(out.remaining_at_end == 0);
    CHECK(out.extra_next_threw);
}

TEST_CASE("cancelling the task awaiting as_completed's next() cancels none of the tasks",
          "[wait][as_completed]") {
    const waiter_cancel_outcome out = run_virtual(cancel_an_as_completed_waiter());
    CHECK(out.waiter_cancelled);
    CHECK_FALSE(out.tasks_cancelled);
    CHECK(out.values == std::vector<int>{1, 2});
}

TEST_CASE("a task already cancelled when it awaits wait gets cancelled_error at once",
          "[wait]") {
    const self_cancel_outcome out = run_virtual(self_cancelled_waiter(false));
    CHECK(out.cancelled);
    CHECK_FALSE(out.tasks_done_when_cancelled);
}

// Regression (fixed): as_completed's next_awaiter::await_suspend ignores a cancellation that is
// already pending (root->cancel_pending()), unlike sleep, task handles, wait and wait_for; the task
// only sees cancelled_error when some task finishes (here after 500 ms; never if none does).
TEST_CASE("a task already cancelled when it awaits as_completed's next() gets cancelled_error "
          "at once",
          "[wait][as_completed]") {
    const self_cancel_outcome out = run_virtual(self_cancelled_waiter(true));
    CHECK(out.cancelled);
    CHECK_FALSE(out.tasks_done_when_cancelled);
}

// Regression (was a heap-use-after-free): the waiter is queued when the task finishes and the
// timeout expires before the next iteration. The timeout's hook used to be queued behind the
// waiter and run on the destroyed awaitable; hooks now run in the timer pass. Expected: 1.
TEST_CASE("a wait whose timeout fires just after the tasks completed returns them as done and "
          "leaves nothing behind",
          "[wait]") {
    CHECK(run_virtual(completion_then_timeout_in_next_iteration()) == 1);
}
