// SPDX-License-Identifier: MIT
// Tests for the loop's pollers (<aio/detail/poller.hpp>): fd readiness, wake-ups from other
// threads and signal handlers, and deadlines. What both backends promise is tested on both;
// fd readiness on the epoll poller only. Every wait is bounded by a deadline.
#include "helpers/catch.hpp"

#include <aio/detail/poller.hpp>
#include <aio/detail/poller_portable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__linux__) && !defined(AIO_POLLER_PORTABLE)
#define AIO_TEST_EPOLL 1
#include <aio/detail/poller_epoll.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#else
#define AIO_TEST_EPOLL 0
#endif

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using aio::detail::io_events;

namespace {

struct no_events {
    int calls = 0;
    void operator()(void*, io_events) noexcept { ++calls; }
};

#if AIO_TEST_EPOLL
/// The epoll poller on its fallback path for deadlines (a timerfd), as on a kernel or under a
/// seccomp filter that refuses epoll_pwait2.
struct poller_epoll_timerfd : aio::detail::poller_epoll {
    poller_epoll_timerfd() { use_timerfd(); }
};
#endif

}  // namespace

#if AIO_TEST_EPOLL
#define AIO_TEST_POLLERS                                                                           \
    aio::detail::poller_portable, aio::detail::poller_epoll, poller_epoll_timerfd
#else
#define AIO_TEST_POLLERS aio::detail::poller_portable
#endif

TEST_CASE("detail::poller is the epoll poller on Linux unless AIO_POLLER_PORTABLE is defined",
          "[poller]") {
#if AIO_TEST_EPOLL
    STATIC_REQUIRE(std::is_same_v<aio::detail::poller, aio::detail::poller_epoll>);
#else
    STATIC_REQUIRE(std::is_same_v<aio::detail::poller, aio::detail::poller_portable>);
#endif
}

// --- What both backends promise.
// ------------------------------------------------------------------

TEMPLATE_TEST_CASE("a poller's wait never returns before its deadline", "[poller]",
                   AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    for (int i = 0; i < 200; ++i) {
        const steady::time_point deadline =
            steady::now() + std::chrono::microseconds(50 + i % 7 * 100);
        const bool woken = poller.wait(deadline, sink);
        const steady::time_point returned = steady::now();
        REQUIRE_FALSE(woken);
        REQUIRE(returned >= deadline);
    }
    REQUIRE(sink.calls == 0);
}

TEMPLATE_TEST_CASE("a poller's wait with a past deadline only looks and does not block", "[poller]",
                   AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    const steady::time_point start = steady::now();
    for (int i = 0; i < 100; ++i) {
        REQUIRE_FALSE(poller.wait(start - 1s, sink));
    }
    REQUIRE(poller.wait(steady::time_point::min(), sink) == false);
    REQUIRE(steady::now() - start < 1s);  // 101 non-blocking polls, far from a second
}

TEMPLATE_TEST_CASE("wake() from another thread ends a wait that has no deadline",
                   "[poller][thread]", AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    std::thread waker([&] {
        std::this_thread::sleep_for(20ms);
        poller.wake();
    });
    const steady::time_point start = steady::now();
    // No deadline would hang a broken wake(): the safety net is a long one.
    const bool woken = poller.wait(start + 30s, sink);
    waker.join();
    REQUIRE(woken);
    REQUIRE(steady::now() - start < 15s);
    REQUIRE(sink.calls == 0);
}

TEMPLATE_TEST_CASE("a wake() before the wait ends the next wait at once, and only that one",
                   "[poller]", AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    poller.wake();
    const steady::time_point start = steady::now();
    REQUIRE(poller.wait(start + 30s, sink));
    REQUIRE(steady::now() - start < 15s);
    REQUIRE_FALSE(poller.wait(steady::now() + 1ms, sink));  // drained
}

TEMPLATE_TEST_CASE("many wakes from several threads before a wait end it once", "[poller][thread]",
                   AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    std::vector<std::thread> wakers;
    for (int t = 0; t < 4; ++t) {
        wakers.emplace_back([&] {
            for (int i = 0; i < 250; ++i) {
                poller.wake();
            }
        });
    }
    for (std::thread& t : wakers) {
        t.join();
    }
    REQUIRE(poller.wait(steady::now() + 30s, sink));
    REQUIRE_FALSE(poller.wait(steady::now(), sink));
#if AIO_TEST_EPOLL
    if constexpr (std::is_base_of_v<aio::detail::poller_epoll, TestType>) {
        REQUIRE(poller.last_wake_writes() == 1);  // one eventfd write for the 1000 wakes
    }
#endif
}

// A waker wakes every few microseconds for a while, so that some wakes land while the waiter is
// draining the previous one. The waiter waits again and again; a lost wake-up shows as a wait
// that runs to its (long) deadline although wakes kept coming.
TEMPLATE_TEST_CASE("a wake() racing the end of a wait is never lost", "[poller][thread]",
                   AIO_TEST_POLLERS) {
    TestType poller;
    no_events sink;
    std::atomic<bool> finished{false};
    std::thread waker([&] {
        const steady::time_point until = steady::now() + 200ms;
        for (int i = 0; steady::now() < until; ++i) {
            poller.wake();
            const steady::time_point pause =
                steady::now() + std::chrono::microseconds(i % 4 == 0 ? i % 20 : 0);
            while (steady::now() < pause) {
            }
        }
        finished.store(true);
        poller.wake();
    });
    int woken = 0;
    int timed_out = 0;
    while (!finished.load()) {
        if (poller.wait(steady::now() + 2s, sink)) {
            ++woken;
        } else {
            ++timed_out;
        }
    }
    waker.join();
    REQUIRE(timed_out == 0);
    REQUIRE(woken > 0);
}

TEST_CASE("the portable poller refuses fds with a clear error", "[poller]") {
    aio::detail::poller_portable poller;
    int dummy = 0;
    const auto message_of = [](auto&& call) {
        try {
            call();
        } catch (const std::system_error& e) {
            REQUIRE(e.code() == std::errc::function_not_supported);
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    const std::string expected = "fd readiness is not available with the portable poller";
    CHECK(message_of([&] { poller.add(0, io_events::readable, &dummy); }).find(expected) !=
          std::string::npos);
    CHECK(message_of([&] { poller.modify(0, io_events::writable, &dummy); }).find(expected) !=
          std::string::npos);
    CHECK(message_of([&] { poller.remove(0); }).find(expected) != std::string::npos);
    REQUIRE(poller.registered() == 0);
}

// --- fd readiness: the epoll poller.
// ---------------------------------------------------------------
#if AIO_TEST_EPOLL
namespace {

struct test_pipe {
    int read_end = -1;
    int write_end = -1;
    test_pipe() {
        int fds[2];
        REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
        read_end = fds[0];
        write_end = fds[1];
    }
    test_pipe(const test_pipe&) = delete;
    test_pipe& operator=(const test_pipe&) = delete;
    ~test_pipe() {
        close_read();
        close_write();
    }
    void put(char c = 'x') const { REQUIRE(::write(write_end, &c, 1) == 1); }
    char take() const {
        char c = 0;
        REQUIRE(::read(read_end, &c, 1) == 1);
        return c;
    }
    void close_read() {
        if (read_end >= 0) {
            ::close(read_end);
            read_end = -1;
        }
    }
    void close_write() {
        if (write_end >= 0) {
            ::close(write_end);
            write_end = -1;
        }
    }
};

struct event {
    void* data;
    io_events events;
};

struct recorder {
    std::vector<event> seen;
    void operator()(void* data, io_events events) noexcept { seen.push_back({data, events}); }
};

// A short wait for an event that should come (bounded, never hangs).
recorder wait_briefly(aio::detail::poller_epoll& poller, std::chrono::milliseconds limit = 2000ms) {
    recorder r;
    poller.wait(steady::now() + limit, r);
    return r;
}

}  // namespace

TEST_CASE("the epoll poller reports a pipe's read end readable after a write, with its data",
          "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    poller.add(pipe.read_end, io_events::readable, &owner);
    REQUIRE(wait_briefly(poller, 20ms).seen.empty());  // nothing written yet

    pipe.put('a');
    const recorder r = wait_briefly(poller);
    REQUIRE(r.seen.size() == 1);
    REQUIRE(r.seen[0].data == &owner);
    REQUIRE(r.seen[0].events == io_events::readable);
    REQUIRE(pipe.take() == 'a');
}

TEST_CASE("the epoll poller reports a pipe's write end writable", "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    poller.add(pipe.write_end, io_events::writable, &owner);
    const recorder r = wait_briefly(poller);
    REQUIRE(r.seen.size() == 1);
    REQUIRE(r.seen[0].data == &owner);
    REQUIRE(r.seen[0].events == io_events::writable);
}

TEST_CASE("the epoll poller reports a readiness once per change (edge-triggered)",
          "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    poller.add(pipe.read_end, io_events::readable, &owner);
    pipe.put();
    REQUIRE(wait_briefly(poller).seen.size() == 1);
    // Still readable, but unchanged: not reported again, so a registration kept while no one
    // reads does not spin the loop.
    REQUIRE(wait_briefly(poller, 20ms).seen.empty());
    pipe.put();  // a new change
    REQUIRE(wait_briefly(poller).seen.size() == 1);
}

TEST_CASE("the epoll poller's modify changes interest and data and reports what is ready at once",
          "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int first = 0;
    int second = 0;
    poller.add(pipe.read_end, io_events::none, &first);
    pipe.put();
    REQUIRE(wait_briefly(poller, 20ms).seen.empty());  // not asked for

    poller.modify(pipe.read_end, io_events::readable, &second);
    recorder r = wait_briefly(poller);  // the byte written before modify
    REQUIRE(r.seen.size() == 1);
    REQUIRE(r.seen[0].data == &second);
    REQUIRE(r.seen[0].events == io_events::readable);

    poller.modify(pipe.read_end, io_events::none, &second);
    pipe.put();
    REQUIRE(wait_briefly(poller, 20ms).seen.empty());
}

TEST_CASE("the epoll poller's remove stops the reports: registered() counts watched fds",
          "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    REQUIRE(poller.registered() == 0);
    poller.add(pipe.read_end, io_events::readable, &owner);
    poller.add(pipe.write_end, io_events::writable, &owner);
    REQUIRE(poller.registered() == 2);
    poller.remove(pipe.write_end);
    poller.remove(pipe.read_end);
    REQUIRE(poller.registered() == 0);
    pipe.put();
    REQUIRE(wait_briefly(poller, 20ms).seen.empty());
}

TEST_CASE("the epoll poller reports a hang-up as readable and writable", "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    poller.add(pipe.read_end, io_events::readable, &owner);
    pipe.close_write();
    const recorder r = wait_briefly(poller);
    REQUIRE(r.seen.size() == 1);
    REQUIRE(r.seen[0].events == io_events::both);
}

TEST_CASE("the epoll poller's fd errors are std::system_error with errno", "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    const auto code_of = [](auto&& call) {
        try {
            call();
        } catch (const std::system_error& e) {
            return e.code().value();
        }
        return 0;
    };
    REQUIRE(code_of([&] { poller.add(-1, io_events::readable, &owner); }) == EBADF);
    poller.add(pipe.read_end, io_events::readable, &owner);
    REQUIRE(code_of([&] { poller.add(pipe.read_end, io_events::readable, &owner); }) == EEXIST);
    REQUIRE(code_of([&] { poller.modify(pipe.write_end, io_events::writable, &owner); }) == ENOENT);
    REQUIRE(code_of([&] { poller.remove(pipe.write_end); }) == ENOENT);
    REQUIRE(poller.registered() == 1);  // failed calls change nothing
}

TEST_CASE("the epoll poller reports fd events and a wake in the same wait", "[poller][epoll]") {
    aio::detail::poller_epoll poller;
    test_pipe pipe;
    int owner = 0;
    poller.add(pipe.read_end, io_events::readable, &owner);
    pipe.put();
    poller.wake();
    recorder r;
    REQUIRE(poller.wait(steady::now() + 2s, r));
    REQUIRE(r.seen.size() == 1);
    REQUIRE(r.seen[0].data == &owner);
}

namespace {

aio::detail::poller_epoll* signal_target = nullptr;
std::atomic<int> signals_handled{0};

extern "C" void wake_from_signal(int) {
    signals_handled.fetch_add(1, std::memory_order_relaxed);
    if (signal_target != nullptr) {
        signal_target->wake();
    }
}

// Installs `handler` for SIGUSR1 (no SA_RESTART, so a blocked epoll_wait fails with EINTR) and
// restores the old disposition.
struct usr1_handler {
    struct sigaction old {};
    explicit usr1_handler(void (*handler)(int)) {
        struct sigaction action {};
        action.sa_handler = handler;
        sigemptyset(&action.sa_mask);
        REQUIRE(::sigaction(SIGUSR1, &action, &old) == 0);
    }
    usr1_handler(const usr1_handler&) = delete;
    usr1_handler& operator=(const usr1_handler&) = delete;
    ~usr1_handler() { ::sigaction(SIGUSR1, &old, nullptr); }
};

extern "C" void count_signal(int) {
    signals_handled.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

TEST_CASE("wake() from a signal handler ends the epoll poller's wait", "[poller][epoll][thread]") {
    aio::detail::poller_epoll poller;
    signal_target = &poller;
    signals_handled = 0;
    usr1_handler installed(wake_from_signal);
    const pthread_t waiting = ::pthread_self();
    std::thread sender([&] {
        std::this_thread::sleep_for(20ms);
        ::pthread_kill(waiting, SIGUSR1);
    });
    no_events sink;
    const steady::time_point start = steady::now();
    const bool woken = poller.wait(start + 30s, sink);
    sender.join();
    signal_target = nullptr;
    REQUIRE(signals_handled == 1);
    REQUIRE(woken);
    REQUIRE(steady::now() - start < 15s);
}

TEST_CASE("a signal that interrupts the epoll poller's wait does not end it before its deadline",
          "[poller][epoll][thread]") {
    aio::detail::poller_epoll poller;
    signals_handled = 0;
    usr1_handler installed(count_signal);
    const pthread_t waiting = ::pthread_self();
    std::atomic<bool> done{false};
    std::thread sender([&] {
        while (!done.load()) {
            ::pthread_kill(waiting, SIGUSR1);
            std::this_thread::sleep_for(5ms);
        }
    });
    no_events sink;
    // Until a wait has been interrupted at least once (bounded: a loaded machine may start the
    // sender late).
    int interrupted_waits = 0;
    for (int attempt = 0; attempt < 50 && interrupted_waits == 0; ++attempt) {
        const int before = signals_handled.load();
        const steady::time_point deadline = steady::now() + 50ms;
        const bool woken = poller.wait(deadline, sink);
        const steady::time_point returned = steady::now();
        CHECK_FALSE(woken);
        CHECK(returned >= deadline);
        if (signals_handled.load() > before) {
            ++interrupted_waits;
        }
    }
    done = true;
    sender.join();
    REQUIRE(interrupted_waits == 1);
}
#endif
