// SPDX-License-Identifier: MIT
// Tests for fd readiness on the loop (<aio/detail/fd_watch.hpp>): a task parks on an fd, the loop
// dispatches the poller's reports, the fd stays registered across waits, cancellation removes
// the interest, and virtual time treats a waiting fd as outside work. Socketpairs only; every
// test's main task runs under a 10 s wait_for (helpers/net.hpp), so a failing test ends instead
// of hanging; timing is asserted by order only.
#include "helpers/catch.hpp"
#include "helpers/net.hpp"

#include <aio/aio.hpp>
#include <aio/detail/poller.hpp>

#if AIO_POLLER_EPOLL
#include <aio/address.hpp>
#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::detail::io_events;
using aio_test::errno_of;
using aio_test::exception_of;
using aio_test::run_bounded;
using aio_test::send_after;

// --- Readiness on the loop ------------------------------------------------------------------

TEST_CASE("wait_readable parks the task until data arrives on the fd", "[fd_watch]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto sender = aio::create_task(send_after(a, 5ms, "ping"));
        co_await aio::detail::wait_readable(b.watch());
        CHECK(sender.done());  // it could only have ended the wait by sending
        co_return co_await aio::sock_recv(b, 16);
    };
    CHECK(run_bounded(body()) == "ping");
}

TEST_CASE("an fd stays registered across waits and leaves the poller when the socket closes",
          "[fd_watch]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        for (int i = 0; i < 3; ++i) {
            auto sender = aio::create_task(send_after(a, 1ms, "x"));
            const std::string got = co_await aio::sock_recv(b, 16);
            CHECK(got == "x");
            co_await sender;
            CHECK(b.watch().registered());
            CHECK(b.watch().interest() == io_events::readable);  // kept, not re-added
        }
        b.close();
        CHECK_FALSE(b.is_open());
    };
    run_bounded(body());
}

TEST_CASE("cancelling a task waiting on an fd removes the fd's interest at once", "[fd_watch]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        auto reader = aio::create_task(aio::sock_recv(b, 16));
        co_await aio::sleep(1ms);
        REQUIRE(b.watch().waiting(io_events::readable));
        reader.cancel();
        CHECK_FALSE(b.watch().waiting(io_events::readable));
        CHECK(b.watch().interest() == io_events::none);
        const std::exception_ptr error = co_await exception_of(reader);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        // The socket is still usable: a later recv gets what is sent next.
        co_await aio::sock_sendall(a, "after");
        const std::string got = co_await aio::sock_recv(b, 16);
        CHECK(got == "after");
    };
    run_bounded(body());
}

TEST_CASE("a loop that always has work ready still hears its fds", "[fd_watch]") {
    auto body = []() -> aio::task<int> {
        auto [a, b] = aio::socket::pair();
        bool received = false;
        auto reader = aio::create_task([](aio::socket& s, bool& flag) -> aio::task<void> {
            (void)co_await aio::sock_recv(s, 16);
            flag = true;
        }(b, received));
        co_await aio::sleep(0ms);  // the reader parks
        co_await aio::sock_sendall(a, "x");
        int yields = 0;
        while (!received && yields < 100000) {
            co_await aio::sleep(0ms);  // never idle: the loop only polls its fds
            ++yields;
        }
        co_await reader;
        co_return yields;
    };
    CHECK(run_bounded(body()) < 100000);
}

TEST_CASE("a loop whose only task waits on an fd blocks instead of spinning (a thread writes it)",
          "[fd_watch][real_time]") {
    // 200 ms of waiting for data that a thread sends then must cost (almost) no CPU.
    auto [a, b] = aio::socket::pair();
    std::thread writer([fd = a.fileno()] {  // an fd: clang 14 cannot capture a binding
        std::this_thread::sleep_for(200ms);
        (void)::send(fd, "x", 1, MSG_NOSIGNAL);
    });
    const std::clock_t cpu_start = std::clock();
    const std::string got = aio::run(aio::sock_recv(b, 16));
    const double cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    writer.join();
    CAPTURE(cpu_seconds);
    CHECK(got == "x");
    CHECK(cpu_seconds < 0.020);
}

TEST_CASE("two tasks reading one socket at once: the second is invalid_state_error", "[fd_watch]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        auto first = aio::create_task(aio::sock_recv(b, 16));
        co_await aio::sleep(1ms);
        auto second = aio::sock_recv(b, 16);
        const std::exception_ptr error = co_await exception_of(second);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::invalid_state_error);
        co_await aio::sock_sendall(a, "one");
        const std::string got = co_await first;
        CHECK(got == "one");
    };
    run_bounded(body());
}

TEST_CASE("closing a socket wakes the task waiting on it with EBADF", "[fd_watch]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        auto reader = aio::create_task(aio::sock_recv(b, 16));
        co_await aio::sleep(1ms);
        b.close();
        const std::exception_ptr error = co_await exception_of(reader);
        CHECK(errno_of(error) == EBADF);
    };
    run_bounded(body());
}

TEST_CASE("a socket registered with one loop cannot wait on another: event_loop_error",
          "[fd_watch]") {
    auto [a, b] = aio::socket::pair();
    aio::event_loop first;
    auto wait_once = [](aio::socket& s, aio::socket& peer) -> aio::task<void> {
        co_await aio::sock_sendall(peer, "x");
        co_await aio::detail::wait_readable(s.watch());
        (void)co_await aio::sock_recv(s, 16);
    };
    first.run_until_complete(wait_once(b, a));
    CHECK_THROWS_AS(aio::run(wait_once(b, a)), aio::event_loop_error);
    first.close();  // the watch is detached: b can now wait on another loop
    aio::run(wait_once(b, a));
}

TEST_CASE("a loop closed while a task waits on an fd leaves the socket safe to close",
          "[fd_watch]") {
    auto [a, b] = aio::socket::pair();
    {
        aio::event_loop loop;
        auto reader = loop.create_task(aio::sock_recv(b, 16));
        loop.run_until_complete([]() -> aio::task<void> { co_await aio::sleep(1ms); }());
        CHECK_FALSE(reader.done());
    }  // the loop closes with the reader parked; the reader's handle outlives it
    b.close();
    CHECK_FALSE(b.is_open());
}

TEST_CASE("virtual time does not autojump past a task waiting on an fd (a thread writes it)",
          "[fd_watch][real_time]") {
    auto [a, b] = aio::socket::pair();
    std::thread writer([fd = a.fileno()] {  // an fd: clang 14 cannot capture a binding
        std::this_thread::sleep_for(20ms);
        (void)::send(fd, "late", 4, MSG_NOSIGNAL);
    });
    auto body = [](aio::socket& s) -> aio::task<std::chrono::steady_clock::duration> {
        aio::event_loop& loop = aio::get_running_loop();
        const auto start = loop.time();
        auto recv = aio::sock_recv(s, 16);
        auto timed = aio::wait_for(std::move(recv), 1h);
        std::string got = co_await std::move(timed);  // no autojump to the 1 h
        CHECK(got == "late");
        co_return loop.time() - start;
    };
    const auto elapsed = aio::run(body(b), aio::virtual_time);
    writer.join();
    CHECK(elapsed < 1h);
}

TEST_CASE("virtual time reports no deadlock while a task waits on an fd (a thread writes it)",
          "[fd_watch][real_time]") {
    auto [a, b] = aio::socket::pair();
    std::thread writer([fd = a.fileno()] {  // an fd: clang 14 cannot capture a binding
        std::this_thread::sleep_for(20ms);
        (void)::send(fd, "x", 1, MSG_NOSIGNAL);
    });
    CHECK(aio::run(aio::sock_recv(b, 16), aio::virtual_time) == "x");
    writer.join();
}

#else  // the portable poller

#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>

#include <string>
#include <system_error>

TEST_CASE("with the portable poller, a socket call that must wait is a clear std::system_error",
          "[fd_watch]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        co_return co_await aio::sock_recv(b, 16);  // nothing to read: it would wait on the fd
    };
    CHECK_THROWS_AS(aio_test::run_bounded(body()), std::system_error);
}

#endif
