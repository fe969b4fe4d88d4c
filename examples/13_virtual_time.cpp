// SPDX-License-Identifier: MIT
// 13_virtual_time: test async code that sleeps for hours, in milliseconds (virtual time).
//
// The code under test retries a flaky call with exponential backoff: 1 s, 2 s, 4 s, ... at
// most an hour between attempts, each attempt limited to 5 s. Waiting for that in real time
// would take hours; on a loop with virtual time (`aio::event_loop loop{aio::virtual_time}`) the
// clock jumps straight to the next timer whenever nothing is ready, so the test runs at once
// and every time it reads is exact. Trio calls this a MockClock with autojump; in asyncio
// you would patch loop.time().
//
// Each check below has the shape of a test case (with Catch2: TEST_CASE and CHECK); this
// example is a plain program, so `check` prints instead.
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using clock_type = aio::event_loop::clock;

// ---- the code under test ---------------------------------------------------------------------

// A service that is down for its first `failures` calls, and hangs instead of failing if
// `hangs` is set. Each call takes 100 ms.
struct flaky_service {
    int failures = 0;
    bool hangs = false;
    std::vector<clock_type::time_point> calls;  // when each call started, on the loop's clock
};

aio::task<std::string> call(flaky_service& service) {
    service.calls.push_back(aio::get_running_loop().time());
    co_await aio::sleep(service.hangs ? 24h : 100ms);
    if (static_cast<int>(service.calls.size()) <= service.failures) {
        throw std::runtime_error("service unavailable");
    }
    co_return "pong";
}

aio::task<std::string> call_with_retry(flaky_service& service, int max_attempts) {
    std::chrono::seconds backoff = 1s;
    for (int attempt = 1;; ++attempt) {
        try {
            auto op = aio::wait_for(call(service), 5s);
            co_return co_await op;
        } catch (const std::exception&) {  // the call failed, or timed out (timeout_error)
            if (attempt == max_attempts) {
                throw;
            }
        }
        co_await aio::sleep(backoff);  // outside the handler: a handler cannot co_await
        backoff = std::min<std::chrono::seconds>(backoff * 2, 1h);
    }
}

// ---- the tests ---------------------------------------------------------------------------------

int failed_checks = 0;

void check(bool ok, const std::string& what) {
    fmt::print("{}: {}\n", ok ? "ok" : "FAILED", what);
    failed_checks += ok ? 0 : 1;
}

// TEST_CASE("call_with_retry backs off 1 s, 2 s, 4 s, ... and at most an hour")
void retry_backs_off_exponentially() {
    aio::event_loop loop{aio::virtual_time};
    const clock_type::time_point start = loop.time();
    flaky_service service;
    service.failures = 15;
    const std::string answer = loop.run_until_complete(call_with_retry(service, 20));
    check(answer == "pong", "the 16th attempt gets an answer");
    // Attempt k + 1 starts when attempt k (100 ms) and its pause have passed, exactly.
    std::vector<clock_type::time_point> expected{start};
    std::chrono::seconds backoff = 1s;
    for (int k = 1; k < 16; ++k) {
        expected.push_back(expected.back() + 100ms + backoff);
        backoff = std::min<std::chrono::seconds>(backoff * 2, 1h);
    }
    check(service.calls == expected, "each attempt starts exactly after its backoff");
    const auto hours = std::chrono::duration<double, std::ratio<3600>>(loop.time() - start);
    check(loop.time() - start == 14895s + 1600ms,
          fmt::format("{:.2f} hours of virtual time went by", hours.count()));
}

// TEST_CASE("call_with_retry gives up after max_attempts and rethrows the last error")
void retry_gives_up() {
    aio::event_loop loop{aio::virtual_time};
    const clock_type::time_point start = loop.time();
    flaky_service service;
    service.failures = 1000;
    std::string error;
    try {
        loop.run_until_complete(call_with_retry(service, 10));
    } catch (const std::runtime_error& e) {
        error = e.what();
    }
    check(error == "service unavailable" && service.calls.size() == 10,
          "ten attempts, then the service's error");
    check(loop.time() - start == 511s + 1s, "after 1 + 2 + ... + 256 s of pauses and 10 calls");
}

// TEST_CASE("an attempt that hangs times out after exactly 5 s")
void hanging_attempts_time_out() {
    aio::event_loop loop{aio::virtual_time};
    const clock_type::time_point start = loop.time();
    flaky_service service;
    service.hangs = true;
    bool timed_out = false;
    try {
        loop.run_until_complete(call_with_retry(service, 3));
    } catch (const aio::timeout_error&) {
        timed_out = true;
    }
    check(timed_out, "the last attempt's timeout_error reaches the caller");
    check(loop.time() - start == 3 * 5s + 1s + 2s, "three 5 s timeouts and two pauses");
}

int main() {
    const clock_type::time_point real_start = clock_type::now();
    retry_backs_off_exponentially();
    retry_gives_up();
    hanging_attempts_time_out();
    const auto real_ms = std::chrono::duration<double, std::milli>(clock_type::now() - real_start);
    fmt::print("{} failed; real time taken: {:.0f} ms\n", failed_checks, real_ms.count());
    return failed_checks == 0 ? 0 : 1;
}

// Expected output:
// ok: the 16th attempt gets an answer
// ok: each attempt starts exactly after its backoff
// ok: 4.14 hours of virtual time went by
// ok: ten attempts, then the service's error
// ok: after 1 + 2 + ... + 256 s of pauses and 10 calls
// ok: the last attempt's timeout_error reaches the caller
// ok: three 5 s timeouts and two pauses
// 0 failed; real time taken: ... ms
