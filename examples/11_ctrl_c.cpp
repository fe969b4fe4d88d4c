// SPDX-License-Identifier: MIT
// 11_ctrl_c: Ctrl-C cancels aio::run's main task, which cleans up; run() then throws
// aio::keyboard_interrupt, and main() exits with 130, as a shell reports for Ctrl-C.
//
//     import asyncio, signal, sys
//
//     async def serve():
//         asyncio.get_running_loop().call_later(0.05, signal.raise_signal, signal.SIGINT)
//         try:
//             while True:
//                 await asyncio.sleep(1)  # the work
//         except asyncio.CancelledError:
//             print("Ctrl-C: cleaning up")
//             await asyncio.sleep(0.01)  # cleanup may still await
//             print("clean")
//             raise
//
//     try:
//         asyncio.run(serve())
//     except KeyboardInterrupt:
//         print("interrupted")
//         sys.exit(130)
//
// To run without a keyboard, the program sends itself the SIGINT that a terminal sends on
// Ctrl-C. A second Ctrl-C during the cleanup would abandon it: run() would throw at once.
// (Linux with the epoll poller only: elsewhere aio::run leaves SIGINT alone.)
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <csignal>

using namespace std::chrono_literals;

aio::task<> serve() {
    // Stands in for the user's Ctrl-C.
    (void)aio::get_running_loop().call_later(50ms, [] { std::raise(SIGINT); });
    try {
        for (;;) {
            co_await aio::sleep(1s);  // the work
        }
    } catch (const aio::cancelled_error&) {
        fmt::print("Ctrl-C: cleaning up\n");
    }
    // A catch block cannot co_await, so the asynchronous part of the cleanup comes after it.
    co_await aio::sleep(10ms);
    fmt::print("clean\n");
    throw aio::cancelled_error{};  // `raise`: the cancellation ends the task
}

int main() {
    // aio::run takes SIGINT over only while it has its default disposition (asyncio's rule). A
    // shell gives a foreground program that; a script's background job has SIGINT ignored.
    std::signal(SIGINT, SIG_DFL);
    try {
        aio::run(serve());
    } catch (const aio::keyboard_interrupt&) {  // not a std::exception: caught by its name
        fmt::print("interrupted\n");
        return 130;
    }
    return 0;
}

// Expected output:
// Ctrl-C: cleaning up
// clean
// interrupted
