// SPDX-License-Identifier: MIT
// Tests for <aio/event_loop.hpp>: run_until_complete / run_forever / stop, callbacks and
// timers, the running-loop pointer, misuse errors, debug mode, idle blocking, and what a loop
// does with tasks still pending when it goes away.
#include "helpers/await_cycle.hpp"
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_error.hpp"
#include "helpers/test_tasks.hpp"

#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<int> fail_after_sleep() {
    co_await aio::sleep(1ms);
    throw test_error("task failed");
    co_return 0;
}

aio::task<void> sleep_for(std::chrono::milliseconds delay) { co_await aio::sleep(delay); }

aio::task<bool> running_loop_is(const aio::event_loop* expected) {
    co_return &aio::get_running_loop() == expected;
}

aio::task<int> run_other_loop_inside(aio::event_loop* other) {
    co_return other->run_until_complete(forty_two());
}

aio::task<int> run_same_loop_inside() {
    co_return aio::get_running_loop().run_until_complete(forty_two());
}

aio::task<void> stop_then_sleep() {
    aio::get_running_loop().stop();
    co_await aio::sleep(10ms);
}

aio::task<void> append(std::vector<int>& order, int value) {
    order.push_back(value);
    co_return;
}

aio::task<void> create_three(std::vector<int>& order, std::size_t& pending_after_create) {
    aio::task_handle<void> first = aio::create_task(append(order, 1));
    aio::task_handle<void> second = aio::create_task(append(order, 2));
    aio::task_handle<void> third = aio::create_task(append(order, 3));
    pending_after_create = aio::get_running_loop().pending_tasks();
    order.push_back(0);  // created tasks start on the next iteration: we are still first
    co_await aio::sleep(0ms);
    co_await first;
    co_await second;
    co_await third;
}

aio::task<void> sleep_forever(counted c) {
    co_await aio::sleep(std::chrono::hours(1));
    (void)c;
}

aio::task<void> await_handle(counted c, aio::task_handle<void> target) {
    co_await target;
    (void)c;
}

aio::task<void> gather_sleepers(counted c) {
    aio::task<void> first = sleep_forever(counted(1));
    aio::task<void> second = sleep_forever(counted(2));
    (void)co_await aio::gather(std::move(first), std::move(second));
    (void)c;
}

// Leaves three tasks pending on the running loop: one sleeping, one awaiting the sleeper's
// handle, one inside a gather of two sleepers. Five counted objects live in their frames.
aio::task<void> leave_pending_tasks() {
    aio::task_handle<void> sleeper = aio::create_task(sleep_forever(counted(10)));
    (void)aio::create_task(await_handle(counted(11), sleeper));
    (void)aio::create_task(gather_sleepers(counted(12)));
    co_await aio::sleep(5ms);  // everything has started and suspended
}

aio::task<void> await_through_pointer(counted c, const aio::task_handle<void>* target) {
    co_await *target;
    (void)c;
}

} // namespace

TEST_CASE("run_until_complete returns the task's value", "[event_loop]") {
    aio::event_loop loop;
    CHECK(loop.run_until_complete(forty_two()) == 42);
    CHECK(loop.run_until_complete(forty_two()) == 42);  // a loop can run again
    CHECK_FALSE(loop.is_running());
    CHECK_FALSE(loop.is_closed());
}

TEST_CASE("run_until_complete rethrows the task's exception", "[event_loop]") {
    aio::event_loop loop;
    CHECK_THROWS_AS(loop.run_until_complete(fail_after_sleep()), test_error);
    CHECK_FALSE(loop.is_running());
}

TEST_CASE("get_running_loop returns the loop running the current task", "[event_loop]") {
    aio::event_loop loop;
    CHECK(loop.run_until_complete(running_loop_is(&loop)));
}

TEST_CASE("get_running_loop throws event_loop_error when no loop is running", "[event_loop]") {
    CHECK_THROWS_AS(aio::get_running_loop(), aio::event_loop_error);
    aio::event_loop loop;
    CHECK_THROWS_AS(aio::get_running_loop(), aio::event_loop_error);  // exists, not running
    (void)loop.run_until_complete(forty_two());
    CHECK_THROWS_AS(aio::get_running_loop(), aio::event_loop_error);  // no longer running
}

TEST_CASE("create_task outside a running loop throws event_loop_error", "[event_loop]") {
    CHECK_THROWS_AS(aio::create_task(forty_two()), aio::event_loop_error);
}

TEST_CASE("running a loop from inside a running loop throws event_loop_error", "[event_loop]") {
    aio::event_loop loop;
    SECTION("another loop") {
        aio::event_loop other;
        CHECK_THROWS_AS(loop.run_until_complete(run_other_loop_inside(&other)),
                        aio::event_loop_error);
    }
    SECTION("the same loop") {
        CHECK_THROWS_AS(loop.run_until_complete(run_same_loop_inside()), aio::event_loop_error);
    }
    CHECK_FALSE(loop.is_running());
    CHECK(loop.run_until_complete(forty_two()) == 42);  // the loop is still usable
}

// On virtual time: only there can the loop prove that nothing will ever wake the tasks (on
// real time another thread may still call call_soon_threadsafe, so the loop waits, as
// asyncio's does).
TEST_CASE("run_until_complete on virtual time detects a deadlock between tasks awaiting each "
          "other",
          "[event_loop]") {
    aio::task_handle<int> a;  // outlive the loop, see await_each_other
    aio::task_handle<int> b;
    {
        aio::event_loop loop{aio::virtual_time};
        std::string message;
        try {
            (void)loop.run_until_complete(await_each_other(&a, &b));
        } catch (const aio::event_loop_error& e) {
            message = e.what();
        }
        CHECK(contains(message, "deadlock"));
        REQUIRE(a.valid());
        REQUIRE(b.valid());
        CHECK_FALSE(a.done());
        CHECK_FALSE(b.done());
    }
}

TEST_CASE("a closed loop refuses to run or to schedule anything", "[event_loop]") {
    aio::event_loop loop;
    loop.close();
    CHECK(loop.is_closed());
    CHECK_THROWS_AS(loop.run_until_complete(forty_two()), aio::event_loop_error);
    CHECK_THROWS_AS(loop.create_task(forty_two()), aio::event_loop_error);
    CHECK_THROWS_AS(loop.call_soon([] {}), aio::event_loop_error);
    CHECK_THROWS_AS(loop.call_later(1ms, [] {}), aio::event_loop_error);
    CHECK_THROWS_AS(loop.run_forever(), aio::event_loop_error);
    CHECK_NOTHROW(loop.close());  // closing twice is harmless
}

TEST_CASE("closing a running loop throws event_loop_error", "[event_loop]") {
    aio::event_loop loop;
    bool threw = false;
    loop.call_soon([&] {
        try {
            loop.close();
        } catch (const aio::event_loop_error&) {
            threw = true;
        }
        loop.stop();
    });
    loop.run_forever();
    CHECK(threw);
    CHECK_FALSE(loop.is_closed());
}

TEST_CASE("stop() makes run_forever return once the current iteration is over", "[event_loop]") {
    aio::event_loop loop;
    std::vector<int> order;
    loop.call_soon([&] {
        order.push_back(1);
        loop.call_soon([&] { order.push_back(3); });  // scheduled for the next iteration
        loop.stop();
    });
    loop.call_soon([&] { order.push_back(2); });  // same iteration as stop(): still runs
    loop.run_forever();
    CHECK(order == std::vector<int>{1, 2});
    CHECK_FALSE(loop.is_running());

    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();  // picks up where the last one stopped
    CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("stop() while run_until_complete waits makes it throw event_loop_error",
          "[event_loop]") {
    aio::event_loop loop;
    CHECK_THROWS_AS(loop.run_until_complete(stop_then_sleep()), aio::event_loop_error);
    CHECK(loop.run_until_complete(forty_two()) == 42);  // the stop request was consumed
}

TEST_CASE("call_soon callbacks run in the order they were scheduled", "[event_loop]") {
    aio::event_loop loop;
    std::vector<int> order;
    for (int i = 0; i < 10; ++i) {
        loop.call_soon([&order, i] { order.push_back(i); });
    }
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("call_later and call_at callbacks run in deadline order and never early",
          "[event_loop]") {
    // Scheduled out of deadline order. Each call_later is scheduled after the earlier-deadline
    // ones, so a pause between two statements can only push it later, never reorder. On
    // virtual time each fires exactly at its deadline.
    aio::event_loop loop{aio::virtual_time};
    std::vector<int> order;
    std::vector<steady::time_point> fired(4);
    const steady::time_point start = loop.time();
    const auto record = [&](int n) {
        order.push_back(n);
        fired[static_cast<std::size_t>(n - 1)] = loop.time();
    };
    aio::callback_handle second = loop.call_later(40ms, [&] { record(2); });
    aio::callback_handle fourth = loop.call_later(80ms, [&] {
        record(4);
        loop.stop();
    });
    aio::callback_handle first = loop.call_at(start + 20ms, [&] { record(1); });
    aio::callback_handle third = loop.call_at(start + 60ms, [&] { record(3); });
    loop.run_forever();

    CHECK(order == std::vector<int>{1, 2, 3, 4});
    CHECK(first.when() == start + 20ms);
    CHECK(fired[0] == first.when());
    CHECK(fired[1] == second.when());
    CHECK(fired[2] == third.when());
    CHECK(fired[3] == fourth.when());
    CHECK(fired[3] - start == 80ms);
}

TEST_CASE("callbacks with equal deadlines run in the order they were scheduled", "[event_loop]") {
    aio::event_loop loop{aio::virtual_time};
    std::vector<int> order;
    const steady::time_point when = loop.time() + 10ms;
    for (int i = 0; i < 16; ++i) {
        loop.call_at(when, [&order, i] { order.push_back(i); });
    }
    loop.call_at(when, [&] { loop.stop(); });
    loop.run_forever();
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
}

TEST_CASE("a cancelled callback never runs", "[event_loop]") {
    aio::event_loop loop{aio::virtual_time};
    std::vector<int> order;
    aio::callback_handle soon = loop.call_soon([&] { order.push_back(1); });
    aio::callback_handle later = loop.call_later(5ms, [&] { order.push_back(2); });
    aio::callback_handle far =
        loop.call_later(std::chrono::hours::max(), [&] { order.push_back(3); });
    loop.call_later(15ms, [&] {
        order.push_back(4);
        loop.stop();
    });
    CHECK(aio::detail::core_of(loop).timer_count() == 3);

    soon.cancel();
    later.cancel();
    far.cancel();
    CHECK(soon.cancelled());
    CHECK(later.cancelled());
    CHECK(far.cancelled());
    CHECK(aio::detail::core_of(loop).timer_count() == 1);  // cancelled timers left the heap at once

    loop.run_forever();
    CHECK(order == std::vector<int>{4});
    CHECK_NOTHROW(later.cancel());  // cancelling again is harmless
}

TEST_CASE("call_later with a NaN delay throws std::invalid_argument", "[event_loop]") {
    aio::event_loop loop;
    const std::chrono::duration<double> nan_delay(std::numeric_limits<double>::quiet_NaN());
    CHECK_THROWS_AS(loop.call_later(nan_delay, [] {}), std::invalid_argument);
    CHECK(aio::detail::core_of(loop).timer_count() == 0);
}

TEST_CASE("an exception thrown by a callback is reported and the loop keeps running",
          "[event_loop]") {
    aio::event_loop loop;
    bool later_ran = false;
    capture_stderr capture;
    loop.call_soon([] { throw test_error("callback failed"); });
    loop.call_soon([&] {
        later_ran = true;
        loop.stop();
    });
    loop.run_forever();
    const std::string text = capture.stop();
    CHECK(later_ran);
    CHECK(contains(text, "callback failed"));
}

TEST_CASE("loop.time() is monotonic and advances with the steady clock",
          "[event_loop][real_time]") {
    aio::event_loop loop;
    steady::time_point previous = loop.time();
    for (int i = 0; i < 1000; ++i) {
        const steady::time_point now = loop.time();
        CHECK(now >= previous);
        previous = now;
    }
    const steady::time_point before = loop.time();
    std::this_thread::sleep_for(10ms);
    const steady::time_point after = loop.time();
    CHECK(after - before >= 10ms);
    CHECK(after <= steady::now());
}

TEST_CASE("set_debug switches debug mode and get_debug reports it", "[event_loop]") {
    aio::event_loop loop;
    CHECK_FALSE(loop.get_debug());
    loop.set_debug(true);
    CHECK(loop.get_debug());
    loop.set_debug(false);
    CHECK_FALSE(loop.get_debug());
}

TEST_CASE("in debug mode a slow callback is reported on stderr", "[event_loop][real_time]") {
    aio::event_loop loop;
    const bool debug = GENERATE(false, true);
    CAPTURE(debug);
    loop.set_debug(debug);
    loop.slow_callback_duration = 10ms;
    capture_stderr capture;
    loop.call_soon([&] {
        std::this_thread::sleep_for(20ms);
        loop.stop();
    });
    loop.run_forever();
    const std::string text = capture.stop();
    CHECK(contains(text, "aio: a callback took") == debug);
}

TEST_CASE("tasks created in one iteration start in creation order on the next", "[event_loop]") {
    std::vector<int> order;
    std::size_t pending_after_create = 0;
    aio::event_loop loop;
    loop.run_until_complete(create_three(order, pending_after_create));
    CHECK(order == std::vector<int>{0, 1, 2, 3});
    CHECK(pending_after_create == 4);  // the main task and the three it created
    CHECK(loop.pending_tasks() == 0);
}

TEST_CASE("a loop that goes away with pending tasks destroys their frames", "[event_loop]") {
    // Sleeping, awaiting a handle, and inside a gather; ASan/LSan check that nothing leaks.
    counted::reset_counts();
    SECTION("by close()") {
        aio::event_loop loop;
        loop.run_until_complete(leave_pending_tasks());
        CHECK(counted::alive() == 5);
        CHECK(loop.pending_tasks() == 3);
        loop.close();
        CHECK(counted::alive() == 0);
        CHECK(loop.pending_tasks() == 0);
    }
    SECTION("by its destructor") {
        {
            aio::event_loop loop;
            loop.run_until_complete(leave_pending_tasks());
            CHECK(counted::alive() == 5);
        }
        CHECK(counted::alive() == 0);
    }
}

TEST_CASE("a loop that never ran destroys the tasks created on it without running them",
          "[event_loop]") {
    counted::reset_counts();
    bool ran = false;
    {
        aio::event_loop loop;
        (void)loop.create_task(sleep_forever(counted(1)));
        (void)loop.create_task(set_flag(ran));
        CHECK(counted::alive() == 1);
    }
    CHECK(counted::alive() == 0);
    CHECK_FALSE(ran);
}

TEST_CASE("a handle that outlives its loop keeps the unfinished frame until it goes",
          "[event_loop]") {
    counted::reset_counts();
    aio::task_handle<void> survivor;
    {
        aio::event_loop loop;
        survivor = loop.create_task(sleep_forever(counted(1)));
        loop.run_until_complete(sleep_for(2ms));
    }
    CHECK(counted::alive() == 1);
    CHECK_FALSE(survivor.done());
    CHECK_THROWS_AS(survivor.result(), aio::invalid_state_error);
    survivor = aio::task_handle<void>{};
    CHECK(counted::alive() == 0);
}

TEST_CASE("in debug mode a task destroyed while pending is reported on stderr", "[event_loop]") {
    const bool debug = GENERATE(false, true);
    CAPTURE(debug);
    capture_stderr capture;
    {
        aio::event_loop loop;
        loop.set_debug(debug);
        (void)loop.create_task(sleep_forever(counted(1)));
        loop.run_until_complete(sleep_for(2ms));
    }
    const std::string text = capture.stop();
    CHECK(contains(text, "task was destroyed but it is pending") == debug);
}

TEST_CASE("an idle loop blocks instead of spinning", "[event_loop][real_time]") {
    // A 200 ms sleep must cost (almost) no CPU: the loop waits for the deadline.
    aio::event_loop loop;
    const steady::time_point wall_start = steady::now();
    const std::clock_t cpu_start = std::clock();
    loop.run_until_complete(sleep_for(200ms));
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    const auto wall = steady::now() - wall_start;
    CAPTURE(cpu_seconds);
    CHECK(wall >= 200ms);
    CHECK(cpu_seconds < 0.020);
}

// Regression (was a heap-use-after-free in task_root::remove_waiter): a task awaiting a handle
// it does not own used to leave its awaiter linked in a target that close() destroyed first.
// An awaiter now holds a reference to its target while it waits.
TEST_CASE("a loop closed while a task awaits a handle it does not own destroys both frames",
          "[event_loop]") {
    counted::reset_counts();
    aio::event_loop loop;
    {
        aio::task_handle<void> target = loop.create_task(sleep_forever(counted(1)));  // first
        (void)loop.create_task(await_through_pointer(counted(2), &target));
        loop.run_until_complete(sleep_for(2ms));
        CHECK(counted::alive() == 2);
    }  // only the loop holds the target now
    loop.close();
    CHECK(counted::alive() == 0);
}

namespace {

aio::task<void> note_start(std::vector<std::string>& log, std::string name) {
    log.push_back(std::move(name));
    co_return;
}

} // namespace

TEST_CASE("created tasks and callbacks start in the order they were scheduled", "[event_loop]") {
    // Consecutive create_task calls share one entry of the ready queue; anything scheduled in
    // between must still run between them.
    aio::event_loop loop;
    std::vector<std::string> log;
    auto a = loop.create_task(note_start(log, "a"));
    auto b = loop.create_task(note_start(log, "b"));
    loop.call_soon([&] { log.push_back("callback"); });
    auto c = loop.create_task(note_start(log, "c"));
    loop.call_soon([&] {
        log.push_back("last");
        loop.stop();
    });
    loop.run_forever();
    CHECK(log == std::vector<std::string>{"a", "b", "callback", "c", "last"});
}

TEST_CASE("a task created while earlier created tasks wait to start still starts on the next "
          "iteration",
          "[event_loop]") {
    aio::event_loop loop;
    std::vector<std::string> log;
    aio::task_handle<void> late;
    loop.call_soon([&] {
        // The run holding "first" was queued before this iteration began; "late" must not
        // join it, or it would start in this iteration.
        late = loop.create_task(note_start(log, "late"));
        loop.stop();
    });
    auto first = loop.create_task(note_start(log, "first"));
    loop.run_forever();
    CHECK(log == std::vector<std::string>{"first"});
    CHECK_FALSE(late.done());
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    CHECK(log == std::vector<std::string>{"first", "late"});
}

namespace {

aio::task<void> sleep_for_hours(int& cancelled) {
    try {
        co_await aio::sleep(std::chrono::hours(1));
    } catch (const aio::cancelled_error&) {
        ++cancelled;
        throw;
    }
}

aio::task<void> start_sleeper(aio::task_handle<void>& sleeper, int& cancelled) {
    sleeper = aio::create_task(sleep_for_hours(cancelled));
    co_await aio::sleep(1ms);  // the sleeper is asleep now
}

aio::task<bool> await_cancelled(aio::task_handle<void> h) {
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

struct alignas(16) aligned_pair {
    double a;
    double b;
};

aio::task<aligned_pair> make_aligned(double a) { co_return aligned_pair{a, 2 * a}; }
aio::task<long double> make_long_double(long double x) { co_return x / 2; }

} // namespace

TEST_CASE("a sleeping task cancelled while its loop is not running ends as soon as it runs again",
          "[event_loop][cancel]") {
    aio::event_loop loop{aio::virtual_time};
    aio::task_handle<void> sleeper;
    int cancelled = 0;
    loop.run_until_complete(start_sleeper(sleeper, cancelled));
    REQUIRE_FALSE(sleeper.done());
    CHECK(aio::detail::core_of(loop).timer_count() == 1);
    CHECK(sleeper.cancel());     // no loop is running: the timer must still leave the loop
    CHECK(aio::detail::core_of(loop).timer_count() == 0);
    const steady::time_point start = loop.time();
    CHECK(loop.run_until_complete(await_cancelled(sleeper)));
    CHECK(loop.time() - start == 0ms);  // the hour's sleep was not waited for
    CHECK(cancelled == 1);
    CHECK(sleeper.cancelled());
}

TEST_CASE("tasks with 16-byte-aligned results run as created tasks and return their value",
          "[event_loop]") {
    aio::event_loop loop;
    auto pair = loop.create_task(make_aligned(1.5));
    auto wide = loop.create_task(make_long_double(5.0L));
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    REQUIRE(pair.done());
    CHECK(pair.result().a == 1.5);
    CHECK(pair.result().b == 3.0);
    CHECK(reinterpret_cast<std::uintptr_t>(&pair.result()) % 16 == 0);
    CHECK(wide.result() == 2.5L);
}

namespace {

aio::task<void> finish_soon() { co_await aio::sleep(0ms); }

aio::task<std::size_t> waves_of_tasks(std::vector<aio::task_handle<void>>& sleepers,
                                      int& cancelled) {
    aio::event_loop& loop = aio::get_running_loop();
    for (int wave = 0; wave < 6; ++wave) {
        std::vector<aio::task_handle<void>> shorts;
        for (int i = 0; i < 3000; ++i) {
            shorts.push_back(loop.create_task(finish_soon()));
        }
        sleepers.push_back(loop.create_task(sleep_for_hours(cancelled)));
        for (auto& h : shorts) {
            co_await h;
        }
    }
    co_return loop.pending_tasks();
}

} // namespace

TEST_CASE("the loop keeps track of long-lived tasks while many short ones come and go",
          "[event_loop]") {
    // 18,000 short tasks in waves make the loop's task list squeeze out finished slots more
    // than once; the six sleepers must stay reachable for cancel_all and close.
    aio::event_loop loop;
    std::vector<aio::task_handle<void>> sleepers;
    int cancelled = 0;
    CHECK(loop.run_until_complete(waves_of_tasks(sleepers, cancelled)) == 7);  // and main
    CHECK(loop.pending_tasks() == 6);
    CHECK(loop.cancel_all() == 6);
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    CHECK(cancelled == 6);
    CHECK(loop.pending_tasks() == 0);
    CHECK(loop.cancel_all() == 0);  // no finished task is still listed
    for (const auto& s : sleepers) {
        CHECK(s.cancelled());
    }
    loop.close();
}

namespace {

aio::task<void> note_number(std::vector<int>& log, int n) {
    log.push_back(n);
    co_return;
}

aio::task<void> note_and_create(std::vector<int>& log, int n, int children) {
    log.push_back(n);
    for (int j = 0; j < children; ++j) {
        (void)aio::create_task(note_number(log, 1000 + j));
    }
    co_return;
}

// Leaves 100 finished slots in the loop's task list (a sleeper keeps it from emptying), so
// that it squeezes them out when it reaches slot 128, and the tasks created after that reuse
// the slots where the ones queued before it were: a queued start that was not moved along
// would start the wrong task.
aio::task<void> leave_finished_slots(aio::task_handle<void>& sleeper, int& cancelled) {
    sleeper = aio::create_task(sleep_for_hours(cancelled));
    for (int i = 0; i < 100; ++i) {
        (void)aio::create_task(finish_soon());
    }
    co_await aio::sleep(1ms);
    co_await aio::sleep(1ms);
}

aio::task<void> create_while_starts_are_queued(std::vector<int>& log) {
    for (int i = 0; i < 200; ++i) {  // the list squeezes out the finished slots meanwhile
        (void)aio::create_task(note_number(log, i));
    }
    co_await aio::sleep(1ms);
}

aio::task<void> create_while_a_run_starts(std::vector<int>& log) {
    for (int i = 0; i < 20; ++i) {  // no squeeze yet; task 5 makes one happen as it starts
        (void)aio::create_task(note_and_create(log, i, i == 5 ? 100 : 0));
    }
    co_await aio::sleep(1ms);
    co_await aio::sleep(1ms);
}

std::vector<int> numbers(int first, int last) {
    std::vector<int> v;
    for (int i = first; i <= last; ++i) {
        v.push_back(i);
    }
    return v;
}

} // namespace

TEST_CASE("tasks queued to start keep their order when the loop's task list squeezes out "
          "finished slots",
          "[event_loop]") {
    aio::event_loop loop;
    aio::task_handle<void> sleeper;
    int cancelled = 0;
    std::vector<int> log;
    loop.run_until_complete(leave_finished_slots(sleeper, cancelled));
    SECTION("while their runs wait in the ready queue") {
        loop.run_until_complete(create_while_starts_are_queued(log));
        CHECK(log == numbers(0, 199));
    }
    SECTION("while their run is being started") {
        loop.run_until_complete(create_while_a_run_starts(log));
        std::vector<int> expected = numbers(0, 19);
        const std::vector<int> children = numbers(1000, 1099);
        expected.insert(expected.end(), children.begin(), children.end());
        CHECK(log == expected);
    }
    CHECK(loop.pending_tasks() == 1);
    CHECK(loop.cancel_all() == 1);
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    CHECK(cancelled == 1);
}

namespace {

// Asks `target` (a loop already running: this one, or another one while this one runs) to run
// a task that would record that it ran; then sleeps, so that a task created anyway would start.
aio::task<bool> run_until_complete_while_running(aio::event_loop* target, bool* ran) {
    bool rejected = false;
    try {
        target->run_until_complete(set_flag(*ran));
    } catch (const aio::event_loop_error&) {
        rejected = true;
    }
    co_await aio::sleep(2ms);
    co_return rejected;
}

} // namespace

// Issue #10, defect 5: the task was created before the "already running" check, and ran anyway.
TEST_CASE("a rejected run_until_complete runs nothing: the task it was given is destroyed unrun",
          "[event_loop][issue10]") {
    aio::event_loop loop;
    aio::event_loop other;
    loop.set_debug(true);
    other.set_debug(true);
    const bool same_loop = GENERATE(true, false);
    CAPTURE(same_loop);
    aio::event_loop* target = same_loop ? &loop : &other;
    bool ran = false;
    capture_stderr capture;
    CHECK(loop.run_until_complete(run_until_complete_while_running(target, &ran)));
    CHECK(target->pending_tasks() == 0);
    loop.close();
    other.close();  // debug mode would report a task destroyed pending
    const std::string reported = capture.stop();
    CHECK_FALSE(ran);
    CHECK(reported.empty());
}
