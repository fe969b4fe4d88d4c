// SPDX-License-Identifier: MIT
// Tests for <aio/detail/clock.hpp>: how a delay becomes clock ticks — rounded up (a sleep never
// wakes early), saturated (a huge delay means forever), zero for non-positive delays, NaN
// rejected — for floating-point and integer durations of every period.
#include "helpers/catch.hpp"

#include <aio/detail/clock.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <random>
#include <ratio>
#include <stdexcept>

using aio::detail::to_clock_duration;
using ticks = aio::detail::clock::duration;
using namespace std::chrono_literals;

TEST_CASE("a floating-point delay becomes ticks rounded up, never fewer than it asks for",
          "[clock]") {
    CHECK(to_clock_duration(std::chrono::duration<double>(0.5)) == 500ms);
    CHECK(to_clock_duration(std::chrono::duration<double>(1.5e-9)) == 2ns);
    CHECK(to_clock_duration(std::chrono::duration<float>(0.25F)) == 250ms);
    CHECK(to_clock_duration(std::chrono::duration<double, std::milli>(2.0000001)) == 2000001ns);
    CHECK(to_clock_duration(std::chrono::duration<long double>(3.0L)) == 3s);
    std::mt19937_64 gen(7);
    std::uniform_real_distribution<double> seconds(0.0, 10.0);
    for (int i = 0; i < 10000; ++i) {
        const double s = seconds(gen);
        const ticks t = to_clock_duration(std::chrono::duration<double>(s));
        // exact comparison in long double (64-bit mantissa: every tick count here is exact)
        CHECK(static_cast<long double>(t.count()) >= static_cast<long double>(s) * 1e9L);
        CHECK(static_cast<long double>(t.count()) < static_cast<long double>(s) * 1e9L + 2);
    }
}

TEST_CASE("an integer delay of any period becomes ticks, rounded up below a tick", "[clock]") {
    CHECK(to_clock_duration(3ms) == 3000000ns);
    CHECK(to_clock_duration(
              std::chrono::duration<int, std::milli>(std::numeric_limits<int>::max())) ==
          std::chrono::milliseconds(std::numeric_limits<int>::max()));
    CHECK(to_clock_duration(std::chrono::duration<std::int64_t, std::pico>(1500)) == 2ns);
    CHECK(to_clock_duration(std::chrono::duration<std::int64_t, std::pico>(1000)) == 1ns);
    CHECK(to_clock_duration(std::chrono::duration<unsigned, std::micro>(7)) == 7us);
}

TEST_CASE("a delay too long for the clock saturates to its largest duration", "[clock]") {
    CHECK(to_clock_duration(std::chrono::hours::max()) == ticks::max());
    CHECK(to_clock_duration(std::chrono::years::max()) == ticks::max());
    CHECK(to_clock_duration(std::chrono::nanoseconds::max()) == ticks::max());
    CHECK(to_clock_duration(std::chrono::duration<std::uint64_t>(
              std::numeric_limits<std::uint64_t>::max())) == ticks::max());
    CHECK(to_clock_duration(std::chrono::duration<double>(1e300)) == ticks::max());
    CHECK(to_clock_duration(std::chrono::duration<double>(
              std::numeric_limits<double>::infinity())) == ticks::max());
    // 300 years of seconds fits in an int64 of seconds, not in nanoseconds
    CHECK(to_clock_duration(std::chrono::seconds(300LL * 365 * 24 * 3600)) == ticks::max());
}

TEST_CASE("a zero or negative delay becomes zero ticks, and NaN is rejected", "[clock]") {
    CHECK(to_clock_duration(0ms) == ticks::zero());
    CHECK(to_clock_duration(-5s) == ticks::zero());
    CHECK(to_clock_duration(std::chrono::duration<double>(-0.0)) == ticks::zero());
    CHECK(to_clock_duration(std::chrono::duration<double>(-1e300)) == ticks::zero());
    CHECK(to_clock_duration(std::chrono::duration<double>(
              -std::numeric_limits<double>::infinity())) == ticks::zero());
    CHECK_THROWS_AS(
        to_clock_duration(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
        std::invalid_argument);
}
