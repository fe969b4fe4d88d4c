// SPDX-License-Identifier: MIT
// 02_sleep: awaiting one coroutine after another — their sleeps add up.
//
//     import asyncio
//
//     async def say_after(delay, what):
//         await asyncio.sleep(delay)
//         print(what)
//
//     async def main():
//         loop = asyncio.get_running_loop()
//         start = loop.time()
//         await say_after(0.1, "hello")
//         await say_after(0.2, "world")
//         print(f"finished in {loop.time() - start:.1f} s")
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <string>

using seconds = std::chrono::duration<double>;  // Python's float seconds

// Parameters by value: the coroutine frame keeps its own copy, so nothing the caller owns
// has to outlive the task (a `const std::string&` here would be a dangling-reference trap).
aio::task<> say_after(double delay, std::string what) {
    co_await aio::sleep(seconds(delay));
    fmt::print("{}\n", what);
}

aio::task<> async_main() {
    aio::event_loop& loop = aio::get_running_loop();
    const auto start = loop.time();
    co_await say_after(0.1, "hello");  // runs say_after to its end before going on
    co_await say_after(0.2, "world");
    fmt::print("finished in {:.1f} s\n", seconds(loop.time() - start).count());
}

int main() {
    aio::run(async_main());
}

// Expected output:
// hello
// world
// finished in ... s
