// SPDX-License-Identifier: MIT
// How an idle loop waits: blocked on a condition variable until the next timer is due.
//
// Sleeping this way costs no CPU (the demo's 10 s of sleeping tasks use ~0 s of CPU), and
// notify() is the hook for a future cross-thread wake-up (call_soon_threadsafe): it is the
// only piece of the loop that is safe to touch from another thread.
#ifndef AIO_DETAIL_IDLE_WAIT_HPP_INCLUDED
#define AIO_DETAIL_IDLE_WAIT_HPP_INCLUDED

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace aio::detail {

class idle_wait {
public:
    /// Blocks until `deadline` (or forever for time_point::max()) or until notify().
    void wait_until(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(m_mutex);
        if (deadline == std::chrono::steady_clock::time_point::max()) {
            m_cv.wait(lock, [this] { return m_notified; });
        } else {
            m_cv.wait_until(lock, deadline, [this] { return m_notified; });
        }
        m_notified = false;
    }

    void notify() {
        {
            std::lock_guard lock(m_mutex);
            m_notified = true;
        }
        m_cv.notify_one();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_notified = false;
};

} // namespace aio::detail

#endif
