// SPDX-License-Identifier: MIT
// aio_delay_bench: the seed's workload (shared/seeds) at scale, without the per-task logging.
//
//     async def delay(task_n) -> float:            aio::task<double> delay(std::size_t task_n)
//         pause = random.uniform(MIN, MAX)             pause = pauses.next()
//         await asyncio.sleep(pause)                   co_await aio::sleep(duration<double>(pause))
//         return pause                                 co_return pause
//
//     async def main(task_count, loop):            main(task_count, loop):
//         tasks = [loop.create_task(delay(n))          tasks.push_back(loop.create_task(delay(n)))
//                  for n in range(task_count)]
//         await asyncio.gather(*tasks)                 co_await aio::gather(tasks)
//         return tasks                                 co_return tasks
//
//     ./aio_delay_bench --task-count 1000000 --min-pause 0.1 --max-pause 1.0 --seed 42
//
// Prints one JSON line (see delay_common.hpp); exits 1 if validation fails: every task done,
// task i returned the i-th pause of the seeded sequence (tasks start in creation order), the
// gathered results equal the handles' results, and no sleep woke early (wall >= largest pause).
#include "delay_common.hpp"

#include <aio/aio.hpp>

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace {

bench::pause_source* g_pauses = nullptr;

aio::task<double> delay([[maybe_unused]] std::size_t task_n) {
    const double pause = g_pauses->next();
    co_await aio::sleep(std::chrono::duration<double>(pause));
    co_return pause;
}

struct main_result {
    std::vector<aio::task_handle<double>> tasks;
    std::vector<double> gathered;
};

aio::task<main_result> async_main(std::size_t task_count, aio::event_loop& loop) {
    main_result r;
    r.tasks.reserve(task_count);
    for (std::size_t n = 0; n < task_count; ++n) {
        // each call to delay() returns a lazy task; create_task schedules it on the loop
        r.tasks.push_back(loop.create_task(delay(n)));
    }
    // nothing has run yet; gather lets every task run concurrently and waits for all of them
    r.gathered = co_await aio::gather(r.tasks);
    co_return r;
}

} // namespace

static int run(int argc, char** argv) {
    const bench::options opt = bench::parse_options(argc, argv);
    bench::check_fits_in_memory("aio_delay_bench", opt.task_count, 256);
    const std::size_t n = static_cast<std::size_t>(opt.task_count);
    bench::pause_source pauses(opt);
    g_pauses = &pauses;

    bench::result res;
    res.impl = "aio";
    res.n = n;
    res.base_rss = bench::current_rss_bytes();

    main_result out;
    {
        aio::event_loop loop;
        const double cpu0 = bench::cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        out = loop.run_until_complete(async_main(n, loop));
        const auto t1 = std::chrono::steady_clock::now();
        res.cpu = bench::cpu_seconds() - cpu0;
        res.wall = std::chrono::duration<double>(t1 - t0).count();
        res.peak_rss = bench::peak_rss_bytes();
        loop.close();
    }

    // Validation (not timed): replay the seeded sequence.
    bench::pause_source expected(opt);
    bool ok = out.tasks.size() == n && out.gathered.size() == n;
    double largest = 0;
    for (std::size_t i = 0; ok && i < n; ++i) {
        const double want = expected.next();
        ok = out.tasks[i].done() && out.tasks[i].result() == want && out.gathered[i] == want;
        largest = want > largest ? want : largest;
    }
    ok = ok && res.wall >= largest;
    res.max_pause = largest;
    res.valid = ok;
    bench::print_result(res);
    if (!ok) {
        std::fprintf(stderr, "aio_delay_bench: validation FAILED\n");
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    return bench::run_reporting_errors("aio_delay_bench", [&] { return run(argc, argv); });
}
