// SPDX-License-Identifier: MIT
// aio_thread_bench: what crossing threads costs, and how the poller keeps time (issue #13).
// Five measurements, one JSON line each (peers/asyncio_threads.py prints the same keys for
// asyncio; thread_compare.py runs both alternately):
//   to_thread     `co_await aio::to_thread(f)` with an empty f, one after another: the round
//                 trip loop -> pool worker -> loop (submit, worker wake-up, completion posted
//                 with call_soon_threadsafe, loop wake-up, task resumed); median, p99 per call
//   threadsafe    call_soon_threadsafe throughput: one other thread posts N empty callbacks as
//                 fast as it can; calls per second until the loop has run the last one
//   wakeup        cross-thread wake-up latency: the loop is blocked with no timer and nothing
//                 ready; another thread reads the clock and calls call_soon_threadsafe; the
//                 callback reads the clock on the loop. p50 / p99 over N wake-ups, one every
//                 ~200 us (so the loop is asleep each time)
//   timer         timer precision on the poller: N `co_await aio::sleep(1ms)` one after another;
//                 overshoot (wake-up time minus deadline) p50 / p99, and how many woke early
//                 (must be 0)
//   idle          the process's CPU time while the loop sleeps 2 s with nothing else to do
//                 (std::clock: every thread of the process, the default executor's included)
//
//     aio_thread_bench [--calls N] [--posts N] [--wakeups N] [--sleeps N]
#include <aio/aio.hpp>
#include <aio/to_thread.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct options {
    long calls = 20000;
    long posts = 1000000;
    long wakeups = 5000;
    long sleeps = 1000;
};

[[noreturn]] void usage(const char* error) {
    std::fprintf(stderr,
                 "%s%susage: aio_thread_bench [--calls N] [--posts N] [--wakeups N] [--sleeps N]\n"
                 "  to_thread round trips, call_soon_threadsafe throughput and cross-thread\n"
                 "  wake-up latency; one JSON line each.\n",
                 error != nullptr ? error : "", error != nullptr ? "\n" : "");
    std::exit(error != nullptr ? 2 : 0);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(nullptr);
        }
        long* target = arg == "--calls"     ? &o.calls
                       : arg == "--posts"   ? &o.posts
                       : arg == "--wakeups" ? &o.wakeups
                       : arg == "--sleeps"  ? &o.sleeps
                                            : nullptr;
        if (target == nullptr) {
            usage(("unknown option '" + std::string(arg) + "'").c_str());
        }
        if (i + 1 >= argc) {
            usage((std::string(arg) + ": missing value").c_str());
        }
        char* end = nullptr;
        const long v = std::strtol(argv[++i], &end, 10);
        if (end == argv[i] || *end != '\0' || v < 1 || v > 100'000'000) {
            usage((std::string(arg) + ": '" + argv[i] + "' is not a count from 1 to 1e8").c_str());
        }
        *target = v;
    }
    return o;
}

double micros(steady::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double>& v, double p) {
    std::sort(v.begin(), v.end());
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[k];
}

aio::task<std::vector<double>> to_thread_round_trips(long calls) {
    std::vector<double> each;
    each.reserve(static_cast<std::size_t>(calls));
    for (long i = 0; i < calls; ++i) {
        const auto start = steady::now();
        auto call = aio::to_thread([] {});
        co_await std::move(call);
        each.push_back(micros(steady::now() - start));
    }
    co_return each;
}

// The loop waits for the poster's job (outside work: the loop blocks, it does not report a
// deadlock) while the callbacks arrive.
aio::task<double> threadsafe_throughput(long posts) {
    aio::event_loop& loop = aio::get_running_loop();
    long ran = 0;
    const auto start = steady::now();
    auto poster = aio::to_thread([&loop, &ran, posts] {
        for (long i = 0; i < posts; ++i) {
            loop.call_soon_threadsafe([&ran] { ++ran; });
        }
    });
    co_await std::move(poster);
    while (ran < posts) {  // the last callbacks may still be queued behind the completion
        co_await aio::sleep(0s);
    }
    co_return static_cast<double>(posts) /
        std::chrono::duration<double>(steady::now() - start).count();
}

aio::task<std::vector<double>> wakeup_latencies(long wakeups) {
    aio::event_loop& loop = aio::get_running_loop();
    std::vector<double> each(static_cast<std::size_t>(wakeups));
    std::atomic<long> seen{0};
    auto waker = aio::to_thread([&] {
        for (long i = 0; i < wakeups; ++i) {
            std::this_thread::sleep_for(200us);  // the loop goes back to sleep meanwhile
            const auto sent = steady::now();
            loop.call_soon_threadsafe([&each, &seen, sent, i] {
                each[static_cast<std::size_t>(i)] = micros(steady::now() - sent);
                seen.store(i + 1, std::memory_order_release);
                seen.notify_one();
            });
            // blocked, not spinning: a spinning waker would compete with the loop for a core
            for (long now = seen.load(std::memory_order_acquire); now <= i;
                 now = seen.load(std::memory_order_acquire)) {
                seen.wait(now, std::memory_order_acquire);
            }
        }
    });
    co_await std::move(waker);
    co_return each;
}

struct overshoots {
    std::vector<double> each;  // µs past the deadline
    long early = 0;
};

aio::task<overshoots> sleep_overshoots(long sleeps) {
    overshoots out;
    out.each.reserve(static_cast<std::size_t>(sleeps));
    for (long i = 0; i < sleeps; ++i) {
        const auto deadline = steady::now() + 1ms;
        co_await aio::sleep(1ms);
        const auto late = steady::now() - deadline;
        out.early += late < steady::duration::zero() ? 1 : 0;
        out.each.push_back(micros(late));
    }
    co_return out;
}

aio::task<double> idle_cpu_ms() {
    const std::clock_t start = std::clock();
    co_await aio::sleep(2s);
    co_return 1000.0 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    aio::run([](options opt) -> aio::task<> {
        {
            auto run = to_thread_round_trips(opt.calls);
            std::vector<double> each = co_await std::move(run);
            double total = 0;
            for (const double us : each) {
                total += us;
            }
            const double mean = total / static_cast<double>(each.size());
            const double p50 = percentile(each, 0.5);
            const double p99 = percentile(each, 0.99);
            std::printf("{\"bench\":\"to_thread\",\"impl\":\"aio\",\"calls\":%ld,\"mean_us\":%.2f,"
                        "\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
                        opt.calls, mean, p50, p99);
        }
        {
            auto run = threadsafe_throughput(opt.posts);
            const double per_second = co_await std::move(run);
            std::printf("{\"bench\":\"threadsafe\",\"impl\":\"aio\",\"posts\":%ld,"
                        "\"calls_per_s\":%.0f}\n",
                        opt.posts, per_second);
        }
        {
            auto run = wakeup_latencies(opt.wakeups);
            std::vector<double> each = co_await std::move(run);
            const double p50 = percentile(each, 0.5);
            const double p99 = percentile(each, 0.99);
            std::printf("{\"bench\":\"wakeup\",\"impl\":\"aio\",\"wakeups\":%ld,\"p50_us\":%.2f,"
                        "\"p99_us\":%.2f}\n",
                        opt.wakeups, p50, p99);
        }
        {
            auto run = sleep_overshoots(opt.sleeps);
            overshoots out = co_await std::move(run);
            const double p50 = percentile(out.each, 0.5);
            const double p99 = percentile(out.each, 0.99);
            std::printf("{\"bench\":\"timer\",\"impl\":\"aio\",\"sleeps\":%ld,\"p50_us\":%.2f,"
                        "\"p99_us\":%.2f,\"early\":%ld}\n",
                        opt.sleeps, p50, p99, out.early);
        }
        {
            auto run = idle_cpu_ms();
            const double cpu_ms = co_await std::move(run);
            std::printf("{\"bench\":\"idle\",\"impl\":\"aio\",\"seconds\":2,\"cpu_ms\":%.2f}\n",
                        cpu_ms);
        }
        std::fflush(stdout);
    }(o));
}
