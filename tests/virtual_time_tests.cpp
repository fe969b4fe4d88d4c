// SPDX-License-Identifier: MIT
// Tests for virtual time (<aio/detail/loop_clock.hpp>, event_loop{aio::virtual_time}): autojump
// to the next deadline and never past it, advance() firing due timers in order, timeouts at
// exactly their deadline, a day's sleep in an instant, yields that do not move the clock,
// 10,000 timers over a virtual week, misuse errors, and the real-time loop unaffected.
//
// Virtual time is exact, so these tests assert equalities; the only real-time checks are the
// generous upper bounds that show a long virtual sleep took no real time.
#include "helpers/catch.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<steady::duration> sleep_for(steady::duration delay) {
    aio::event_loop& loop = aio::get_running_loop();
    const steady::time_point start = loop.time();
    co_await aio::sleep(delay);
    co_return loop.time() - start;
}

aio::task<void> sleep_then_note(steady::duration delay, std::string name,
                                std::vector<std::pair<std::string, steady::duration>>& log,
                                steady::time_point start) {
    co_await aio::sleep(delay);
    log.emplace_back(std::move(name), aio::get_running_loop().time() - start);
}

aio::task<void> yield_times(int n, std::vector<std::pair<std::string, steady::duration>>& log,
                            steady::time_point start) {
    for (int i = 0; i < n; ++i) {
        log.emplace_back("yield", aio::get_running_loop().time() - start);
        co_await aio::sleep(0ms);
    }
}

aio::task<void> yields_beside_a_sleep(std::vector<std::pair<std::string, steady::duration>>& log) {
    const steady::time_point start = aio::get_running_loop().time();
    aio::task_handle<void> sleeper = aio::create_task(sleep_then_note(1ns, "sleep", log, start));
    aio::task_handle<void> yielder = aio::create_task(yield_times(5, log, start));
    co_await sleeper;
    co_await yielder;
}

aio::task<void> forever() {
    co_await aio::sleep(std::chrono::hours::max());
}

aio::task<int> retry_until_up(int failures, std::vector<steady::duration>& attempts) {
    aio::event_loop& loop = aio::get_running_loop();
    const steady::time_point start = loop.time();
    steady::duration backoff = 1s;
    for (int attempt = 1;; ++attempt) {
        attempts.push_back(loop.time() - start);
        if (attempt > failures) {
            co_return attempt;
        }
        co_await aio::sleep(backoff);
        backoff = std::min<steady::duration>(backoff * 2, 1h);
    }
}

}  // namespace

TEST_CASE("on virtual time a sleep takes exactly its delay and the loop jumps straight there",
          "[virtual_time]") {
    const steady::time_point real_start = steady::now();
    CHECK(run_virtual(sleep_for(10ms)) == 10ms);
    CHECK(run_virtual(sleep_for(std::chrono::duration_cast<steady::duration>(1.5ms))) == 1500us);
    CHECK(steady::now() - real_start < 10s);  // generous: a virtual sleep takes no real time
}

TEST_CASE("a 24-hour sleep on virtual time finishes instantly, 24 hours later on the loop's clock",
          "[virtual_time]") {
    const steady::time_point real_start = steady::now();
    CHECK(run_virtual(sleep_for(24h)) == 24h);
    CHECK(steady::now() - real_start < 10s);
}

TEST_CASE("autojump goes to the next deadline and never past it: sleeps wake one by one, equal "
          "deadlines in start order",
          "[virtual_time]") {
    aio::event_loop loop{aio::virtual_time};
    const steady::time_point start = loop.time();
    std::vector<std::pair<std::string, steady::duration>> log;
    auto a = loop.create_task(sleep_then_note(30ms, "a", log, start));
    auto b = loop.create_task(sleep_then_note(10ms, "b", log, start));
    auto c = loop.create_task(sleep_then_note(20ms, "c", log, start));
    auto d = loop.create_task(sleep_then_note(10ms, "d", log, start));
    loop.run_until_complete(sleep_for(1h));
    const std::vector<std::pair<std::string, steady::duration>> expected = {
        {"b", 10ms}, {"d", 10ms}, {"c", 20ms}, {"a", 30ms}};
    CHECK(log == expected);
    CHECK(loop.time() - start == 1h);
}

TEST_CASE("advance() on a loop that is not running moves the clock: the timers it passed fire in "
          "deadline order at the next iteration",
          "[virtual_time]") {
    aio::event_loop loop{aio::virtual_time_t{.autojump = false}};
    REQUIRE(loop.uses_virtual_time());
    const steady::time_point start = loop.time();
    std::vector<std::string> fired;
    loop.call_later(30ms, [&] { fired.emplace_back("30"); });
    loop.call_later(10ms, [&] { fired.emplace_back("10"); });
    loop.call_later(20ms, [&] { fired.emplace_back("20"); });
    loop.call_later(10ms, [&] { fired.emplace_back("10 second"); });
    loop.call_at(start + 25ms, [&] { fired.emplace_back("25"); });
    loop.advance(25ms);
    CHECK(loop.time() - start == 25ms);
    CHECK(fired.empty());  // nothing runs until the loop does
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    const std::vector<std::string> due = {"10", "10 second", "20", "25"};
    CHECK(fired == due);
    loop.advance(5ms);
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();
    const std::vector<std::string> all = {"10", "10 second", "20", "25", "30"};
    CHECK(fired == all);
    CHECK(loop.time() - start == 30ms);
}

TEST_CASE("advance() called from a task moves the clock at once: a sleep(0) after it runs "
          "behind the timers that became due",
          "[virtual_time]") {
    aio::event_loop loop{aio::virtual_time_t{.autojump = false}};
    const steady::time_point start = loop.time();
    std::vector<std::pair<std::string, steady::duration>> log;
    auto sleeper = loop.create_task(sleep_then_note(2h, "sleeper", log, start));
    auto driver =
        [](aio::event_loop& l, steady::time_point t0,
           std::vector<std::pair<std::string, steady::duration>>& out) -> aio::task<void> {
        co_await aio::sleep(0ms);  // the sleeper has parked
        l.advance(3h);
        out.emplace_back("advanced", l.time() - t0);
        // The sleeper's deadline (2 h) has passed and is earlier than this sleep(0)'s ("now"),
        // so this yield queues behind it (sleep.hpp: the earlier deadline wakes first).
        co_await aio::sleep(0ms);
        out.emplace_back("driver", l.time() - t0);
    };
    loop.run_until_complete(driver(loop, start, log));
    const std::vector<std::pair<std::string, steady::duration>> expected = {
        {"advanced", 3h}, {"sleeper", 3h}, {"driver", 3h}};
    CHECK(log == expected);
    CHECK(sleeper.done());
}

TEST_CASE("wait_for on virtual time times out at exactly its deadline", "[virtual_time]") {
    const auto timeout_after_sleep = []() -> aio::task<bool> {
        try {
            auto op = aio::wait_for(aio::sleep(1h), 50ms);
            co_await op;
        } catch (const aio::timeout_error&) {
            co_return true;
        }
        co_return false;
    };
    steady::duration elapsed{};
    CHECK(run_virtual(timeout_after_sleep(), elapsed));
    CHECK(elapsed == 50ms);
}

TEST_CASE("yields (sleep(0)) do not move virtual time: a sleep wakes only once nothing is ready",
          "[virtual_time]") {
    std::vector<std::pair<std::string, steady::duration>> log;
    run_virtual(yields_beside_a_sleep(log));
    const std::vector<std::pair<std::string, steady::duration>> expected = {
        {"yield", 0ns}, {"yield", 0ns}, {"yield", 0ns},
        {"yield", 0ns}, {"yield", 0ns}, {"sleep", 1ns}};
    CHECK(log == expected);
}

TEST_CASE("10,000 timers spread over a virtual week fire in (deadline, start) order, each at its "
          "deadline",
          "[virtual_time]") {
    aio::event_loop loop{aio::virtual_time};
    const steady::time_point start = loop.time();
    std::mt19937_64 gen(17);
    std::uniform_int_distribution<std::int64_t> ms(0, 7 * 24 * 3600 * 1000LL);
    struct fired_at {
        steady::time_point deadline;
        int id;
        steady::time_point when;
    };
    std::vector<fired_at> fired;
    fired.reserve(10000);
    steady::time_point previous = start;
    for (int id = 0; id < 10000; ++id) {
        // every tenth deadline repeats the previous one: equal deadlines keep start order
        const steady::time_point deadline =
            id % 10 == 9 ? previous : start + std::chrono::milliseconds(ms(gen));
        previous = deadline;
        loop.call_at(deadline, [&fired, &loop, deadline, id] {
            fired.push_back({deadline, id, loop.time()});
        });
    }
    loop.run_until_complete(sleep_for(8 * 24h));
    REQUIRE(fired.size() == 10000);
    CHECK(std::is_sorted(fired.begin(), fired.end(), [](const fired_at& x, const fired_at& y) {
        return x.deadline < y.deadline || (x.deadline == y.deadline && x.id < y.id);
    }));
    CHECK(std::all_of(fired.begin(), fired.end(),
                      [](const fired_at& f) { return f.when == f.deadline; }));
    CHECK(loop.time() - start == 8 * 24h);
}

TEST_CASE("sleep_until and wait_until read the loop's virtual clock", "[virtual_time]") {
    const auto until = []() -> aio::task<steady::duration> {
        aio::event_loop& loop = aio::get_running_loop();
        const steady::time_point start = loop.time();
        co_await aio::sleep_until(start + 90min);
        try {
            auto op = aio::wait_until(aio::sleep(1h), start + 2h);
            co_await op;
        } catch (const aio::timeout_error&) {
        }
        co_return loop.time() - start;
    };
    CHECK(run_virtual(until()) == 2h);
}

TEST_CASE("a retry with exponential backoff runs hours of virtual sleeps in an instant",
          "[virtual_time]") {
    std::vector<steady::duration> attempts;
    const steady::time_point real_start = steady::now();
    CHECK(run_virtual(retry_until_up(15, attempts)) == 16);
    // backoff 1 s, 2 s, ... capped at 1 h: attempt k starts after the sum of the pauses before it
    std::vector<steady::duration> expected;
    steady::duration at{}, pause = 1s;
    for (int k = 0; k < 16; ++k) {
        expected.push_back(at);
        at += pause;
        pause = std::min<steady::duration>(pause * 2, 1h);
    }
    CHECK(attempts == expected);
    CHECK(steady::now() - real_start < 10s);
}

TEST_CASE("a virtual-time loop with nothing that could move its clock reports a deadlock instead "
          "of hanging",
          "[virtual_time]") {
    SECTION("a sleep that never ends") {
        aio::event_loop loop{aio::virtual_time};
        CHECK_THROWS_AS(loop.run_until_complete(forever()), aio::event_loop_error);
    }
    SECTION("autojump off and nobody left to advance") {
        aio::event_loop loop{aio::virtual_time_t{.autojump = false}};
        CHECK_THROWS_AS(loop.run_until_complete(sleep_for(1s)), aio::event_loop_error);
    }
    SECTION("run_forever with nothing scheduled") {
        aio::event_loop loop{aio::virtual_time};
        CHECK_THROWS_AS(loop.run_forever(), aio::event_loop_error);
    }
}

TEST_CASE("advance() rejects a negative or NaN duration, and a loop on real time",
          "[virtual_time]") {
    aio::event_loop virtual_loop{aio::virtual_time};
    const steady::time_point before = virtual_loop.time();
    CHECK_THROWS_AS(virtual_loop.advance(-1ms), std::invalid_argument);
    CHECK_THROWS_AS(virtual_loop.advance(
                        std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
                    std::invalid_argument);
    CHECK(virtual_loop.time() == before);
    virtual_loop.advance(0ms);
    CHECK(virtual_loop.time() == before);
    virtual_loop.advance(std::chrono::hours::max());  // saturates: "the end of time"
    CHECK(virtual_loop.time() == steady::time_point::max());

    aio::event_loop real_loop;
    CHECK_FALSE(real_loop.uses_virtual_time());
    CHECK_THROWS_AS(real_loop.advance(1ms), aio::invalid_state_error);
}

TEST_CASE("the real-time loop is unaffected: its clock is steady_clock and a sleep takes real "
          "time",
          "[virtual_time][real_time]") {
    aio::event_loop loop;
    const steady::time_point before = steady::now();
    const steady::time_point now = loop.time();
    CHECK(now >= before);
    CHECK(now <= steady::now());
    const steady::duration slept = loop.run_until_complete(sleep_for(20ms));
    CHECK(slept >= 20ms);
    CHECK(steady::now() - before >= 20ms);
}
