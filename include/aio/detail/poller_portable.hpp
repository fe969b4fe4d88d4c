// SPDX-License-Identifier: MIT
// poller_portable: the loop's blocking wait with the standard library alone (a mutex and a
// condition variable), for platforms without an fd poller or when AIO_POLLER_PORTABLE is
// defined. It sleeps until a deadline or a wake(); it cannot watch fds, so add/modify/remove
// throw, and sockets and signals need the epoll poller. Threads (call_soon_threadsafe,
// to_thread) work with either.
//
// One poller belongs to one loop; wait() runs on the loop's thread, wake() on any thread. Unlike
// the epoll poller's, this wake() takes a lock, so a signal handler must not call it.
#ifndef AIO_DETAIL_POLLER_PORTABLE_HPP_INCLUDED
#define AIO_DETAIL_POLLER_PORTABLE_HPP_INCLUDED

#include "io_events.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <system_error>
#include <type_traits>

namespace aio::detail {

class poller_portable {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    poller_portable() = default;
    poller_portable(const poller_portable&) = delete;
    poller_portable& operator=(const poller_portable&) = delete;

    void add(int, io_events, void*) { unsupported(); }
    void modify(int, io_events, void*) { unsupported(); }
    void remove(int) { unsupported(); }

    /// Always 0: no fd can be watched.
    [[nodiscard]] std::size_t registered() const noexcept { return 0; }

    /// Blocks until wake() is called or `deadline` passes (time_point::max(): no deadline; a
    /// past deadline: only looks). Returns whether it was woken; never calls `sink`.
    template <class Sink>
    bool wait(time_point deadline, Sink&&) {
        std::unique_lock lock(m_mutex);
        if (deadline == time_point::max()) {
            m_cv.wait(lock, [this] { return m_woken; });
        } else if (deadline > clock::now()) {  // a past deadline only looks
            m_cv.wait_until(lock, deadline, [this] { return m_woken; });
        }
        const bool woken = m_woken;
        m_woken = false;
        return woken;
    }

    /// Ends the current or the next wait() early; safe from any thread (not a signal handler).
    void wake() {
        {
            std::lock_guard lock(m_mutex);
            if (m_woken) {
                return;  // coalesced: the waiter has not drained the last one yet
            }
            m_woken = true;
        }
        m_cv.notify_one();
    }

private:
    [[noreturn]] static void unsupported() {
        throw std::system_error(std::make_error_code(std::errc::function_not_supported),
                                "aio: fd readiness is not available with the portable poller");
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_woken = false;
};

}  // namespace aio::detail

#endif
