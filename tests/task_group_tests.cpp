// SPDX-License-Identifier: MIT
// Tests for <aio/task_group.hpp>: `co_await tg` waits for every child; the first failure cancels
// the others and every failure comes back together in task_group_error; cancelling the task
// awaiting the group cancels the children; a group dropped without being awaited cancels them.
//
// Scenarios are coroutines that return what they observed; the REQUIREs stay outside.
#include "helpers/catch.hpp"
#include "helpers/journal.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_group.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<int> fail_at(steady::time_point when, std::string what, journal& log) {
    co_await aio::sleep_until(when);
    log.push_back(what + " thrown");
    throw test_error(what);
}

/// On cancellation, awaits a cleanup, notes it, and re-raises.
aio::task<int> sleep_then_clean_up(std::chrono::milliseconds delay, std::string name,
                                   journal& log) {
    std::exception_ptr cancelled;
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (!cancelled) {
        co_return 0;
    }
    co_await aio::sleep(5ms);
    log.push_back(name + " cleaned up");
    std::rethrow_exception(cancelled);
}

std::vector<std::string> messages_of(const aio::task_group_error& e) {
    std::vector<std::string> messages;
    for (const std::exception_ptr& p : e.exceptions()) {
        try {
            std::rethrow_exception(p);
        } catch (const std::exception& x) {
            messages.push_back(x.what());
        }
    }
    return messages;
}

struct group_outcome {
    std::vector<int> results;
    std::vector<std::string> errors;
    std::string what;
    bool threw_group_error = false;
    bool threw_cancelled = false;
    std::size_t pending_before = 99;
    std::size_t pending_after = 99;
    std::vector<bool> cancelled;
    std::size_t log_size_when_seen = 0;
};

aio::task<group_outcome> all_succeed(journal& log) {
    group_outcome out;
    aio::task_group tg;
    aio::task_handle<int> a = tg.create_task(value_after(100ms, 1, log));
    aio::task_handle<int> b = tg.create_task(value_after(5ms, 2, log));
    out.pending_before = tg.pending();
    co_await tg;
    out.pending_after = tg.pending();
    out.results = {a.result(), b.result()};
    co_return out;
}

/// Two children fail in the same loop iteration (one shared deadline), the third sleeps.
aio::task<group_outcome> two_fail_together(journal& log) {
    group_outcome out;
    const steady::time_point when = aio::get_running_loop().time() + 100ms;
    aio::task_group tg;
    aio::task_handle<int> first = tg.create_task(fail_at(when, "first", log));
    aio::task_handle<int> second = tg.create_task(fail_at(when, "second", log));
    aio::task_handle<int> third = tg.create_task(value_after(10s, 3, log));
    try {
        co_await tg;
    } catch (const aio::task_group_error& e) {
        out.threw_group_error = true;
        out.errors = messages_of(e);
        out.what = e.what();
        out.log_size_when_seen = log.size();
    }
    out.cancelled = {first.cancelled(), second.cancelled(), third.cancelled()};
    co_return out;
}

aio::task<group_outcome> one_fails(journal& log) {
    group_outcome out;
    aio::task_group tg;
    (void)tg.create_task(fail_at(aio::get_running_loop().time() + 50ms, "only", log));
    aio::task_handle<int> slow = tg.create_task(sleep_then_clean_up(10s, "slow", log));
    aio::task_handle<int> quick = tg.create_task(value_after(1ms, 1, log));
    try {
        co_await tg;
    } catch (const aio::task_group_error& e) {
        out.threw_group_error = true;
        out.errors = messages_of(e);
        out.log_size_when_seen = log.size();
    }
    out.cancelled = {slow.cancelled(), quick.cancelled()};
    co_return out;
}

aio::task<void> await_group(journal& log, bool& children_running) {
    aio::task_group tg;
    (void)tg.create_task(value_after(10s, 1, log));
    (void)tg.create_task(sleep_then_clean_up(10s, "two", log));
    co_await aio::sleep(0ms);  // the children start before we resume
    children_running = true;
    try {
        co_await tg;
    } catch (const aio::cancelled_error&) {
        log.push_back("group owner cancelled");
        throw;
    }
}

aio::task<group_outcome> cancel_group_owner(journal& log) {
    group_outcome out;
    bool children_running = false;
    aio::task_handle<void> owner = aio::create_task(await_group(log, children_running));
    while (!children_running) {  // no timing assumption: a loaded machine may stall the loop
        co_await aio::sleep(1ms);
    }
    owner.cancel();
    try {
        co_await owner;
    } catch (const aio::cancelled_error&) {
        out.threw_cancelled = owner.cancelled();
    }
    co_return out;
}

aio::task<group_outcome> child_cancelled_on_its_own(journal& log) {
    group_outcome out;
    aio::task_group tg;
    aio::task_handle<int> a = tg.create_task(value_after(10s, 1, log));
    aio::task_handle<int> b = tg.create_task(value_after(10ms, 2, log));
    co_await aio::sleep(1ms);
    a.cancel();
    co_await tg;  // a cancelled child is not a failure
    out.cancelled = {a.cancelled(), b.cancelled()};
    out.results = {b.result()};
    co_return out;
}

aio::task<group_outcome> empty_group() {
    group_outcome out;
    aio::task_group tg;
    out.pending_before = tg.pending();
    co_await tg;
    co_return out;
}

aio::task<bool> create_after_join(journal& log) {
    aio::task_group tg;
    (void)tg.create_task(value_after(1ms, 1, log));
    co_await tg;
    try {
        (void)tg.create_task(value_after(1ms, 2, log));
    } catch (const aio::event_loop_error&) {
        co_return true;
    }
    co_return false;
}

/// The body between create_task and `co_await tg` is not interrupted by a child's failure;
/// the failure comes out of `co_await tg`.
aio::task<group_outcome> failure_while_body_runs(journal& log) {
    group_outcome out;
    aio::task_group tg;
    (void)tg.create_task(fail_at(aio::get_running_loop().time() + 1ms, "early", log));
    while (log.empty()) {  // the body keeps running after the child failed
        co_await aio::sleep(1ms);
    }
    co_await aio::sleep(5ms);
    log.push_back("body went on");
    try {
        co_await tg;
    } catch (const aio::task_group_error& e) {
        out.threw_group_error = true;
        out.errors = messages_of(e);
    }
    co_return out;
}

aio::task<void> drop_group_unawaited(journal& log) {
    {
        aio::task_group tg;
        (void)tg.create_task(value_after(10s, 1, log));
        co_await aio::sleep(1ms);
    }  // destroyed without `co_await tg`: the child is cancelled
    co_await aio::sleep(5ms);
    log.push_back("after the group");
}

/// The owner is cancelled, and a child fails while cleaning up: the failure wins (as asyncio
/// raises the ExceptionGroup rather than CancelledError).
aio::task<int> fail_during_cleanup(journal& log) {
    bool cancelled = false;
    try {
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        co_await aio::sleep(1ms);
        log.push_back("cleanup failed");
        throw test_error("cleanup failed");
    }
    co_return 0;
}

aio::task<group_outcome> owner_of_failing_cleanup(journal& log, bool& child_running) {
    group_outcome out;
    aio::task_group tg;
    (void)tg.create_task(fail_during_cleanup(log));
    co_await aio::sleep(0ms);  // the child starts before we resume
    child_running = true;
    try {
        co_await tg;
    } catch (const aio::task_group_error& e) {
        out.threw_group_error = true;
        out.errors = messages_of(e);
    }
    co_return out;
}

aio::task<group_outcome> cancel_owner_of_failing_cleanup(journal& log) {
    group_outcome out;
    bool child_running = false;
    aio::task_handle<group_outcome> owner =
        aio::create_task(owner_of_failing_cleanup(log, child_running));
    while (!child_running) {
        co_await aio::sleep(1ms);
    }
    owner.cancel();
    try {
        out = co_await owner;
    } catch (const aio::cancelled_error&) {
        out.threw_cancelled = true;
    }
    co_return out;
}

} // namespace

TEST_CASE("co_await on a task_group waits for every child when all succeed", "[task_group]") {
    journal log;
    steady::duration elapsed{};
    const group_outcome out = run_virtual(all_succeed(log), elapsed);
    CHECK(elapsed >= 100ms);
    CHECK(out.pending_before == 2);
    CHECK(out.pending_after == 0);
    CHECK(out.results == std::vector<int>{1, 2});
    CHECK(log == journal{"2 done", "1 done"});
}

TEST_CASE("two children failing in the same tick give a task_group_error with both "
          "exceptions, and the third child is cancelled",
          "[task_group]") {
    journal log;
    steady::duration elapsed{};
    const group_outcome out = run_virtual(two_fail_together(log), elapsed);
    CHECK(elapsed < 1s);
    REQUIRE(out.threw_group_error);
    CHECK(out.errors == std::vector<std::string>{"first", "second"});
    CHECK(out.what == "aio::task_group: 2 task(s) failed; first; second");
    CHECK(out.log_size_when_seen == 3);  // the third had finished when the error was seen
    CHECK(log == journal{"first thrown", "second thrown", "3 cancelled"});
    CHECK(out.cancelled == std::vector<bool>{false, false, true});
}

TEST_CASE("one failing child cancels the unfinished siblings, which may clean up first",
          "[task_group]") {
    journal log;
    steady::duration elapsed{};
    const group_outcome out = run_virtual(one_fails(log), elapsed);
    CHECK(elapsed < 1s);
    REQUIRE(out.threw_group_error);
    CHECK(out.errors == std::vector<std::string>{"only"});
    CHECK(out.cancelled == std::vector<bool>{true, false});
    CHECK(log == journal{"1 done", "only thrown", "slow cleaned up"});
    CHECK(out.log_size_when_seen == 3);
}

TEST_CASE("cancelling the task awaiting a task_group cancels the children and raises "
          "cancelled_error once they have finished",
          "[task_group]") {
    journal log;
    steady::duration elapsed{};
    const group_outcome out = run_virtual(cancel_group_owner(log), elapsed);
    CHECK(elapsed < 1s);
    CHECK(out.threw_cancelled);
    CHECK(log == journal{"1 cancelled", "two cleaned up", "group owner cancelled"});
}

TEST_CASE("a task_group child cancelled on its own is not a failure of the group",
          "[task_group]") {
    journal log;
    const group_outcome out = run_virtual(child_cancelled_on_its_own(log));
    CHECK(out.cancelled == std::vector<bool>{true, false});
    CHECK(out.results == std::vector<int>{2});
}

TEST_CASE("awaiting an empty task_group completes at once", "[task_group]") {
    CHECK(run_virtual(empty_group()).pending_before == 0);
}

TEST_CASE("a task_group refuses new tasks once it has been awaited", "[task_group]") {
    journal log;
    CHECK(run_virtual(create_after_join(log)));
}

TEST_CASE("a task_group child's failure surfaces at co_await, not in the middle of the body",
          "[task_group]") {
    journal log;
    const group_outcome out = run_virtual(failure_while_body_runs(log));
    CHECK(out.threw_group_error);
    CHECK(out.errors == std::vector<std::string>{"early"});
    CHECK(log == journal{"early thrown", "body went on"});
}

TEST_CASE("a task_group destroyed without being awaited cancels its children", "[task_group]") {
    journal log;
    steady::duration elapsed{};
    run_virtual(drop_group_unawaited(log), elapsed);
    CHECK(elapsed < 1s);
    CHECK(log == journal{"1 cancelled", "after the group"});
}

TEST_CASE("a child failing while the group's owner is being cancelled: task_group_error wins",
          "[task_group]") {
    journal log;
    const group_outcome out = run_virtual(cancel_owner_of_failing_cleanup(log));
    CHECK_FALSE(out.threw_cancelled);
    CHECK(out.threw_group_error);
    CHECK(out.errors == std::vector<std::string>{"cleanup failed"});
    CHECK(log == journal{"cleanup failed"});
}
