// SPDX-License-Identifier: MIT
// release_guard and scoped_acquire: the C++ spelling of `async with lock:` for aio::lock,
// aio::semaphore and aio::condition. C++ has no asynchronous scope exit, but releasing needs no
// await, so the acquire is awaited and the release is a destructor:
//
//     async with lock:                      {
//         ...                                   auto guard = co_await lock.scoped();
//                                               ...
//                                           }   // released here, on every way out
//
// Lifetime rules: the guard refers to what it holds, which must outlive it. It is move-only
// (the moved-from guard holds nothing). If the release in the destructor throws (the lock was
// released by hand behind the guard's back), the error is reported on stderr: a destructor
// cannot throw.
#ifndef AIO_DETAIL_RELEASE_GUARD_HPP_INCLUDED
#define AIO_DETAIL_RELEASE_GUARD_HPP_INCLUDED

#include "../errors.hpp"

#include <coroutine>
#include <cstdio>
#include <exception>
#include <utility>

namespace aio::detail {

/// Holds an acquired lock or semaphore and releases it when destroyed.
template <class Releasable>
class [[nodiscard]] release_guard {
public:
    release_guard() noexcept = default;
    explicit release_guard(Releasable& held) noexcept : m_held(&held) {}
    release_guard(release_guard&& other) noexcept : m_held(std::exchange(other.m_held, nullptr)) {}
    release_guard& operator=(release_guard&& other) noexcept {
        if (this != &other) {
            reset();
            m_held = std::exchange(other.m_held, nullptr);
        }
        return *this;
    }
    release_guard(const release_guard&) = delete;
    release_guard& operator=(const release_guard&) = delete;
    ~release_guard() { reset(); }

    /// True while the guard holds something it will release.
    [[nodiscard]] bool owns() const noexcept { return m_held != nullptr; }
    explicit operator bool() const noexcept { return owns(); }

    /// Releases now, before the end of the scope; invalid_state_error if nothing is held.
    void release() {
        if (m_held == nullptr) {
            throw invalid_state_error("aio: release() of a guard that holds nothing");
        }
        std::exchange(m_held, nullptr)->release();
    }

private:
    void reset() noexcept {
        if (m_held == nullptr) {
            return;
        }
        try {
            std::exchange(m_held, nullptr)->release();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "aio: a scoped guard could not release what it held: %s\n",
                         e.what());
        }
    }

    Releasable* m_held = nullptr;
};

/// Awaits `Acquire` (the primitive's acquire awaiter), then yields a release_guard.
template <class Releasable, class Acquire>
class [[nodiscard]] scoped_acquire {
public:
    scoped_acquire(Releasable& target, Acquire acquire) noexcept
        : m_target(target), m_acquire(std::move(acquire)) {}
    scoped_acquire(scoped_acquire&& other) noexcept
        : m_target(other.m_target), m_acquire(std::move(other.m_acquire)) {}
    scoped_acquire& operator=(const scoped_acquire&) = delete;

    bool await_ready() noexcept { return m_acquire.await_ready(); }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        return m_acquire.await_suspend(task);
    }
    release_guard<Releasable> await_resume() {
        m_acquire.await_resume();
        return release_guard<Releasable>(m_target);
    }

private:
    Releasable& m_target;
    Acquire m_acquire;
};

}  // namespace aio::detail

#endif
