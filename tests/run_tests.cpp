// SPDX-License-Identifier: MIT
// Tests for <aio/run.hpp>: aio::run returns main's value or rethrows its exception, uses a
// fresh loop each time, refuses to nest, and cancels and cleans up whatever main left behind.
#include "helpers/await_cycle.hpp"
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"

#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<std::string> greeting(std::string name) {
    co_await aio::sleep(1ms);
    co_return "hello " + name;
}

aio::task<void> set_after_sleep(bool& flag) {
    co_await aio::sleep(1ms);
    flag = true;
}

aio::task<std::unique_ptr<int>> make_unique_int(int value) {
    co_await aio::sleep(0ms);
    co_return std::make_unique<int>(value);
}

aio::task<int> fail_after_sleep() {
    co_await aio::sleep(1ms);
    throw test_error("main failed");
    co_return 0;
}

aio::task<int> nested_run() { co_return aio::run(forty_two()); }

struct loop_facts {
    const aio::event_loop* loop = nullptr;
    std::size_t pending_tasks = 0;
    bool debug = false;
};

aio::task<loop_facts> describe_running_loop() {
    aio::event_loop& loop = aio::get_running_loop();
    co_return loop_facts{&loop, loop.pending_tasks(), loop.get_debug()};
}

aio::task<void> clean_up_when_cancelled(counted c, std::vector<std::string>& log) {
    bool cancelled = false;
    try {
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        co_await aio::sleep(1ms);  // asynchronous cleanup still gets to run
        log.push_back("cleaned up " + std::to_string(c.value));
        throw aio::cancelled_error{};
    }
    log.push_back("not cancelled");
}

aio::task<int> leave_tasks_behind(std::vector<std::string>& log, bool fail) {
    (void)aio::create_task(clean_up_when_cancelled(counted(1), log));
    (void)aio::create_task(clean_up_when_cancelled(counted(2), log));
    co_await aio::sleep(1ms);
    if (fail) {
        throw test_error("main failed");
    }
    co_return 5;
}

aio::task<int> take_counted(counted c) {
    co_await aio::sleep(0ms);
    co_return c.value;
}

} // namespace

TEST_CASE("run returns the main task's value", "[run]") {
    CHECK(aio::run(forty_two()) == 42);
    CHECK(aio::run(greeting("aio")) == "hello aio");
    std::unique_ptr<int> p = aio::run(make_unique_int(3));
    REQUIRE(p != nullptr);
    CHECK(*p == 3);
}

TEST_CASE("run of a task<void> returns once the task finished", "[run]") {
    bool flag = false;
    aio::run(set_after_sleep(flag));
    CHECK(flag);
}

TEST_CASE("run rethrows the main task's exception with its type", "[run]") {
    CHECK_THROWS_AS(aio::run(fail_after_sleep()), test_error);
    CHECK_THROWS_WITH(aio::run(fail_after_sleep()), "main failed");
}

TEST_CASE("run inside a running loop throws event_loop_error", "[run]") {
    CHECK_THROWS_AS(aio::run(nested_run()), aio::event_loop_error);
}

TEST_CASE("each run uses a fresh loop that stops running when run returns", "[run]") {
    const loop_facts first = aio::run(describe_running_loop());
    const loop_facts second = aio::run(describe_running_loop());
    CHECK(first.loop != nullptr);
    CHECK(first.pending_tasks == 1);  // only main
    CHECK(second.pending_tasks == 1);
    CHECK_FALSE(first.debug);
    CHECK_THROWS_AS(aio::get_running_loop(), aio::event_loop_error);
}

TEST_CASE("run(main, true) runs the loop in debug mode", "[run]") {
    CHECK(aio::run(describe_running_loop(), true).debug);
}

TEST_CASE("run cancels the tasks main left behind and lets them clean up", "[run][real_time]") {
    counted::reset_counts();
    std::vector<std::string> log;
    const steady::time_point start = steady::now();
    SECTION("after main returned") {
        CHECK(aio::run(leave_tasks_behind(log, false)) == 5);
    }
    SECTION("after main failed") {
        CHECK_THROWS_AS(aio::run(leave_tasks_behind(log, true)), test_error);
    }
    std::sort(log.begin(), log.end());  // the order of cancellation is unspecified
    CHECK(log == std::vector<std::string>{"cleaned up 1", "cleaned up 2"});
    CHECK(counted::alive() == 0);       // their frames are gone
    CHECK(steady::now() - start < 1s);  // their 10 s sleeps were not waited for
}

TEST_CASE("run destroys the main task's frame before it returns", "[run]") {
    counted::reset_counts();
    CHECK(aio::run(take_counted(counted(8))) == 8);
    CHECK(counted::alive() == 0);
}

// Regression: run()'s shutdown used to cancel A, whose cancel hook cancelled B, whose hook
// cancelled A, ... until the stack overflowed; then the pair leaked at close. A root now
// ignores a cancel request re-entering its own hook, and close() detaches waiters that hold
// no reference. Expected: run rethrows the deadlock's event_loop_error, nothing leaks. On
// virtual time, where the loop can prove the deadlock (on real time it waits for another thread).
TEST_CASE("run rethrows the deadlock error when two tasks await each other", "[run]") {
    aio::task_handle<int> a;
    aio::task_handle<int> b;
    CHECK_THROWS_AS(aio::run(await_each_other(&a, &b), aio::virtual_time), aio::event_loop_error);
}
