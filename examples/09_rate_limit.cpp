// SPDX-License-Identifier: MIT
// 09_rate_limit: a rate-limited fetcher — 100 jobs, at most 10 at once (a semaphore), each
// retried with exponential backoff when the (simulated, seeded) network fails, and a timeout
// over the whole. The failures come from a hash of (job, attempt), so every run prints the same.
//
//     import asyncio
//
//     SEED, ATTEMPTS, LIMIT = 7, 3, 10
//
//     class FetchError(Exception):
//         pass
//
//     def fails(job, attempt):                     # a reproducible, flaky "network"
//         x = (job * 1000 + attempt + SEED) * 0x9E3779B97F4A7C15 % 2**64
//         return (x >> 40) % 10 < 4             # 40% of the attempts fail
//
//     async def fetch(job, attempt):
//         await asyncio.sleep(0.01)
//         if fails(job, attempt):
//             raise FetchError(f"job {job}, attempt {attempt}")
//         return job * job
//
//     async def fetch_with_retries(job, sem, stats):
//         async with sem:                          # at most LIMIT jobs past this line
//             stats["running"] += 1
//             stats["peak"] = max(stats["peak"], stats["running"])
//             try:
//                 for attempt in range(ATTEMPTS):
//                     try:
//                         return await fetch(job, attempt)
//                     except FetchError:
//                         stats["failures"] += 1
//                         await asyncio.sleep(0.002 * 2**attempt)    # 2, 4, 8 ms
//                 return None                      # gave up
//             finally:
//                 stats["running"] -= 1
//
//     async def main():
//         sem = asyncio.Semaphore(LIMIT)
//         stats = {"running": 0, "peak": 0, "failures": 0}
//         loop = asyncio.get_running_loop()
//         start = loop.time()
//         results = await asyncio.wait_for(
//             asyncio.gather(*(fetch_with_retries(job, sem, stats) for job in range(100))), 5.0)
//         gave_up = [job for job, r in enumerate(results) if r is None]
//         print(f"{100 - len(gave_up)} of 100 jobs fetched, {stats['failures']} failed "
//               f"attempts, at most {stats['peak']} at once")
//         print(f"gave up on jobs {gave_up}")
//         print(f"sum of results: {sum(r for r in results if r is not None)}")
//         print(f"took {loop.time() - start:.2f} s")
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using seconds = std::chrono::duration<double>;

constexpr std::uint64_t seed = 7;
constexpr int attempts = 3;
constexpr int limit = 10;

struct fetch_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct stats {
    int running = 0;
    int peak = 0;
    int failures = 0;
};

bool fails(std::uint64_t job, std::uint64_t attempt) {  // a reproducible, flaky "network"
    const std::uint64_t x = (job * 1000 + attempt + seed) * 0x9E3779B97F4A7C15;  // mod 2^64
    return (x >> 40) % 10 < 4;  // 40% of the attempts fail
}

aio::task<long> fetch(int job, int attempt) {
    co_await aio::sleep(10ms);
    if (fails(static_cast<std::uint64_t>(job), static_cast<std::uint64_t>(attempt))) {
        throw fetch_error(fmt::format("job {}, attempt {}", job, attempt));
    }
    co_return long{job} * job;
}

aio::task<std::optional<long>> fetch_with_retries(int job, aio::semaphore& sem, stats& st) {
    auto guard = co_await sem.scoped();  // at most `limit` jobs past this line
    ++st.running;
    st.peak = std::max(st.peak, st.running);
    std::optional<long> result;
    for (int attempt = 0; attempt < attempts && !result; ++attempt) {
        bool failed = false;
        try {
            result = co_await fetch(job, attempt);
        } catch (const fetch_error&) {
            failed = true;  // a handler cannot co_await: back off below
        }
        if (failed) {
            ++st.failures;
            co_await aio::sleep(2ms * (1 << attempt));  // 2, 4, 8 ms
        }
    }
    --st.running;      // a cancellation would skip this: fine here, the numbers are then unused
    co_return result;  // std::nullopt: gave up
}

aio::task<std::vector<std::optional<long>>> fetch_all(aio::semaphore& sem, stats& st) {
    std::vector<aio::task<std::optional<long>>> jobs;
    for (int job = 0; job < 100; ++job) {
        jobs.push_back(fetch_with_retries(job, sem, st));
    }
    co_return co_await aio::gather(std::move(jobs));
}

aio::task<> async_main() {
    aio::semaphore sem(limit);
    stats st;
    aio::event_loop& loop = aio::get_running_loop();
    const auto start = loop.time();
    auto all = fetch_all(sem, st);
    const std::vector<std::optional<long>> results = co_await aio::wait_for(std::move(all), 5s);

    std::vector<int> gave_up;
    long sum = 0;
    for (int job = 0; job < 100; ++job) {
        const auto& r = results[static_cast<std::size_t>(job)];
        if (r) {
            sum += *r;
        } else {
            gave_up.push_back(job);
        }
    }
    fmt::print("{} of 100 jobs fetched, {} failed attempts, at most {} at once\n",
               100 - gave_up.size(), st.failures, st.peak);
    fmt::print("gave up on jobs {}\n", gave_up);
    fmt::print("sum of results: {}\n", sum);
    fmt::print("took {:.2f} s\n", seconds(loop.time() - start).count());
}

int main() {
    aio::run(async_main());
}

// Expected output:
// 97 of 100 jobs fetched, 65 failed attempts, at most 10 at once
// gave up on jobs [7, 10, 84]
// sum of results: 321145
// took ... s
