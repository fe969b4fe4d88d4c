// SPDX-License-Identifier: MIT
//
// Small tasks that end in a known way, after a known delay — the children most scenarios
// start, gather, wait for or cancel (asyncio's tests write them inline as `async def`s):
//
//     value_after(10ms, 1)         sleeps 10 ms, returns 1
//     value_after(10ms, 1, log)    the same, noting "1 done" (or "1 cancelled", and re-raising)
//     value_at(deadline, 1)        sleeps until the deadline, returns 1
//     string_after / unique_after  like value_after, with a std::string / std::unique_ptr<int>
//     fail_after(10ms, "boom")     sleeps 10 ms, throws test_error("boom"); fail_after<void>(...)
//                                  is the same as an aio::task<void>
//     fail_after(10ms, "boom", log)  the same, noting "boom thrown" just before it throws
//     fail_soon()                  yields once, throws std::runtime_error("boom")
//     immediately(1), forty_two()  return without suspending
//     yield_times(n)               yields to the loop n times (n sleep(0)s)
//     set_flag(flag)               sets `flag` without suspending
//
// Each is an aio::task: it runs when awaited or handed to create_task, and owns its arguments
// (taken by value) except the journal or flag it writes to, which must outlive it. Delays are
// the loop's, so on virtual time (virtual_time.hpp) they take no real time.
#ifndef AIO_TESTS_HELPERS_TEST_TASKS_HPP_INCLUDED
#define AIO_TESTS_HELPERS_TEST_TASKS_HPP_INCLUDED

#include "helpers/journal.hpp"
#include "helpers/test_error.hpp"

#include <aio/errors.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

inline aio::task<int> value_after(std::chrono::milliseconds delay, int value) {
    co_await aio::sleep(delay);
    co_return value;
}

/// Notes "<value> done" when it returns, "<value> cancelled" when cancelled (and re-raises).
inline aio::task<int> value_after(std::chrono::milliseconds delay, int value, journal& log) {
    try {
        co_await aio::sleep(delay);
    } catch (const aio::cancelled_error&) {
        log.push_back(std::to_string(value) + " cancelled");
        throw;
    }
    log.push_back(std::to_string(value) + " done");
    co_return value;
}

inline aio::task<int> value_at(std::chrono::steady_clock::time_point when, int value) {
    co_await aio::sleep_until(when);
    co_return value;
}

inline aio::task<std::string> string_after(std::chrono::milliseconds delay, std::string value) {
    co_await aio::sleep(delay);
    co_return value;
}

inline aio::task<std::unique_ptr<int>> unique_after(std::chrono::milliseconds delay, int value) {
    co_await aio::sleep(delay);
    co_return std::make_unique<int>(value);
}

/// An aio::task<int> unless asked for another result type (fail_after<void>); it never returns.
template <class T = int>
aio::task<T> fail_after(std::chrono::milliseconds delay, std::string what) {
    co_await aio::sleep(delay);
    throw test_error(what);
}

/// Notes "<what> thrown" just before it throws test_error(what).
inline aio::task<int> fail_after(std::chrono::milliseconds delay, std::string what, journal& log) {
    co_await aio::sleep(delay);
    log.push_back(what + " thrown");
    throw test_error(what);
}

inline aio::task<void> fail_soon() {
    co_await aio::sleep(std::chrono::milliseconds(0));
    throw std::runtime_error("boom");
}

inline aio::task<int> immediately(int value) {
    co_return value;
}

inline aio::task<int> forty_two() {
    co_return 42;
}

inline aio::task<void> yield_times(int n) {
    for (int i = 0; i < n; ++i) {
        co_await aio::sleep(std::chrono::milliseconds(0));
    }
}

inline aio::task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

#endif  // AIO_TESTS_HELPERS_TEST_TASKS_HPP_INCLUDED
