// SPDX-License-Identifier: MIT
// 06_timeouts: give up on slow work (wait_for); wait for a group of tasks (task_group).
//
//     import asyncio
//
//     async def eternity():
//         await asyncio.sleep(3600)                 # sleep for one hour
//         print("yay!")
//
//     async def work(name, delay):
//         await asyncio.sleep(delay)
//         return name
//
//     async def main():
//         try:
//             await asyncio.wait_for(eternity(), timeout=1.0)
//         except TimeoutError:
//             print("timeout!")
//         async with asyncio.TaskGroup() as tg:
//             task1 = tg.create_task(work("one", 0.2))
//             task2 = tg.create_task(work("two", 0.1))
//         print(f"Both tasks have completed now: {task1.result()}, {task2.result()}")
//
//     asyncio.run(main())
//
// (Pauses shortened here.) When wait_for times out, eternity() has been cancelled and has
// finished before timeout_error reaches us. `co_await tg` is the end of the `async with` block.
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

aio::task<> eternity() {
    co_await aio::sleep(3600s);
    fmt::print("yay!\n");
}

aio::task<std::string> work(std::string name, std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
    co_return name;
}

aio::task<> async_main() {
    try {
        co_await aio::wait_for(eternity(), 100ms);
    } catch (const aio::timeout_error&) {
        fmt::print("timeout!\n");
    }
    aio::task_group tg;
    aio::task_handle<std::string> task1 = tg.create_task(work("one", 20ms));
    aio::task_handle<std::string> task2 = tg.create_task(work("two", 10ms));
    co_await tg;
    fmt::print("Both tasks have completed now: {}, {}\n", task1.result(), task2.result());
}

int main() {
    aio::run(async_main());
}

// Expected output:
// timeout!
// Both tasks have completed now: one, two
