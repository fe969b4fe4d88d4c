// SPDX-License-Identifier: MIT
// Tests for aio::address, aio::socket and the loop's low-level socket calls (<aio/sock_ops.hpp>):
// echo over a socketpair, TCP on 127.0.0.1 and ::1 and a Unix socket path; a large sendall to a
// slow reader; refused and reset connections; cancellation and timeouts of blocked calls; 100
// concurrent connections. Loopback only; every test's main task runs under a 10 s wait_for
// (helpers/net.hpp), so a failing test ends instead of hanging; timing is asserted by order only.
#include "helpers/catch.hpp"

#include <aio/detail/poller.hpp>

#if AIO_POLLER_EPOLL
#include "helpers/net.hpp"

#include <aio/address.hpp>
#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio::detail::io_events;
using aio_test::echo_once;
using aio_test::errno_of;
using aio_test::exception_of;
using aio_test::listener_on;
using aio_test::recv_exactly;
using aio_test::run_bounded;
using aio_test::tcp_pair;

namespace {

aio::task<std::string> echo_over(aio::address where, std::string message) {
    auto [client, server] = co_await tcp_pair(where);
    auto echo = echo_once(client, server, std::move(message));  // no temporary inside co_await
    co_return co_await std::move(echo);
}

// Serves one connection: echoes until end of stream.
aio::task<void> echo_connection(aio::socket conn) {
    for (;;) {
        std::string data = co_await aio::sock_recv(conn, 4096);
        if (data.empty()) {
            co_return;
        }
        co_await aio::sock_sendall(conn, data);
    }
}

// Accepts `count` connections and echoes on each in its own task.
aio::task<void> echo_server(aio::socket& listener, int count) {
    std::vector<aio::task_handle<void>> handlers;
    for (int i = 0; i < count; ++i) {
        auto accepted = co_await aio::sock_accept(listener);
        handlers.push_back(aio::create_task(echo_connection(std::move(accepted.first))));
    }
    for (auto& h : handlers) {
        co_await h;
    }
}

aio::task<std::string> echo_client(aio::address to, std::string message) {
    aio::socket s(to.family(), SOCK_STREAM);
    co_await aio::sock_connect(s, to);
    co_await aio::sock_sendall(s, message);
    std::string reply = co_await recv_exactly(s, message.size());
    s.shutdown(SHUT_WR);
    co_return reply;
}

}  // namespace

// --- aio::address and aio::socket -------------------------------------------------------------

TEST_CASE("an address parses IPv4, IPv6 and Unix paths and prints them back", "[socket]") {
    const aio::address v4 = aio::address::parse("127.0.0.1", 8888);
    CHECK(v4.family() == AF_INET);
    CHECK(v4.host() == "127.0.0.1");
    CHECK(v4.port() == 8888);
    CHECK(v4.to_string() == "127.0.0.1:8888");
    const aio::address v6 = aio::address::parse("::1", 80);
    CHECK(v6.family() == AF_INET6);
    CHECK(v6.to_string() == "[::1]:80");
    const aio::address un = aio::address::unix_path("/tmp/x.sock");
    CHECK(un.family() == AF_UNIX);
    CHECK(un.path() == "/tmp/x.sock");
    CHECK(aio::address{}.family() == AF_UNSPEC);
    CHECK_THROWS_AS(aio::address::parse("localhost", 80), std::invalid_argument);
    CHECK_THROWS_AS(aio::address::ipv4("::1", 80), std::invalid_argument);
    CHECK_THROWS_AS(aio::address::unix_path(std::string(200, 'x')), std::invalid_argument);
}

TEST_CASE("a socket is non-blocking and close-on-exec, and close() is idempotent", "[socket]") {
    aio::socket s(AF_INET, SOCK_STREAM);
    REQUIRE(s.is_open());
    CHECK((::fcntl(s.fileno(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(s.fileno(), F_GETFD) & FD_CLOEXEC) != 0);
    aio::socket moved = std::move(s);
    CHECK_FALSE(s.is_open());  // NOLINT(bugprone-use-after-move): moved-from is closed
    CHECK(moved.is_open());
    moved.close();
    moved.close();
    CHECK(moved.fileno() == -1);
    CHECK_THROWS_AS(moved.listen(), std::system_error);
}

TEST_CASE("from_fd adopts an fd and makes it non-blocking, and detach gives it back", "[socket]") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    aio::socket s = aio::socket::from_fd(fd);
    CHECK(s.fileno() == fd);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK(s.detach() == fd);
    CHECK_FALSE(s.is_open());
    CHECK(::close(fd) == 0);  // still open: detach did not close it
}

TEST_CASE("binding an address in use is std::system_error EADDRINUSE", "[socket]") {
    aio::socket first = listener_on(aio::address::ipv4("127.0.0.1", 0));
    aio::socket second(AF_INET, SOCK_STREAM);
    try {
        second.bind(first.getsockname());
        FAIL("bind succeeded");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::address_in_use);
    }
}

// --- The loop's socket calls ------------------------------------------------------------------

TEST_CASE("sock_sendall and sock_recv echo a message over a socketpair", "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto echo = echo_once(a, b, "hello");
        co_return co_await std::move(echo);
    };
    CHECK(run_bounded(body()) == "hello");
}

TEST_CASE("echo over TCP on 127.0.0.1 with port 0", "[sock_ops]") {
    CHECK(run_bounded(echo_over(aio::address::ipv4("127.0.0.1", 0), "over tcp")) == "over tcp");
}

TEST_CASE("echo over TCP on ::1", "[sock_ops]") {
    CHECK(run_bounded(echo_over(aio::address::ipv6("::1", 0), "over ipv6")) == "over ipv6");
}

TEST_CASE("echo over a Unix socket path", "[sock_ops]") {
    const std::string path = "/tmp/aio_sock_ops_" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    auto body = [](std::string where) -> aio::task<std::string> {
        aio::socket listener(AF_UNIX, SOCK_STREAM);
        listener.bind(aio::address::unix_path(where));
        listener.listen();
        auto server = aio::create_task(echo_server(listener, 1));
        auto client = echo_client(aio::address::unix_path(where), "over unix");
        std::string reply = co_await std::move(client);
        co_await server;
        co_return reply;
    };
    const std::string reply = run_bounded(body(path));
    ::unlink(path.c_str());
    CHECK(reply == "over unix");
}

TEST_CASE("sock_recv returns an empty string at end of stream", "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        a.close();
        co_return co_await aio::sock_recv(b, 16);
    };
    CHECK(run_bounded(body()).empty());
}

TEST_CASE("sock_sendall of 1 MiB to a slow reader suspends the writer and loses nothing",
          "[sock_ops]") {
    auto body = []() -> aio::task<void> {
        auto [a, b] = aio::socket::pair();
        std::string big(1 << 20, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) {
            big[i] = static_cast<char>('a' + i % 26);
        }
        auto writer = aio::create_task(aio::sock_sendall(a, big));
        co_await aio::sleep(10ms);
        CHECK_FALSE(writer.done());  // the socket's buffer is far smaller: it waits
        CHECK(a.watch().waiting(io_events::writable));
        std::string got;
        std::vector<std::byte> buffer(4096);
        while (got.size() < big.size()) {
            const std::size_t n = co_await aio::sock_recv_into(b, buffer);
            REQUIRE(n > 0);
            got.append(reinterpret_cast<const char*>(buffer.data()), n);
            if (got.size() % (256 * 1024) < 4096) {
                co_await aio::sleep(1ms);  // slowly
            }
        }
        co_await writer;
        CHECK(got == big);
    };
    run_bounded(body());
}

TEST_CASE("connecting to a port nobody listens on is std::system_error ECONNREFUSED",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        aio::socket bound(AF_INET, SOCK_STREAM);  // bound but not listening: connects are refused
        bound.bind(aio::address::ipv4("127.0.0.1", 0));
        aio::socket s(AF_INET, SOCK_STREAM);
        auto connect = aio::sock_connect(s, bound.getsockname());
        co_return co_await exception_of(connect);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNREFUSED);
}

TEST_CASE("a peer that resets the connection makes a waiting sock_recv fail with ECONNRESET",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [client, server] = co_await tcp_pair(aio::address::ipv4("127.0.0.1", 0));
        auto reader = aio::create_task(aio::sock_recv(server, 16));
        co_await aio::sleep(1ms);
        const linger reset{1, 0};  // close sends RST
        ::setsockopt(client.fileno(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        client.close();
        co_return co_await exception_of(reader);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNRESET);
}

TEST_CASE("sock_sendall to a closed peer is EPIPE, not SIGPIPE", "[sock_ops]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [a, b] = aio::socket::pair();
        b.close();
        auto send = aio::sock_sendall(a, "nobody");
        co_return co_await exception_of(send);
    };
    CHECK(errno_of(run_bounded(body())) == EPIPE);  // the process is still alive
}

TEST_CASE("a cancelled sock_recv leaves the socket usable: a later recv gets the data",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        auto [client, server] = co_await tcp_pair(aio::address::ipv4("127.0.0.1", 0));
        auto reader = aio::create_task(aio::sock_recv(server, 16));
        co_await aio::sleep(1ms);
        reader.cancel();
        const std::exception_ptr error = co_await exception_of(reader);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        CHECK(server.watch().interest() == io_events::none);
        co_await aio::sock_sendall(client, "still there");
        co_return co_await recv_exactly(server, 11);
    };
    CHECK(run_bounded(body()) == "still there");
}

TEST_CASE("a cancelled sock_accept leaves the listener usable: a later accept gets the client",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        aio::socket listener = listener_on(aio::address::ipv4("127.0.0.1", 0));
        auto acceptor = aio::create_task(aio::sock_accept(listener));
        co_await aio::sleep(1ms);
        acceptor.cancel();
        const std::exception_ptr error = co_await exception_of(acceptor);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        CHECK(listener.watch().interest() == io_events::none);
        auto server = aio::create_task(echo_server(listener, 1));
        auto client = echo_client(listener.getsockname(), "accepted");
        std::string reply = co_await std::move(client);
        co_await server;
        co_return reply;
    };
    CHECK(run_bounded(body()) == "accepted");
}

TEST_CASE("a cancelled sock_sendall drops the writable interest, and a later sendall works",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        const std::string big(1 << 20, 'x');
        auto writer = aio::create_task(aio::sock_sendall(a, big));
        co_await aio::sleep(1ms);
        REQUIRE(a.watch().waiting(io_events::writable));
        writer.cancel();
        const std::exception_ptr error = co_await exception_of(writer);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        CHECK(a.watch().interest() == io_events::none);
        std::vector<std::byte> sink(1 << 16);
        std::size_t drained = 0;
        while (drained < big.size()) {  // what the cancelled sendall sent, at most all of it
            const ssize_t n = ::recv(b.fileno(), sink.data(), sink.size(), 0);
            if (n <= 0) {
                break;  // EAGAIN: all that was sent has been read
            }
            drained += static_cast<std::size_t>(n);
        }
        CHECK(drained < big.size());  // the cancel stopped it part-way
        co_await aio::sock_sendall(a, "after");
        co_return co_await recv_exactly(b, 5);
    };
    CHECK(run_bounded(body()) == "after");
}

TEST_CASE("aio::run cancels a task left waiting on a socket and returns", "[sock_ops]") {
    auto [a, b] = aio::socket::pair();
    auto body = [](aio::socket& s) -> aio::task<int> {
        (void)aio::create_task(aio::sock_recv(s, 16));  // never gets data
        co_await aio::sleep(1ms);
        co_return 7;
    };
    CHECK(aio::run(body(b)) == 7);
    CHECK(b.watch().interest() == io_events::none);  // the leftover's cancel dropped it
}

TEST_CASE("wait_for around a sock_recv with no data times out, and the socket stays usable",
          "[sock_ops]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto recv = aio::sock_recv(b, 16);
        auto timed = aio::wait_for(std::move(recv), 20ms);
        const std::exception_ptr error = co_await exception_of(timed);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::timeout_error);
        co_await aio::sock_sendall(a, "late");
        co_return co_await aio::sock_recv(b, 16);
    };
    CHECK(run_bounded(body()) == "late");
}

TEST_CASE("100 concurrent connections to one server each get their own echo", "[sock_ops]") {
    auto body = []() -> aio::task<int> {
        aio::socket listener = listener_on(aio::address::ipv4("127.0.0.1", 0));
        const aio::address to = listener.getsockname();
        constexpr int clients = 100;
        auto server = aio::create_task(echo_server(listener, clients));
        std::vector<aio::task_handle<std::string>> replies;
        for (int i = 0; i < clients; ++i) {
            replies.push_back(aio::create_task(echo_client(to, "client " + std::to_string(i))));
        }
        int right = 0;
        for (int i = 0; i < clients; ++i) {
            const std::string reply = co_await replies[static_cast<std::size_t>(i)];
            right += reply == "client " + std::to_string(i) ? 1 : 0;
        }
        co_await server;
        co_return right;
    };
    CHECK(run_bounded(body()) == 100);
}

#endif  // AIO_POLLER_EPOLL (fd_watch_tests.cpp tests the portable poller's error)
