// SPDX-License-Identifier: MIT
// 05_exceptions: errors travel through co_await; gather cancels the siblings of a failure.
//
//     import asyncio
//
//     async def fail_after(delay, message):
//         await asyncio.sleep(delay)
//         raise ValueError(message)
//
//     async def sleeper():
//         try:
//             await asyncio.sleep(10)
//         except asyncio.CancelledError:
//             print("sleeper cancelled")
//             raise
//
//     async def main():
//         try:
//             await fail_after(0.01, "direct")
//         except ValueError as e:
//             print(f"caught: {e}")
//         try:
//             await asyncio.gather(fail_after(0.05, "in gather"), sleeper())
//         except ValueError as e:
//             print(f"gather raised: {e}")
//
//     asyncio.run(main())
//
// Python prints "gather raised" first and "sleeper cancelled" only when asyncio.run cleans up:
// its gather returns at the first error and leaves the sleeper running. aio's gather cancels
// the sleeper and waits for it, so children never outlive the gather (README, "Differences").
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using seconds = std::chrono::duration<double>;

aio::task<> fail_after(double delay, std::string message) {
    co_await aio::sleep(seconds(delay));
    throw std::invalid_argument(message);  // Python's ValueError
}

aio::task<> sleeper() {
    try {
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {  // not a std::exception: see errors.hpp
        fmt::print("sleeper cancelled\n");
        throw;
    }
}

aio::task<> async_main() {
    try {
        co_await fail_after(0.01, "direct");
    } catch (const std::invalid_argument& e) {
        fmt::print("caught: {}\n", e.what());
    }
    try {
        co_await aio::gather(fail_after(0.05, "in gather"), sleeper());
    } catch (const std::invalid_argument& e) {
        fmt::print("gather raised: {}\n", e.what());
    }
}

int main() {
    aio::run(async_main());
}

// Expected output:
// caught: direct
// sleeper cancelled
// gather raised: in gather
