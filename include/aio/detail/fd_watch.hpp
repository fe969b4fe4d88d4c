// SPDX-License-Identifier: MIT
// fd_watch and wait_readable / wait_writable: a task waits until an fd is ready, on the loop's
// poller. asyncio equivalent: loop._add_reader / _add_writer with a future that the callback
// completes, and _remove_reader / _remove_writer when the waiter is cancelled (selector_events.py).
//
//     n = recv(fd) -> EAGAIN                    ssize_t n = ::recv(fd, ...);  // EAGAIN
//     fut = loop.create_future()                co_await aio::detail::wait_readable(watch);
//     loop._add_reader(fd, fut.set_result)      // then try recv again
//     await fut
//
// One fd_watch per fd, owned by whoever owns the fd (aio::socket makes one on its first wait).
// The fd is registered with the poller of the loop of its first wait and stays registered until
// unwatch() (the socket's close()): a wait costs no system call when the fd's interest already
// holds its direction. Edge-triggered (see poller_epoll.hpp), so a report is remembered in
// m_ready until a wait takes it: a wait for a direction reported since the last wait returns at
// once. Hence the rule for callers: try the operation first and wait only after EAGAIN (a wait
// then ends at the next readiness, or at once if one came meanwhile); retry after each wait.
//
// Interest: a direction is added when its first waiter parks (epoll_ctl MOD, which re-reports a
// readiness that came before) and kept while waits keep coming; a cancelled wait removes it at
// once. One waiter per direction: a second task waiting to read the same fd is invalid_state_error
// (asyncio: "another coroutine is already waiting"). A wait on a loop other than the one the fd
// is registered with is event_loop_error. unwatch() wakes the waiters; they find the fd closed.
//
// Lifetime: an fd_watch must not move while registered (aio::socket keeps it on the heap), and
// must outlive the waits on it. Everything here is for the loop's thread. Needs the epoll
// poller: with the portable one, a wait throws std::system_error (function not supported).
#ifndef AIO_DETAIL_FD_WATCH_HPP_INCLUDED
#define AIO_DETAIL_FD_WATCH_HPP_INCLUDED

#if !defined(__linux__)
#error "aio: the networking headers need Linux (epoll): the portable poller watches no fds"
#endif

#include "../errors.hpp"
#include "../event_loop.hpp"
#include "../suspend.hpp"
#include "io_events.hpp"
#include "loop_core.hpp"

#include <coroutine>

namespace aio::detail {

class fd_wait;

class fd_watch final : public io_watch {
public:
    explicit fd_watch(int fd) noexcept : io_watch(&on_events), m_fd(fd) {}
    ~fd_watch() { unwatch(); }

    [[nodiscard]] int fd() const noexcept { return m_fd; }
    /// Registered with a loop's poller.
    [[nodiscard]] bool registered() const noexcept { return watching_loop() != nullptr; }
    /// What the poller watches the fd for (beyond errors and hang-ups).
    [[nodiscard]] io_events interest() const noexcept { return m_interest; }
    /// A task is parked waiting for `direction`.
    [[nodiscard]] bool waiting(io_events direction) const noexcept {
        return slot(direction) != nullptr;
    }
    /// Forgets a readiness reported earlier for `direction` (the caller just met EAGAIN), so
    /// that the next wait parks instead of returning at once to another EAGAIN.
    void not_ready(io_events direction) noexcept { m_ready = m_ready & ~direction; }

    /// Unregisters the fd (call it before closing the fd) and wakes the parked tasks. Errors
    /// of the poller are ignored: the fd is about to be closed, which unregisters it anyway.
    void unwatch() noexcept;

private:
    friend class fd_wait;
    fd_wait*& slot(io_events direction) noexcept {
        return direction == io_events::readable ? m_reader : m_writer;
    }
    fd_wait* slot(io_events direction) const noexcept {
        return direction == io_events::readable ? m_reader : m_writer;
    }
    // A report of the poller (the loop's sink, in run_once): note it, wake who waits for it.
    static void on_events(io_watch& self, io_events events) noexcept;
    // The fd's interest must hold `direction` on `loop`'s poller (registers on first use).
    void want(loop_core& loop, io_events direction);
    // The waiter left without a report (cancelled, or its frame destroyed): drop the interest
    // at once when cancelled (an error there only leaves a harmless, edge-triggered interest).
    void forget(io_events direction, bool drop_interest) noexcept;

    int m_fd;
    io_events m_interest = io_events::none;
    io_events m_ready = io_events::none;  // reported and not yet taken by a wait
    fd_wait* m_reader = nullptr;
    fd_wait* m_writer = nullptr;
};

/// The awaiter of wait_readable / wait_writable: a suspension parked in the fd_watch's slot.
class fd_wait : private suspension {
public:
    fd_wait(fd_watch& watch, io_events direction) noexcept : m_watch(watch), m_dir(direction) {}
    fd_wait(const fd_wait&) = delete;
    fd_wait& operator=(const fd_wait&) = delete;
    ~fd_wait() {
        if (parked()) [[unlikely]] {  // the frame is destroyed while parked (the loop closed)
            m_watch.forget(m_dir, false);
        }
    }

    // A readiness reported since the last wait: taken, and no suspension.
    bool await_ready() noexcept {
        if (has_any(m_watch.m_ready, m_dir)) {
            m_watch.not_ready(m_dir);
            return true;
        }
        return false;
    }
    // why the interest comes before park(): registering may throw, and a parked suspension must
    // not be left behind by an exception.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        if (m_watch.slot(m_dir) != nullptr) {
            throw invalid_state_error(
                m_dir == io_events::readable
                    ? "aio: another task is already waiting to read this fd"
                    : "aio: another task is already waiting to write this fd");
        }
        loop_core& loop = core_of(get_running_loop());
        m_watch.want(loop, m_dir);
        if (!park(task, &on_cancel,
                  m_dir == io_events::readable ? "an fd to be readable" : "an fd to be writable")) {
            return false;  // a cancellation was pending: await_resume throws it
        }
        m_watch.slot(m_dir) = this;
        loop.io_wait_begin();
        return true;
    }
    /// Throws cancelled_error if the task was cancelled while waiting.
    void await_resume() { resume(); }

private:
    friend class fd_watch;
    static void on_cancel(suspension& s) noexcept {
        auto& self = static_cast<fd_wait&>(s);
        self.m_watch.forget(self.m_dir, true);
    }
    // The fd is ready (or closed): the task resumes on a later iteration.
    void ready() noexcept {
        m_watch.slot(m_dir) = nullptr;
        wake();
    }

    fd_watch& m_watch;
    io_events m_dir;
};

/// Waits until `watch`'s fd is readable (or has an error or hang-up); see the header comment.
[[nodiscard]] inline fd_wait wait_readable(fd_watch& watch) noexcept {
    return fd_wait(watch, io_events::readable);
}
/// Waits until `watch`'s fd is writable (or has an error or hang-up).
[[nodiscard]] inline fd_wait wait_writable(fd_watch& watch) noexcept {
    return fd_wait(watch, io_events::writable);
}

inline void fd_watch::on_events(io_watch& self, io_events events) noexcept {
    auto& w = static_cast<fd_watch&>(self);
    w.m_ready = w.m_ready | events;
    for (const io_events direction : {io_events::readable, io_events::writable}) {
        fd_wait* const waiter = w.slot(direction);
        if (waiter != nullptr && has_any(events, direction)) {
            w.m_ready = w.m_ready & ~direction;  // this wake takes it
            w.watching_loop()->io_wait_end();
            waiter->ready();
        }
    }
}

inline void fd_watch::want(loop_core& loop, io_events direction) {
    loop_core* const current = watching_loop();
    if (current == nullptr) {
        loop.watch_fd(m_fd, direction, *this);  // ADD reports what is ready already
        m_interest = direction;
        m_ready = io_events::none;
    } else if (current != &loop) {
        throw event_loop_error("aio: this fd is registered with a different event loop");
    } else if (!has_any(m_interest, direction)) {
        loop.rewatch_fd(m_fd, m_interest | direction, *this);
        m_interest = m_interest | direction;
    }
}

inline void fd_watch::forget(io_events direction, bool drop_interest) noexcept {
    slot(direction) = nullptr;
    loop_core* const loop = watching_loop();
    if (loop == nullptr) {
        return;
    }
    loop->io_wait_end();
    if (drop_interest) {
        try {
            loop->rewatch_fd(m_fd, m_interest & ~direction, *this);
            m_interest = m_interest & ~direction;
        } catch (...) {  // ENOMEM: the interest stays; a report nobody waits for is only noted
        }
    }
}

inline void fd_watch::unwatch() noexcept {
    loop_core* const loop = watching_loop();
    for (const io_events direction : {io_events::readable, io_events::writable}) {
        if (fd_wait* const waiter = slot(direction)) {
            if (loop != nullptr) {
                loop->io_wait_end();
            }
            waiter->ready();
        }
    }
    if (loop != nullptr) {
        try {
            loop->unwatch_fd(m_fd, *this);
        } catch (...) {  // closing the fd unregisters it
        }
    }
    m_interest = m_ready = io_events::none;
}

}  // namespace aio::detail

#endif
