// SPDX-License-Identifier: MIT
// 10_threads: blocking work on a thread while the loop keeps running, and a thread of your own
// handing results back to the loop. The first half ports the asyncio docs' to_thread example:
//
//     import asyncio
//     import time
//
//     def blocking_io():
//         print(f"start blocking_io at {time.strftime('%X')}")
//         # Note that time.sleep() can be replaced with any blocking
//         # IO-bound operation, such as file operations.
//         time.sleep(1)
//         print(f"blocking_io complete at {time.strftime('%X')}")
//
//     async def main():
//         print(f"started main at {time.strftime('%X')}")
//
//         await asyncio.gather(
//             asyncio.to_thread(blocking_io),
//             asyncio.sleep(1))
//
//         print(f"finished main at {time.strftime('%X')}")
//
//     asyncio.run(main())
//
// Here the loop ticks every 50 ms while blocking_io holds its thread (the asyncio.sleep(1) of
// the original), to show that it keeps running. The second half: a worker std::thread hands
// each result to the loop with loop.call_soon_threadsafe(), the one loop method another thread
// may call, and the main task takes them from an aio::queue.
#include <aio/aio.hpp>
#include <aio/to_thread.hpp>
#include <fmt/core.h>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;

namespace {

const auto program_start = std::chrono::steady_clock::now();

double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - program_start).count();
}

void blocking_io() {
    fmt::print("start blocking_io at {:.2f} s\n", seconds());
    // any blocking call: a file, a C library, a long computation
    std::this_thread::sleep_for(300ms);
    fmt::print("blocking_io complete at {:.2f} s\n", seconds());
}

aio::task<int> tick_for(std::chrono::milliseconds total) {
    int ticks = 0;
    for (auto left = total; left > 0ms; left -= 50ms) {
        co_await aio::sleep(50ms);
        ++ticks;
    }
    co_return ticks;
}

}  // namespace

aio::task<> async_main() {
    fmt::print("started main at {:.2f} s\n", seconds());

    auto both = aio::gather(aio::to_thread(blocking_io), tick_for(300ms));
    const auto [done, ticks] = co_await std::move(both);
    fmt::print("finished main at {:.2f} s; the loop ticked {} times meanwhile\n", seconds(), ticks);

    // A thread of your own: call_soon_threadsafe runs the callback on the loop's thread.
    aio::event_loop& loop = aio::get_running_loop();
    aio::queue<int> results;
    std::jthread worker([&loop, &results] {
        for (int i = 1; i <= 3; ++i) {
            std::this_thread::sleep_for(20ms);  // some work
            loop.call_soon_threadsafe([&results, i] { results.put_nowait(i * i); });
        }
    });
    for (int i = 0; i < 3; ++i) {
        const int result = co_await results.get();
        fmt::print("the worker handed back {}\n", result);
    }
}

int main() {
    aio::run(async_main());
}

// Expected output:
// started main at ... s
// start blocking_io at ... s
// blocking_io complete at ... s
// finished main at ... s; the loop ticked ... times meanwhile
// the worker handed back 1
// the worker handed back 4
// the worker handed back 9
