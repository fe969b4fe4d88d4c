// SPDX-License-Identifier: MIT
// 04_create_task: tasks that run on their own, and the handles that watch them.
//
//     import asyncio
//
//     async def racer(name, delay):
//         print(f"{name} started")
//         await asyncio.sleep(delay)
//         print(f"{name} finished")
//         return len(name)
//
//     async def main():
//         tortoise = asyncio.create_task(racer("tortoise", 0.2))
//         hare = asyncio.create_task(racer("hare", 0.1))
//         print("tasks created")
//         await asyncio.sleep(0)                    # let them start
//         print(f"hare done? {hare.done()}")
//         n = await hare
//         print(f"hare returned {n}; tortoise done? {tortoise.done()}")
//         await tortoise
//         print(f"tortoise returned {tortoise.result()}")
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstddef>
#include <string>

using namespace std::chrono_literals;
using seconds = std::chrono::duration<double>;

aio::task<std::size_t> racer(std::string name, double delay) {
    fmt::print("{} started\n", name);
    co_await aio::sleep(seconds(delay));
    fmt::print("{} finished\n", name);
    co_return name.size();
}

aio::task<> async_main() {
    // A task<T> alone is lazy, like a coroutine object; create_task schedules it on the
    // running loop, which starts it at its next iteration and keeps it alive until it ends.
    aio::task_handle<std::size_t> tortoise = aio::create_task(racer("tortoise", 0.2));
    aio::task_handle<std::size_t> hare = aio::create_task(racer("hare", 0.1));
    fmt::print("tasks created\n");
    co_await aio::sleep(0s);  // yield: every ready task runs once
    fmt::print("hare done? {}\n", hare.done());
    const std::size_t n = co_await hare;
    fmt::print("hare returned {}; tortoise done? {}\n", n, tortoise.done());
    co_await tortoise;
    fmt::print("tortoise returned {}\n", tortoise.result());
}

int main() {
    aio::run(async_main());
}

// Expected output:
// tasks created
// tortoise started
// hare started
// hare done? false
// hare finished
// hare returned 4; tortoise done? false
// tortoise finished
// tortoise returned 8
