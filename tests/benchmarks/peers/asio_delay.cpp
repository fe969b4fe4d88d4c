// SPDX-License-Identifier: MIT
// aio_asio_delay_bench: the seed's workload on standalone Asio's C++20 awaitables, for
// comparison with aio_delay_bench (same command line, same pauses, same result line).
//
// The idiomatic Asio shape: one coroutine per task, co_spawn'ed on the io_context, each
// sleeping on its own steady_timer; the spawning coroutine waits for all of them with a counter
// (the last completion cancels a "gate" timer the main coroutine is parked on) and each task's
// result lands in a results vector, as gather's would.
//
//     ./aio_asio_delay_bench --task-count 1000000 --min-pause 0.1 --max-pause 1.0 --seed 42
#include "delay_common.hpp"

// Asio 1.22 enables its awaitables on clang only for the Coroutines TS (<experimental/coroutine>);
// clang 14 with libstdc++ has C++20 coroutines (<coroutine>), which Asio supports as on GCC.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(ASIO_HAS_CO_AWAIT)
#define ASIO_HAS_CO_AWAIT 1
#endif
#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <vector>

namespace {

bench::pause_source* g_pauses = nullptr;

asio::awaitable<double> delay([[maybe_unused]] std::size_t task_n) {
    const double pause = g_pauses->next();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(
        std::chrono::ceil<asio::steady_timer::duration>(std::chrono::duration<double>(pause)));
    co_await timer.async_wait(asio::use_awaitable);
    co_return pause;
}

asio::awaitable<void> async_main(std::size_t task_count, std::vector<double>& results,
                                 std::size_t& remaining) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    remaining = task_count;
    for (std::size_t n = 0; n < task_count; ++n) {
        asio::co_spawn(ex, delay(n),
                       [&results, &remaining, &all_done, n](std::exception_ptr e, double pause) {
                           if (e) {
                               std::rethrow_exception(e);
                           }
                           results[n] = pause;
                           if (--remaining == 0) {
                               all_done.cancel();
                           }
                       });
    }
    if (remaining != 0) {
        asio::error_code ec;
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

} // namespace

static int run(int argc, char** argv) {
    const bench::options opt = bench::parse_options(argc, argv);
    bench::check_fits_in_memory("aio_asio_delay_bench", opt.task_count, 1200);
    const std::size_t n = static_cast<std::size_t>(opt.task_count);
    bench::pause_source pauses(opt);
    g_pauses = &pauses;

    bench::result res;
    res.impl = "asio";
    res.n = n;
    res.base_rss = bench::current_rss_bytes();

    std::vector<double> results;
    std::size_t remaining = n;
    {
        asio::io_context ctx(1);
        const double cpu0 = bench::cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        results.resize(n);  // part of the workload, like aio's task-handle vector
        asio::co_spawn(ctx, async_main(n, results, remaining), asio::detached);
        ctx.run();
        const auto t1 = std::chrono::steady_clock::now();
        res.cpu = bench::cpu_seconds() - cpu0;
        res.wall = std::chrono::duration<double>(t1 - t0).count();
        res.peak_rss = bench::peak_rss_bytes();
    }

    bench::pause_source expected(opt);
    bool ok = remaining == 0;
    double largest = 0;
    for (std::size_t i = 0; ok && i < n; ++i) {
        const double want = expected.next();
        ok = results[i] == want;
        largest = want > largest ? want : largest;
    }
    ok = ok && res.wall >= largest;
    res.max_pause = largest;
    res.valid = ok;
    bench::print_result(res);
    if (!ok) {
        std::fprintf(stderr, "aio_asio_delay_bench: validation FAILED\n");
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    return bench::run_reporting_errors("aio_asio_delay_bench", [&] { return run(argc, argv); });
}
