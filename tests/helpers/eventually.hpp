// SPDX-License-Identifier: MIT
//
// Bounded waits for tests whose work runs on other threads: `eventually(done)` polls a condition
// until it holds or a limit passes, and a `gate` holds a job until the test opens it. Every wait
// ends (a failing test reports false instead of hanging).
#ifndef AIO_TESTS_HELPERS_EVENTUALLY_HPP_INCLUDED
#define AIO_TESTS_HELPERS_EVENTUALLY_HPP_INCLUDED

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace aio_test {

// Polls `done` until it holds or `limit` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// A gate jobs wait at; pass() returns false if it was not opened within 10 s.
struct gate {
    std::atomic<bool> open{false};
    bool pass() const {
        return eventually([this] { return open.load(); });
    }
};

}  // namespace aio_test

#endif  // AIO_TESTS_HELPERS_EVENTUALLY_HPP_INCLUDED
