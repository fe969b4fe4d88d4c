// SPDX-License-Identifier: MIT
// 01_hello: a coroutine, run from main() by aio::run.
//
//     import asyncio
//
//     async def main():
//         print("Hello ...")
//         await asyncio.sleep(0.1)
//         print("... World!")
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>

using namespace std::chrono_literals;

// `async def` becomes a function returning aio::task<T>; C++ already has a main().
aio::task<> async_main() {
    fmt::print("Hello ...\n");
    co_await aio::sleep(100ms);
    fmt::print("... World!\n");
}

int main() {
    // Makes an event loop, runs the task to completion, closes the loop.
    aio::run(async_main());
}

// Expected output:
// Hello ...
// ... World!
