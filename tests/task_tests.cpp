// SPDX-License-Identifier: MIT
// Tests for <aio/task.hpp>: laziness, results of every kind, how co_await hands them over,
// frame lifetime, exception propagation and stack depth.
//
// Coroutines under test are free functions taking their parameters by value (or by reference
// to a test-owned object that outlives the run): no coroutine lambdas with captures.
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/gather.hpp>
#include <aio/run.hpp>
#include <aio/shield.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_group.hpp>
#include <aio/wait.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::task<int> record_start(bool& started) {
    started = true;
    co_return 7;
}

aio::task<int> create_then_await(bool& started, bool& started_before_await) {
    aio::task<int> t = record_start(started);
    started_before_await = started;
    const int value = co_await std::move(t);
    co_return value;
}

aio::task<void> set_to(int& target, int value) {
    target = value;
    co_return;
}

aio::task<int> await_void_child(int& target) {
    co_await set_to(target, 5);
    co_return target * 2;
}

aio::task<int&> reference_to(int& target) { co_return target; }

aio::task<int*> address_via_reference(int& target) {
    int& ref = co_await reference_to(target);
    ref += 1;
    co_return &ref;
}

aio::task<std::unique_ptr<int>> make_unique_int(int value) {
    co_return std::make_unique<int>(value);
}

aio::task<int> unwrap_unique() {
    std::unique_ptr<int> p = co_await make_unique_int(9);
    co_return *p;
}

aio::task<counted> make_counted(int value) { co_return counted(value); }

struct await_counts {
    int value = 0;
    int copies = 0;
    int moves = 0;
    int alive_while_task_lives = 0;
    int alive_after_task_destroyed = 0;
    bool same_object_on_second_look = false;
};

aio::task<await_counts> await_lvalue_task() {
    await_counts counts;
    {
        aio::task<counted> t = make_counted(3);
        auto&& result = co_await t;
        static_assert(std::is_same_v<decltype(result), counted&>,
                      "co_await on an lvalue task yields a reference into the frame");
        counts.value = result.value;
        counts.copies = counted::copy_constructions;
        counts.moves = counted::move_constructions;
        counts.alive_while_task_lives = counted::alive();
        // The reference points at the object the frame keeps; is_ready() confirms it finished.
        counts.same_object_on_second_look =
            t.is_ready() && &result == &t.handle().promise().result();
    }
    counts.alive_after_task_destroyed = counted::alive();
    co_return counts;
}

aio::task<await_counts> await_rvalue_task() {
    await_counts counts;
    aio::task<counted> t = make_counted(4);
    auto&& result = co_await std::move(t);
    static_assert(std::is_same_v<decltype(result), counted&&>,
                  "co_await std::move(task) yields the value itself");
    counts.alive_while_task_lives = counted::alive();
    t = aio::task<counted>{};  // destroys the frame; the value we got must survive it
    counts.alive_after_task_destroyed = counted::alive();
    counts.value = result.value;
    counts.copies = counted::copy_constructions;
    counts.moves = counted::move_constructions;
    co_return counts;
}

aio::task<int> take_counted(counted c) { co_return c.value; }

aio::task<int> level3(bool suspend_first, std::vector<std::string>& trace) {
    trace.push_back("level3");
    if (suspend_first) {
        co_await aio::sleep(1ms);
    }
    throw test_error("level 3 failed");
    co_return 0;
}

aio::task<int> level2(bool suspend_first, std::vector<std::string>& trace) {
    trace.push_back("level2");
    const int value = co_await level3(suspend_first, trace);
    trace.push_back("level2 resumed");
    co_return value + 1;
}

aio::task<int> level1(bool suspend_first, std::vector<std::string>& trace) {
    trace.push_back("level1");
    const int value = co_await level2(suspend_first, trace);
    trace.push_back("level1 resumed");
    co_return value + 1;
}

aio::task<std::string> catch_from_level1(bool suspend_first, std::vector<std::string>& trace) {
    try {
        (void)co_await level1(suspend_first, trace);
    } catch (const test_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

aio::task<int> await_moved_from_task() {
    aio::task<int> t = forty_two();
    aio::task<int> owner = std::move(t);
    const int value = co_await t;  // NOLINT(bugprone-use-after-move): that is the point
    co_return value;
}

aio::task<int> value_after_sleep(int value) {
    co_await aio::sleep(2ms);
    co_return value;
}

aio::task<int> add_values_after_sleeps() {
    const int a = co_await value_after_sleep(20);
    const int b = co_await value_after_sleep(22);
    co_return a + b;
}

aio::task<int> one() { co_return 1; }

aio::task<long> sum_of_ones(int count) {
    long sum = 0;
    for (int i = 0; i < count; ++i) {
        sum += co_await one();
    }
    co_return sum;
}

} // namespace

TEST_CASE("task does not start until awaited", "[task]") {
    bool started = false;
    aio::task<int> t = record_start(started);
    CHECK_FALSE(started);
    CHECK_FALSE(t.is_ready());
    CHECK(run_virtual(std::move(t)) == 7);
    CHECK(started);
}

TEST_CASE("task created inside a coroutine does not start until that coroutine awaits it",
          "[task]") {
    bool started = false;
    bool started_before_await = true;
    CHECK(run_virtual(create_then_await(started, started_before_await)) == 7);
    CHECK_FALSE(started_before_await);
    CHECK(started);
}

TEST_CASE("awaiting a task yields its value", "[task]") {
    CHECK(run_virtual(forty_two()) == 42);
}

TEST_CASE("awaiting a task<void> runs it to completion", "[task]") {
    int target = 0;
    CHECK(run_virtual(await_void_child(target)) == 10);
    CHECK(target == 5);
}

TEST_CASE("task<T&> yields a reference to the object the coroutine returned", "[task]") {
    int target = 1;
    int* address = run_virtual(address_via_reference(target));
    CHECK(address == &target);
    CHECK(target == 2);
}

TEST_CASE("task<std::unique_ptr<int>> yields a move-only result", "[task]") {
    CHECK(run_virtual(unwrap_unique()) == 9);
    std::unique_ptr<int> p = run_virtual(make_unique_int(11));
    REQUIRE(p != nullptr);
    CHECK(*p == 11);
}

TEST_CASE("co_await on an lvalue task yields a reference into its frame, copying nothing",
          "[task]") {
    counted::reset_counts();
    const await_counts counts = run_virtual(await_lvalue_task());
    CHECK(counts.value == 3);
    CHECK(counts.same_object_on_second_look);
    CHECK(counts.copies == 0);
    CHECK(counts.moves == 1);  // only co_return's temporary into the promise
    CHECK(counts.alive_while_task_lives == 1);
    CHECK(counts.alive_after_task_destroyed == 0);
    CHECK(counted::alive() == 0);
}

TEST_CASE("co_await std::move(task) moves the value out, and it outlives the task", "[task]") {
    counted::reset_counts();
    const await_counts counts = run_virtual(await_rvalue_task());
    CHECK(counts.value == 4);
    CHECK(counts.copies == 0);
    CHECK(counts.moves >= 2);  // into the promise, then out of it
    CHECK(counts.alive_while_task_lives == 2);      // the moved-from one in the frame, ours
    CHECK(counts.alive_after_task_destroyed == 1);  // ours
    CHECK(counted::alive() == 0);
}

TEST_CASE("destroying a task that was never awaited destroys its frame and captured arguments",
          "[task]") {
    counted::reset_counts();
    {
        aio::task<int> t = take_counted(counted(1));
        CHECK(counted::alive() == 1);  // the parameter, living in the frame
        CHECK(t.valid());
    }
    CHECK(counted::alive() == 0);
    CHECK(counted::copy_constructions == 0);
}

TEST_CASE("moving a task transfers its frame and leaves the moved-from task empty", "[task]") {
    counted::reset_counts();
    aio::task<int> a = take_counted(counted(6));
    aio::task<int> b = std::move(a);
    CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
    CHECK(a.is_ready());     // nothing left to run
    CHECK(b.valid());
    CHECK(counted::alive() == 1);
    CHECK(run_virtual(std::move(b)) == 6);
    CHECK(counted::alive() == 0);
}

TEST_CASE("awaiting an empty (moved-from) task throws invalid_state_error", "[task]") {
    CHECK_THROWS_AS(run_virtual(await_moved_from_task()), aio::invalid_state_error);
}

TEST_CASE("a child that suspends resumes its parent when it finishes", "[task]") {
    CHECK(run_virtual(add_values_after_sleeps()) == 42);
}

TEST_CASE("an exception propagates through three levels of nested awaits", "[task]") {
    const bool suspend_first = GENERATE(false, true);
    CAPTURE(suspend_first);
    std::vector<std::string> trace;

    SECTION("to the awaiting coroutine") {
        CHECK(run_virtual(catch_from_level1(suspend_first, trace)) == "level 3 failed");
    }
    SECTION("out of aio::run, with its type") {
        CHECK_THROWS_AS(run_virtual(level1(suspend_first, trace)), test_error);
    }
    // Nothing after a failed co_await ran.
    CHECK(trace == std::vector<std::string>{"level1", "level2", "level3"});
}

TEST_CASE("a million synchronously completing co_awaits do not overflow the stack", "[task]") {
    // At -O0 and under ASan GCC does not turn symmetric transfer into a tail call; the stack
    // must stay flat anyway (see detail/task_promise.hpp).
    constexpr int count = 1'000'000;
    CHECK(run_virtual(sum_of_ones(count)) == count);
}

namespace {

// Issue #10, defect 7: every way of starting a task, tried on one that was awaited already.
aio::task<void> reawait_lvalue(aio::task<int>& t) {
    (void)co_await t;
}
aio::task<void> reawait_rvalue(aio::task<int>& t) {
    (void)co_await std::move(t);
}
aio::task<void> reuse_in_create_task(aio::task<int>& t) {
    (void)aio::create_task(std::move(t));
    co_return;
}
aio::task<void> reuse_in_gather(aio::task<int>& t) {
    (void)co_await aio::gather(forty_two(), std::move(t));
}
aio::task<void> reuse_in_gather_range(aio::task<int>& t) {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(forty_two());
    tasks.push_back(std::move(t));
    (void)co_await aio::gather(std::move(tasks));
}
aio::task<void> reuse_in_wait_for(aio::task<int>& t) {
    (void)co_await aio::wait_for(std::move(t), 1s);
}
aio::task<void> reuse_in_shield(aio::task<int>& t) {
    (void)co_await aio::shield(std::move(t));
}
aio::task<void> reuse_in_wait(aio::task<int>& t) {
    std::vector<aio::task_handle<int>> handles;
    handles.push_back(aio::create_task(std::move(t)));
    (void)co_await aio::wait(handles);
}
aio::task<void> reuse_in_as_completed(aio::task<int>& t) {
    std::vector<aio::task_handle<int>> handles;
    handles.push_back(aio::create_task(std::move(t)));
    aio::as_completed order(handles);
    (void)co_await order.next();
}
aio::task<void> reuse_in_task_group(aio::task<int>& t) {
    aio::task_group group;
    (void)group.create_task(std::move(t));
    co_await group;
}

using reuse_fn = aio::task<void> (*)(aio::task<int>&);

// Awaits a task (by reference or by moving): its result. (A helper of its own: clang 14 -O3
// crashed splitting a coroutine with both awaits and the try block below in one body.)
aio::task<int> await_once(aio::task<int>& t, bool by_move) {
    if (by_move) {
        co_return co_await std::move(t);
    }
    co_return co_await t;
}

// Hands an awaited task to `reuse`: the error's message.
aio::task<std::string> reuse_message(aio::task<int>& t, reuse_fn reuse) {
    try {
        co_await reuse(t);
    } catch (const aio::invalid_state_error& e) {
        co_return std::string(e.what());
    }
    co_return std::string("no error");
}

// Awaits a task (by reference or by moving), then hands it to `reuse`: the error's message.
aio::task<std::string> await_then_reuse(bool first_by_move, reuse_fn reuse) {
    aio::task<int> t = forty_two();
    const int first = co_await await_once(t, first_by_move);
    std::string message = co_await reuse_message(t, reuse);
    co_return message + "; first result " + std::to_string(first);
}

struct shared_task {
    aio::task<int> t;
};
aio::task<int> await_shared(shared_task& shared) {
    const int value = co_await shared.t;
    co_return value;
}
// A second coroutine awaits the task while the first one is suspended in it.
aio::task<std::string> await_while_being_awaited() {
    shared_task shared{value_after_sleep(5)};
    aio::task_handle<int> first = aio::create_task(await_shared(shared));
    co_await aio::sleep(0ms);  // `first` is now suspended inside shared.t's sleep
    std::string message = "no error";
    try {
        (void)co_await shared.t;
    } catch (const aio::invalid_state_error& e) {
        message = e.what();
    }
    const int value = co_await first;  // the first awaiter still gets its value
    co_return message + "; first got " + std::to_string(value);
}

} // namespace

// Issue #10, defect 7 (and #11): a finished coroutine was resumed again (SEGV), or a second
// `co_await std::move(t)` yielded a moved-from value.
TEST_CASE("a task that was awaited cannot be reused: every consumer throws invalid_state_error",
          "[task][issue10]") {
    const bool first_by_move = GENERATE(false, true);
    CAPTURE(first_by_move);
    const auto reuse_rejected = [&](reuse_fn reuse) {
        const std::string message = aio::run(await_then_reuse(first_by_move, reuse));
        CAPTURE(message);
        return message.find("cannot reuse already awaited coroutine") != std::string::npos;
    };
    CHECK(reuse_rejected(&reawait_lvalue));
    CHECK(reuse_rejected(&reawait_rvalue));
    CHECK(reuse_rejected(&reuse_in_create_task));
    CHECK(reuse_rejected(&reuse_in_gather));
    CHECK(reuse_rejected(&reuse_in_gather_range));
    CHECK(reuse_rejected(&reuse_in_wait_for));
    CHECK(reuse_rejected(&reuse_in_shield));
    CHECK(reuse_rejected(&reuse_in_wait));
    CHECK(reuse_rejected(&reuse_in_as_completed));
    CHECK(reuse_rejected(&reuse_in_task_group));
}

// Issue #10, defect 7: asyncio's "coroutine is being awaited already".
TEST_CASE("a task suspended under one awaiter cannot be awaited by another", "[task][issue10]") {
    CHECK(aio::run(await_while_being_awaited()) ==
          "aio::task: co_await: coroutine is being awaited already; first got 5");
}
