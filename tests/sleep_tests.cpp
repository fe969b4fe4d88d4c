// SPDX-License-Identifier: MIT
// Tests for <aio/sleep.hpp>: wake-up order, never waking early, sleep(0) as a yield, every
// kind of std::chrono::duration (floating point, huge, NaN) and cancelling a sleep.
//
// Order and elapsed times are checked on virtual time (helpers/virtual_time.hpp), exactly; the
// real clock's never-early guarantee is checked on real time ([real_time]), with lower bounds.
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <chrono>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<void> sleep_then_log(std::chrono::milliseconds delay, std::vector<long>& log) {
    co_await aio::sleep(delay);
    log.push_back(static_cast<long>(delay.count()));
}

aio::task<void> sleep_all(std::vector<long> delays_ms, std::vector<long>& log) {
    std::vector<aio::task_handle<void>> handles;
    for (long d : delays_ms) {
        handles.push_back(aio::create_task(sleep_then_log(std::chrono::milliseconds(d), log)));
    }
    for (aio::task_handle<void>& h : handles) {
        co_await h;
    }
}

aio::task<void> sleep_until_then_log(steady::time_point deadline, int id, std::vector<int>& log) {
    co_await aio::sleep_until(deadline);
    log.push_back(id);
}

aio::task<void> sleep_until_shared_deadline(int count, std::vector<int>& log) {
    const steady::time_point deadline = aio::get_running_loop().time() + 20ms;
    std::vector<aio::task_handle<void>> handles;
    for (int id = 0; id < count; ++id) {
        handles.push_back(aio::create_task(sleep_until_then_log(deadline, id, log)));
    }
    for (aio::task_handle<void>& h : handles) {
        co_await h;
    }
}

template <class Duration>
aio::task<steady::duration> measure_sleep(Duration delay) {
    const steady::time_point start = aio::get_running_loop().time();
    co_await aio::sleep(delay);
    co_return aio::get_running_loop().time() - start;
}

aio::task<steady::time_point> wake_time_after_sleep_until(steady::time_point deadline) {
    co_await aio::sleep_until(deadline);
    co_return steady::now();
}

aio::task<void> take_turns(std::string name, std::chrono::milliseconds pause,
                           std::vector<std::string>& log) {
    for (int i = 0; i < 3; ++i) {
        log.push_back(name + std::to_string(i));
        co_await aio::sleep(pause);
    }
}

aio::task<void> two_turn_takers(std::chrono::milliseconds pause, std::vector<std::string>& log) {
    aio::task_handle<void> a = aio::create_task(take_turns("A", pause, log));
    aio::task_handle<void> b = aio::create_task(take_turns("B", pause, log));
    co_await a;
    co_await b;
}

aio::task<void> yield_until_past_deadline(std::vector<std::string>& log) {
    log.push_back("main before");
    co_await aio::sleep_until(aio::get_running_loop().time() - 1s);
    log.push_back("main after");
}

aio::task<void> log_once(std::vector<std::string>& log) {
    log.push_back("other");
    co_return;
}

aio::task<void> other_runs_during_past_sleep_until(std::vector<std::string>& log) {
    aio::task_handle<void> other = aio::create_task(log_once(log));
    co_await yield_until_past_deadline(log);
    co_await other;
}

template <class Duration>
aio::task<void> sleep_and_note_cancel(Duration delay, bool& saw_cancel) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        saw_cancel = true;
        throw;
    }
}

struct cancel_outcome {
    bool ended_cancelled = false;
    std::size_t timers_before_cancel = 0;
    std::size_t timers_after_cancel = 0;
};

template <class Duration>
aio::task<cancel_outcome> cancel_sleeping_task(Duration delay, bool& saw_cancel) {
    cancel_outcome outcome;
    aio::task_handle<void> sleeper = aio::create_task(sleep_and_note_cancel(delay, saw_cancel));
    co_await aio::sleep(10ms);
    outcome.timers_before_cancel = aio::detail::core_of(aio::get_running_loop()).timer_count();
    sleeper.cancel();
    outcome.timers_after_cancel = aio::detail::core_of(aio::get_running_loop()).timer_count();
    try {
        co_await sleeper;
    } catch (const aio::cancelled_error&) {
        outcome.ended_cancelled = sleeper.cancelled();
    }
    co_return outcome;
}

aio::task<void> sleep_forever(counted c) {
    co_await aio::sleep(std::chrono::hours::max());
    (void)c;
}

aio::task<void> sleep_for(std::chrono::milliseconds delay) { co_await aio::sleep(delay); }

aio::task<void> sleep_nan() {
    co_await aio::sleep(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()));
}

template <class Duration>
void check_cancelling_a_sleep_of(Duration delay) {
    bool saw_cancel = false;
    steady::duration elapsed{};
    const cancel_outcome outcome = run_virtual(cancel_sleeping_task(delay, saw_cancel), elapsed);
    CHECK(elapsed == 10ms);
    CHECK(saw_cancel);
    CHECK(outcome.ended_cancelled);
    CHECK(outcome.timers_before_cancel == 1);
    CHECK(outcome.timers_after_cancel == 0);  // left the timer queue at once
}

} // namespace

TEST_CASE("shorter sleeps finish first", "[sleep]") {
    std::vector<long> log;
    run_virtual(sleep_all({60, 20, 40, 1}, log));
    CHECK(log == std::vector<long>{1, 20, 40, 60});
}

TEST_CASE("sleeps until one shared deadline wake in the order they started", "[sleep]") {
    std::vector<int> log;
    run_virtual(sleep_until_shared_deadline(16, log));
    CHECK(log == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
}

TEST_CASE("a sleep never wakes early", "[sleep][real_time]") {
    SECTION("milliseconds") {
        const auto delay = std::chrono::milliseconds(GENERATE(1, 5, 15));
        CAPTURE(delay.count());
        CHECK(aio::run(measure_sleep(delay)) >= delay);
    }
    SECTION("microseconds") {
        CHECK(aio::run(measure_sleep(std::chrono::microseconds(2500))) >= 2500us);
    }
    SECTION("duration<double>") {
        const std::chrono::duration<double> delay(0.0123);
        CHECK(aio::run(measure_sleep(delay)) >= delay);
    }
}

TEST_CASE("sleep_until never wakes before its deadline", "[sleep][real_time]") {
    const steady::time_point deadline = steady::now() + 15ms;
    CHECK(aio::run(wake_time_after_sleep_until(deadline)) >= deadline);
}

TEST_CASE("sleep accepts a floating-point duration", "[sleep]") {
    const steady::duration elapsed =
        run_virtual(measure_sleep(std::chrono::duration<double>(0.01)));
    CHECK(elapsed >= 10ms);
    CHECK(elapsed <= 10ms + 1ns);  // rounded up to the clock's tick, no more
}

TEST_CASE("sleep(0ms) lets every other ready task run once: two tasks take turns", "[sleep]") {
    // A non-positive delay is a yield, like asyncio.sleep(0).
    const auto pause = std::chrono::milliseconds(GENERATE(0, -5));
    CAPTURE(pause.count());
    std::vector<std::string> log;
    run_virtual(two_turn_takers(pause, log));
    CHECK(log == std::vector<std::string>{"A0", "B0", "A1", "B1", "A2", "B2"});
}

TEST_CASE("sleep_until a deadline in the past yields once", "[sleep]") {
    std::vector<std::string> log;
    run_virtual(other_runs_during_past_sleep_until(log));
    CHECK(log == std::vector<std::string>{"main before", "other", "main after"});
}

TEST_CASE("cancelling a sleeping task removes its timer and ends it at once", "[sleep]") {
    check_cancelling_a_sleep_of(10s);
}

TEST_CASE("huge durations do not overflow: a task sleeping 'forever' can be cancelled",
          "[sleep]") {
    SECTION("hours::max()") { check_cancelling_a_sleep_of(std::chrono::hours::max()); }
    SECTION("nanoseconds::max()") { check_cancelling_a_sleep_of(std::chrono::nanoseconds::max()); }
    SECTION("years::max()") { check_cancelling_a_sleep_of(std::chrono::years::max()); }
    SECTION("duration<double>(1e300)") {
        check_cancelling_a_sleep_of(std::chrono::duration<double>(1e300));
    }
    SECTION("duration<double>(infinity)") {
        check_cancelling_a_sleep_of(
            std::chrono::duration<double>(std::numeric_limits<double>::infinity()));
    }
}

TEST_CASE("a loop can be closed while a task sleeps for hours::max()", "[sleep]") {
    counted::reset_counts();
    {
        aio::event_loop loop{aio::virtual_time};
        const steady::time_point start = loop.time();
        (void)loop.create_task(sleep_forever(counted(1)));
        loop.run_until_complete(sleep_for(5ms));
        CHECK(counted::alive() == 1);
        CHECK(loop.time() - start == 5ms);
        loop.close();
        CHECK(counted::alive() == 0);
    }
}

TEST_CASE("a NaN duration throws std::invalid_argument", "[sleep]") {
    const std::chrono::duration<double> nan_delay(std::numeric_limits<double>::quiet_NaN());
    CHECK_THROWS_AS(aio::sleep(nan_delay), std::invalid_argument);
    CHECK_THROWS_AS(run_virtual(sleep_nan()), std::invalid_argument);
}

namespace {

// How a sleeper in the order tests below sleeps.
enum class sleep_kind { until_deadline, zero };

// Busy-waits (without suspending) until `deadline` has passed, if asked, then sleeps.
aio::task<void> sleep_and_log(sleep_kind kind, steady::time_point deadline, bool spin_past,
                              std::string name, std::vector<std::string>& log) {
    while (spin_past && steady::now() <= deadline) {
    }
    if (kind == sleep_kind::zero) {
        co_await aio::sleep(0ms);
    } else {
        co_await aio::sleep_until(deadline);
    }
    log.push_back(name);
}

struct sleeper {
    sleep_kind kind;
    bool spin_past;  // busy-wait past the shared deadline before sleeping
    std::string name;
};

// Starts the sleepers in order in one loop iteration; all use one deadline 3 ms away.
aio::task<void> start_sleepers(std::vector<sleeper> sleepers, std::vector<std::string>& log) {
    const steady::time_point deadline = steady::now() + 3ms;
    std::vector<aio::task_handle<void>> handles;
    for (const sleeper& s : sleepers) {
        handles.push_back(
            aio::create_task(sleep_and_log(s.kind, deadline, s.spin_past, s.name, log)));
    }
    for (aio::task_handle<void>& h : handles) {
        co_await h;
    }
}

std::size_t position(const std::vector<std::string>& log, const std::string& name) {
    std::size_t i = 0;
    while (i < log.size() && log[i] != name) {
        ++i;
    }
    return i;
}

} // namespace

// Issue #10, defect 10: a deadline already passed became a plain yield and overtook an earlier
// sleeper whose timer was due at the same instant ("B woke #1, A woke #2").
TEST_CASE("a sleep_until whose deadline has passed does not overtake an earlier sleeper with "
          "the same deadline",
          "[sleep][issue10]") {
    std::vector<std::string> log;
    aio::run(start_sleepers(
        {{sleep_kind::until_deadline, false, "A"}, {sleep_kind::until_deadline, true, "B"}}, log));
    CHECK(log == std::vector<std::string>{"A", "B"});
}

// Issue #10, defect 10: sleep(0) is due "now", so it must not overtake a sleeper due earlier.
TEST_CASE("sleep(0) does not overtake an earlier sleeper whose deadline has passed",
          "[sleep][issue10]") {
    std::vector<std::string> log;
    aio::run(start_sleepers(
        {{sleep_kind::until_deadline, false, "A"}, {sleep_kind::zero, true, "B"}}, log));
    CHECK(log == std::vector<std::string>{"A", "B"});
}

// Issue #10, defect 10: mixes of sleep(0) and sleep_until(a passed deadline) behind a due
// timer. D's deadline (the shared one) is earlier than C's ("now", later), so D may wake
// before C; everything else is in start order.
TEST_CASE("sleeps whose deadlines have passed wake in start order behind a due timer, whether "
          "sleep(0) or sleep_until",
          "[sleep][issue10]") {
    std::vector<std::string> log;
    aio::run(start_sleepers({{sleep_kind::until_deadline, false, "A"},
                             {sleep_kind::until_deadline, true, "B"},
                             {sleep_kind::zero, false, "C"},
                             {sleep_kind::until_deadline, false, "D"}},
                            log));
    REQUIRE(log.size() == 4);
    CHECK(position(log, "A") == 0);
    CHECK(position(log, "B") == 1);
    CHECK(position(log, "C") > position(log, "B"));
    CHECK(position(log, "D") > position(log, "B"));
}

// Issue #10, defect 10: with no timer due, both are plain yields (as asyncio's sleep(0)), in
// start order.
TEST_CASE("sleep(0) and sleep_until(a passed deadline) with no timer due wake in start order",
          "[sleep][issue10]") {
    std::vector<std::string> log;
    SECTION("sleep_until first") {
        aio::run(start_sleepers(
            {{sleep_kind::until_deadline, true, "A"}, {sleep_kind::zero, false, "B"}}, log));
    }
    SECTION("sleep(0) first") {
        aio::run(start_sleepers(
            {{sleep_kind::zero, true, "A"}, {sleep_kind::until_deadline, false, "B"}}, log));
    }
    CHECK(log == std::vector<std::string>{"A", "B"});
}
