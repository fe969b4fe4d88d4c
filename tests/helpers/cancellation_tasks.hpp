// SPDX-License-Identifier: MIT
//
// Tasks that show what they did when cancelled, noting it in a journal (journal.hpp):
//
//     sleep_noting(10ms, "a", log)   sleeps; notes "a done", or "a cancelled" and re-raises
//     swallow_cancellation(log)      sleeps 10 s; on cancellation notes "swallowed" and carries
//                                    on as if nothing happened (asyncio: a task that catches
//                                    CancelledError without re-raising); returns 42
//     swallow_cancellation_then_sleep(10s, log)
//                                    the same after the given delay, and then sleeps 1 ms more:
//                                    a task that swallowed its cancellation can still await
//
// Like every aio::task, each runs when awaited or handed to create_task; the journal must
// outlive it.
#ifndef AIO_TESTS_HELPERS_CANCELLATION_TASKS_HPP_INCLUDED
#define AIO_TESTS_HELPERS_CANCELLATION_TASKS_HPP_INCLUDED

#include "helpers/journal.hpp"

#include <aio/errors.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <chrono>
#include <string>

inline aio::task<void> sleep_noting(std::chrono::milliseconds delay, std::string name,
                                    journal& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back(name + " cancelled");
        throw;
    }
    log.push_back(name + " done");
}

inline aio::task<int> swallow_cancellation(journal& log) {
    try {
        co_await aio::sleep(std::chrono::seconds(10));
    } catch (const aio::cancelled_error&) {
        log.push_back("swallowed");
    }
    co_return 42;
}

inline aio::task<int> swallow_cancellation_then_sleep(std::chrono::milliseconds delay,
                                                      journal& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back("swallowed");
    }
    // Still works after the swallowed cancellation.
    co_await aio::sleep(std::chrono::milliseconds(1));
    co_return 42;
}

#endif  // AIO_TESTS_HELPERS_CANCELLATION_TASKS_HPP_INCLUDED
