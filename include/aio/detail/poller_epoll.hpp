// SPDX-License-Identifier: MIT
// poller_epoll: the loop's blocking wait on Linux. It watches fds for readiness, sleeps until a
// deadline with sub-millisecond precision, and can be woken from any thread or a signal handler.
// asyncio equivalent: selectors.EpollSelector plus the loop's self-pipe (_write_to_self).
//
// One poller belongs to one loop and is used on the loop's thread; only wake() may be called
// from elsewhere (another thread, a signal handler). The poller owns its three fds (epoll, an
// eventfd for wake(), a timerfd for deadlines) and closes them when destroyed. It does not own
// the fds it watches nor their `data` pointers: remove an fd before its `data` goes away.
//
// Edge-triggered. An fd stays registered while a stream uses it (not re-added for each wait),
// so a readiness is reported once per change, and the owner of `data` remembers it until its
// read or write returns EAGAIN (as Asio's reactor does). Level-triggered would report a ready fd
// at every wait for as long as no one reads it, which spins the loop, unless each park and
// unpark switches the interest with an extra epoll_ctl, a system call per wait. modify()
// re-reports what is ready at once, so a changed interest is never missed.
// An error or hang-up is reported as both readable and writable, so that whichever waiter is
// parked wakes up and meets the error in its own call (as selectors does).
//
// Deadlines: epoll_pwait2's nanosecond timeout (Linux 5.11+), so that a wait with a deadline is
// one system call; it never ends early, and late by at most the thread's timer slack (50 µs by
// default). Where the kernel or a seccomp filter refuses epoll_pwait2 (ENOSYS, EPERM), the first
// such wait falls back for good to a timerfd armed with the absolute deadline (TFD_TIMER_ABSTIME
// on CLOCK_MONOTONIC, which is what steady_clock reads on Linux), re-armed only when the
// deadline changes; it costs a timerfd_settime and a read more per wait.
//
// wake() is coalesced: an atomic flag lets only the first wake after a drain write the eventfd.
#ifndef AIO_DETAIL_POLLER_EPOLL_HPP_INCLUDED
#define AIO_DETAIL_POLLER_EPOLL_HPP_INCLUDED

#if defined(__linux__)

#include "io_events.hpp"
#include "sync.hpp"

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

namespace aio::detail {

class poller_epoll {
public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    poller_epoll()
        : m_epoll(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
          m_wake(checked(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd")),
          m_timer(checked(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                          "timerfd_create")) {
        // Level-triggered: each is drained when it is reported.
        control(EPOLL_CTL_ADD, m_wake.fd, EPOLLIN, &m_wake, "epoll_ctl(ADD, eventfd)");
        control(EPOLL_CTL_ADD, m_timer.fd, EPOLLIN, &m_timer, "epoll_ctl(ADD, timerfd)");
    }
    poller_epoll(const poller_epoll&) = delete;
    poller_epoll& operator=(const poller_epoll&) = delete;

    /// Starts watching `fd` for `interest`; `data` comes back with each of its events.
    void add(int fd, io_events interest, void* data) {
        control(EPOLL_CTL_ADD, fd, to_epoll(interest) | EPOLLET, data, "epoll_ctl(ADD)", fd);
        ++m_registered;
    }

    /// Changes what `fd` is watched for (io_events::none: nothing but errors and hang-ups).
    void modify(int fd, io_events interest, void* data) {
        control(EPOLL_CTL_MOD, fd, to_epoll(interest) | EPOLLET, data, "epoll_ctl(MOD)", fd);
    }

    /// Stops watching `fd`; call it before closing the fd (a closed fd leaves the set by itself
    /// only if no duplicate of it is open).
    void remove(int fd) {
        if (::epoll_ctl(m_epoll.fd, EPOLL_CTL_DEL, fd, nullptr) < 0) {
            throw error(errno, "epoll_ctl(DEL)", fd);
        }
        --m_registered;
    }

    /// How many fds are watched (added and not removed).
    [[nodiscard]] std::size_t registered() const noexcept { return m_registered; }

    /// Blocks until a watched fd is ready, wake() is called, or `deadline` passes
    /// (time_point::max(): no deadline; a past deadline: only polls). Calls
    /// `sink(void* data, io_events events)` for each ready fd, and returns whether it was woken.
    /// A signal that interrupts the wait does not end it. The sink must not throw: an event
    /// fetched from the kernel and not delivered would not be reported again (edge-triggered).
    /// It should only note readiness: events come in batches, so the `data` of an fd that the
    /// sink removes may still come later in the same batch.
    template <class Sink>
    bool wait(time_point deadline, Sink&& sink) {
        static_assert(std::is_nothrow_invocable_v<Sink&, void*, io_events>,
                      "the sink is called as sink(void* data, io_events events) noexcept");
        bool woken = false;
        for (;;) {
            epoll_event events[max_events];
            int timeout = -1;  // until an fd, a wake-up (or the timerfd)
            int n;
            if (deadline == time_point::max()) {
                if (!m_pwait2) {
                    arm(deadline);  // disarms a timerfd left from an earlier deadline
                }
                n = ::epoll_wait(m_epoll.fd, events, max_events, -1);
            } else if (const time_point now = clock::now(); deadline <= now) {
                timeout = 0;  // past: only polls
                n = ::epoll_wait(m_epoll.fd, events, max_events, 0);
            } else if (m_pwait2) {
                n = wait_until(events, deadline - now);
                if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
                    m_pwait2 = false;  // refused: the timerfd from now on
                    continue;
                }
            } else {
                arm(deadline);
                n = ::epoll_wait(m_epoll.fd, events, max_events, -1);
            }
            if (n < 0 && errno != EINTR) {
                throw error(errno, "epoll_wait");
            }
            bool reported = false;
            for (int i = 0; i < n; ++i) {
                void* data = events[i].data.ptr;
                if (data == &m_wake) {
                    drain_wake();
                    woken = true;
                } else if (data == &m_timer) {
                    std::uint64_t expirations = 0;
                    [[maybe_unused]] const auto r =
                        ::read(m_timer.fd, &expirations, sizeof expirations);
                    m_armed = time_point::max();  // a one-shot timer is disarmed once it fired
                } else {
                    sink(data, from_epoll(events[i].events));
                    reported = true;
                }
            }
            if (woken || reported || timeout == 0 || clock::now() >= deadline) {
                return woken;
            }
        }
    }

    /// Ends the current or the next wait() early. Safe from any thread and from a signal
    /// handler (a lock-free flag and write(2); errno is preserved). Wakes coalesce: the first
    /// one after a drain writes the eventfd, the others find the flag already set.
    void wake() noexcept {
        if (!m_woken.exchange(true, memory_order_acq_rel)) {
            const int saved = errno;
            const std::uint64_t one = 1;
            [[maybe_unused]] const auto r = ::write(m_wake.fd, &one, sizeof one);
            errno = saved;
        }
    }

    /// Deadlines through the timerfd from now on, as where epoll_pwait2 is refused (for tests).
    void use_timerfd() noexcept { m_pwait2 = false; }

    /// How many eventfd writes the last drain of wake-ups consumed (1 when wakes coalesced).
    [[nodiscard]] std::uint64_t last_wake_writes() const noexcept { return m_last_wake_writes; }

private:
    static constexpr int max_events = 128;
    static_assert(atomic<bool>::is_always_lock_free, "wake() must be async-signal-safe");

    struct unique_fd {
        int fd;
        explicit unique_fd(int f) noexcept : fd(f) {}
        unique_fd(const unique_fd&) = delete;
        unique_fd& operator=(const unique_fd&) = delete;
        ~unique_fd() { ::close(fd); }
    };

    static std::system_error error(int code, const char* what, int fd = -1) {
        std::string message = std::string("aio poller: ") + what;
        if (fd >= 0) {
            message += " of fd " + std::to_string(fd);
        }
        return std::system_error(code, std::system_category(), message);
    }

    static int checked(int fd, const char* what) {
        if (fd < 0) {
            throw error(errno, what);
        }
        return fd;
    }

    void control(int op, int fd, std::uint32_t events, void* data, const char* what,
                 int shown_fd = -1) {
        epoll_event event{};
        event.events = events;
        event.data.ptr = data;
        if (::epoll_ctl(m_epoll.fd, op, fd, &event) < 0) {
            throw error(errno, what, shown_fd);
        }
    }

    static std::uint32_t to_epoll(io_events interest) noexcept {
        std::uint32_t events = 0;
        if (has_any(interest, io_events::readable)) {
            events |= EPOLLIN;
        }
        if (has_any(interest, io_events::writable)) {
            events |= EPOLLOUT;
        }
        return events;
    }

    static io_events from_epoll(std::uint32_t events) noexcept {
        io_events result = io_events::none;
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
            result = result | io_events::readable;
        }
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            result = result | io_events::writable;
        }
        return result;
    }

    // Why the eventfd is read before the flag is cleared: a wake() between the two finds the
    // flag set and writes nothing, but the caller returns woken and the loop then looks at what
    // that wake() published; cleared first, such a wake() could write a count that this read
    // then swallows, leaving the flag set with nothing to end the next wait.
    void drain_wake() noexcept {
        std::uint64_t count = 0;
        if (::read(m_wake.fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
            m_last_wake_writes = count;
        }
        m_woken.exchange(false, memory_order_acq_rel);  // acquires what the wakers published
    }

    // epoll_pwait2 through syscall(2), which needs the kernel's number only (glibc's wrapper
    // came in 2.35); no signal mask. -1 with errno ENOSYS where there is no such call.
    int wait_until(epoll_event* events, clock::duration timeout) noexcept {
#ifdef SYS_epoll_pwait2
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        timespec spec{};
        spec.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        spec.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        return static_cast<int>(
            ::syscall(SYS_epoll_pwait2, m_epoll.fd, events, max_events, &spec, nullptr, 0));
#else
        (void)events;
        (void)timeout;
        errno = ENOSYS;
        return -1;
#endif
    }

    void arm(time_point deadline) {
        if (deadline == m_armed) {
            return;
        }
        itimerspec spec{};  // all zero disarms it (deadline max)
        if (deadline != time_point::max()) {
            const auto ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch())
                    .count();
            spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
            spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
        }
        if (::timerfd_settime(m_timer.fd, TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
            throw error(errno, "timerfd_settime");
        }
        m_armed = deadline;
    }

    unique_fd m_epoll;
    unique_fd m_wake;
    unique_fd m_timer;
    time_point m_armed = time_point::max();  // what the timerfd is set to (max: disarmed)
    bool m_pwait2 = true;                    // false once the kernel refused epoll_pwait2
    std::size_t m_registered = 0;
    std::uint64_t m_last_wake_writes = 0;
    atomic<bool> m_woken{false};
};

}  // namespace aio::detail

#endif  // __linux__

#endif
