// SPDX-License-Identifier: MIT
// 08_queue: workers sharing a queue of jobs — the asyncio docs' Queue example. Fixed pauses
// stand in for random.uniform(0.05, 1.0), so that the output can be checked.
//
//     import asyncio
//     import time
//
//     async def worker(name, queue):
//         while True:
//             sleep_for = await queue.get()        # Get a "work item" out of the queue.
//             await asyncio.sleep(sleep_for)
//             queue.task_done()                    # The "work item" has been processed.
//             print(f'{name} has slept for {sleep_for:.2f} seconds')
//
//     async def main():
//         queue = asyncio.Queue()
//         total_sleep_time = 0
//         for sleep_for in [0.1, 0.3, 0.4, 0.4, 0.5, 0.5, 0.5]:
//             total_sleep_time += sleep_for
//             queue.put_nowait(sleep_for)
//
//         tasks = []                               # Three workers process the queue.
//         for i in range(3):
//             task = asyncio.create_task(worker(f'worker-{i}', queue))
//             tasks.append(task)
//
//         started_at = time.monotonic()
//         await queue.join()                       # Until every item is processed.
//         total_slept_for = time.monotonic() - started_at
//
//         for task in tasks:                       # Cancel the workers, and wait for them.
//             task.cancel()
//         await asyncio.gather(*tasks, return_exceptions=True)
//
//         print('====')
//         print(f'3 workers slept in parallel for {total_slept_for:.2f} seconds')
//         print(f'total expected sleep time: {total_sleep_time:.2f} seconds')
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <string>
#include <vector>

using seconds = std::chrono::duration<double>;

aio::task<> worker(std::string name, aio::queue<double>& queue) {
    for (;;) {
        const double sleep_for = co_await queue.get();
        co_await aio::sleep(seconds(sleep_for));
        queue.task_done();
        fmt::print("{} has slept for {:.2f} seconds\n", name, sleep_for);
    }
}

aio::task<> async_main() {
    aio::queue<double> queue;
    double total_sleep_time = 0;
    for (double sleep_for : {0.1, 0.3, 0.4, 0.4, 0.5, 0.5, 0.5}) {
        total_sleep_time += sleep_for;
        queue.put_nowait(sleep_for);
    }

    std::vector<aio::task_handle<>> tasks;
    for (int i = 0; i < 3; ++i) {
        tasks.push_back(aio::create_task(worker(fmt::format("worker-{}", i), queue)));
    }

    aio::event_loop& loop = aio::get_running_loop();
    const auto started_at = loop.time();
    co_await queue.join();
    const seconds total_slept_for = loop.time() - started_at;

    for (auto& task : tasks) {
        task.cancel();
    }
    // return_exceptions: each worker's cancelled_error becomes an outcome, nothing is thrown.
    co_await aio::gather(aio::return_exceptions, tasks);

    fmt::print("====\n");
    fmt::print("3 workers slept in parallel for {:.2f} seconds\n", total_slept_for.count());
    fmt::print("total expected sleep time: {:.2f} seconds\n", total_sleep_time);
}

int main() {
    aio::run(async_main());
}

// Expected output:
// worker-0 has slept for 0.10 seconds
// worker-1 has slept for 0.30 seconds
// worker-2 has slept for 0.40 seconds
// worker-0 has slept for 0.40 seconds
// worker-1 has slept for 0.50 seconds
// worker-2 has slept for 0.50 seconds
// worker-0 has slept for 0.50 seconds
// ====
// 3 workers slept in parallel for 1.0... seconds
// total expected sleep time: 2.70 seconds
