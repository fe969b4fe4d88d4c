// SPDX-License-Identifier: MIT
// Tests for the streams (<aio/streams.hpp>, <aio/server.hpp>, <aio/getaddrinfo.hpp>):
// getaddrinfo, open_connection / start_server echo round trips of 0 B to 1 MiB, 1,000
// concurrent clients, a server closed with clients connected, a handler's exception, cancelled
// serve_forever / read / drain, EMFILE on accept (in a forked child), connection refused, IPv6
// and Unix sockets. Loopback only; every test's main task runs under a 10 s wait_for
// (helpers/net.hpp); timing is asserted by order only.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"

#include <aio/detail/poller.hpp>

#if AIO_POLLER_EPOLL
#include "helpers/net.hpp"

#include <aio/getaddrinfo.hpp>
#include <aio/server.hpp>
#include <aio/streams.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using aio_test::errno_of;
using aio_test::exception_of;
using aio_test::run_bounded;

namespace {

// The asyncio docs' echo handler, until end of stream.
aio::task<void> echo(aio::stream_reader& reader, aio::stream_writer& writer) {
    for (;;) {
        std::string data = co_await reader.read(64 * 1024);
        if (data.empty()) {
            co_return;
        }
        writer.write(data);
        co_await writer.drain();
    }
}

// Echoes lines; the line "boom\n" throws.
aio::task<void> echo_lines_or_throw(aio::stream_reader& reader, aio::stream_writer& writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) {
            co_return;
        }
        if (line == "boom\n") {
            throw std::runtime_error("the handler failed on purpose");
        }
        writer.write(line);
        co_await writer.drain();
    }
}

// Sends `message`, half-closes, and returns everything the server sends back.
aio::task<std::string> echo_through(std::string host, std::uint16_t port, std::string message) {
    auto [reader, writer] = co_await aio::open_connection(host, port);
    writer.write(message);
    writer.write_eof();
    co_await writer.drain();
    std::string back = co_await reader.read();
    writer.close();
    co_await writer.wait_closed();
    co_return back;
}

std::uint16_t port_of(const aio::server& s) {
    REQUIRE_FALSE(s.addresses().empty());
    return s.addresses()[0].port();
}

}  // namespace

TEST_CASE("getaddrinfo answers a numeric host at once and resolves localhost on a thread",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        auto numeric = aio::getaddrinfo("::1", 8888);
        const std::vector<aio::address_info> one = co_await std::move(numeric);
        REQUIRE(one.size() == 1);
        CHECK(one[0].address == aio::address::ipv6("::1", 8888));
        auto named = aio::getaddrinfo("localhost", 8888, AF_INET);
        const std::vector<aio::address_info> local = co_await std::move(named);
        REQUIRE_FALSE(local.empty());
        CHECK(local[0].address == aio::address::ipv4("127.0.0.1", 8888));
    };
    run_bounded(body());
}

TEST_CASE("getaddrinfo's failure is gai_error with gai_strerror's message", "[streams]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto lookup = aio::getaddrinfo("not a host", 80, AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST);
        co_return co_await exception_of(lookup);
    };
    const std::exception_ptr error = run_bounded(body());
    REQUIRE(error != nullptr);
    try {
        std::rethrow_exception(error);
    } catch (const aio::gai_error& e) {
        CHECK(e.code().value() == EAI_NONAME);
        CHECK(e.code().message() == ::gai_strerror(EAI_NONAME));
        CHECK(std::string(e.what()).find("not a host") != std::string::npos);
    }
}

TEST_CASE("echo round trips of 0 B to 1 MiB through open_connection and start_server",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        const std::uint16_t port = port_of(server);
        CHECK(port != 0);
        for (const std::size_t size : {0, 1, 100, 64 * 1024, 64 * 1024 + 1, 1024 * 1024}) {
            std::string message(size, '\0');
            for (std::size_t i = 0; i < size; ++i) {
                message[i] = static_cast<char>('a' + i % 26);
            }
            auto trip = echo_through("127.0.0.1", port, message);
            const std::string back = co_await std::move(trip);
            CHECK(back == message);
        }
        server.close();
        co_await server.wait_closed();
    };
    run_bounded(body());
}

TEST_CASE("start_server takes a move-only handler and keeps it for every connection", "[streams]") {
    struct prefixed_echo {
        std::unique_ptr<std::string> m_prefix;  // move-only
        aio::task<void> operator()(aio::stream_reader& reader, aio::stream_writer& writer) const {
            std::string line = co_await reader.readline();
            writer.write(*m_prefix + line);
            co_await writer.drain();
        }
    };
    auto body = []() -> aio::task<std::string> {
        prefixed_echo handler{std::make_unique<std::string>("echo: ")};
        aio::server server = co_await aio::start_server(std::move(handler), "127.0.0.1", 0);
        std::string answers;
        for (const char* line : {"one\n", "two\n"}) {
            auto trip = echo_through("127.0.0.1", port_of(server), line);
            answers += co_await std::move(trip);
        }
        server.close();
        co_await server.wait_closed();
        co_return answers;
    };
    CHECK(run_bounded(body()) == "echo: one\necho: two\n");
}

TEST_CASE("the writer knows its peer and local address, and the server its bound address",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        CHECK(writer.peername() == server.addresses()[0]);
        CHECK(writer.sockname().host() == "127.0.0.1");
        CHECK(writer.get_socket().get_option(IPPROTO_TCP, TCP_NODELAY) != 0);
        writer.close();
        co_await writer.wait_closed();
        server.close();
        co_await server.wait_closed();
    };
    run_bounded(body());
}

TEST_CASE("open_connection tries each address of a name in turn: localhost", "[streams]") {
    auto body = []() -> aio::task<std::string> {
        // Only 127.0.0.1 listens: a ::1 that localhost may resolve to first is refused.
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        auto trip = echo_through("localhost", port_of(server), "hello");
        co_return co_await std::move(trip);
    };
    CHECK(run_bounded(body()) == "hello");
}

TEST_CASE("open_connection to a port nobody listens on is std::system_error ECONNREFUSED",
          "[streams]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        aio::socket bound(AF_INET, SOCK_STREAM);  // holds a free port, does not listen
        bound.bind(aio::address::ipv4("127.0.0.1", 0));
        auto connecting = aio::open_connection("127.0.0.1", bound.getsockname().port());
        co_return co_await exception_of(connecting);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNREFUSED);
}

TEST_CASE("echo over IPv6 ::1 and over a Unix domain socket path", "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server v6 = co_await aio::start_server(echo, "::1", 0);
        CHECK(v6.addresses()[0].family() == AF_INET6);
        auto trip = echo_through("::1", port_of(v6), "over ipv6");
        const std::string back6 = co_await std::move(trip);
        CHECK(back6 == "over ipv6");

        const std::string path = "/tmp/aio_streams_test_" + std::to_string(::getpid()) + ".sock";
        aio::server unix_server = co_await aio::start_unix_server(echo, path);
        CHECK(unix_server.addresses()[0].path() == path);
        auto [reader, writer] = co_await aio::open_unix_connection(path);
        writer.write("over a path\n");
        const std::string line = co_await reader.readline();
        CHECK(line == "over a path\n");
        writer.close();
        co_await writer.wait_closed();
        unix_server.close();
        co_await unix_server.wait_closed();
        CHECK(::access(path.c_str(), F_OK) != 0);  // close() unlinked it
    };
    run_bounded(body());
}

TEST_CASE("start_server on an address in use is std::system_error EADDRINUSE naming it",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server first = co_await aio::start_server(echo, "127.0.0.1", 0);
        const std::uint16_t port = port_of(first);
        auto second = aio::start_server(echo, "127.0.0.1", port);
        const std::exception_ptr error = co_await exception_of(second);
        CHECK(errno_of(error) == EADDRINUSE);
        try {
            std::rethrow_exception(error);
        } catch (const std::system_error& e) {
            CHECK(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)) !=
                  std::string::npos);
        }
        auto trip = echo_through("127.0.0.1", port, "first still serves");
        const std::string back = co_await std::move(trip);
        CHECK(back == "first still serves");
    };
    run_bounded(body());
}

TEST_CASE("a second serve_forever at once, or one on a closed server, is invalid_state_error",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        auto serving = aio::create_task(server.serve_forever());
        co_await aio::sleep(0ms);
        auto again = server.serve_forever();
        const std::exception_ptr twice = co_await exception_of(again);
        CHECK_THROWS_AS(std::rethrow_exception(twice), aio::invalid_state_error);
        server.close();
        co_await serving;  // returns once the server is closed
        auto closed = server.serve_forever();
        const std::exception_ptr after = co_await exception_of(closed);
        CHECK_THROWS_AS(std::rethrow_exception(after), aio::invalid_state_error);
    };
    run_bounded(body());
}

TEST_CASE("one server serves 1000 concurrent clients", "[streams]") {
    rlimit files{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
    if (files.rlim_cur < 2200 && files.rlim_max >= 2200) {
        files.rlim_cur = 2200;  // two fds per connection, a client and a server side
        REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);
    }
    if (files.rlim_cur < 2200) {
        WARN("RLIMIT_NOFILE's hard limit is below 2200: skipped");
        return;
    }
    auto body = []() -> aio::task<std::size_t> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0,
                                                        aio::stream_reader::default_limit, 1024);
        const std::uint16_t port = port_of(server);
        std::vector<aio::task_handle<std::string>> clients;
        for (int i = 0; i < 1000; ++i) {
            clients.push_back(aio::create_task(echo_through("127.0.0.1", port, std::to_string(i))));
        }
        std::size_t right = 0;
        for (int i = 0; i < 1000; ++i) {
            const std::string back = co_await clients[static_cast<std::size_t>(i)];
            right += back == std::to_string(i) ? 1 : 0;
        }
        server.close();
        co_await server.wait_closed();
        co_return right;
    };
    CHECK(run_bounded(body()) == 1000);
}

TEST_CASE("server close stops listening, its connected clients go on, wait_closed waits for them",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        const std::uint16_t port = port_of(server);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
        writer.write("before\n");
        const std::string before = co_await reader.readline();
        CHECK(before == "before\n");

        server.close();
        CHECK_FALSE(server.is_serving());
        auto closed = aio::create_task(server.wait_closed());
        auto refused = aio::open_connection("127.0.0.1", port);
        const std::exception_ptr error = co_await exception_of(refused);
        CHECK(errno_of(error) == ECONNREFUSED);

        writer.write("after\n");
        const std::string after = co_await reader.readline();
        CHECK(after == "after\n");
        co_await aio::sleep(5ms);
        CHECK_FALSE(closed.done());  // its handler still runs
        CHECK(server.connections() == 1);
        writer.close();
        co_await closed;
        CHECK(server.connections() == 0);
    };
    run_bounded(body());
}

TEST_CASE("close_clients ends the connections that are left: the clients read end of stream",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        const std::uint16_t port = port_of(server);
        auto [reader1, writer1] = co_await aio::open_connection("127.0.0.1", port);
        auto [reader2, writer2] = co_await aio::open_connection("127.0.0.1", port);
        writer1.write("one\n");
        writer2.write("two\n");
        const std::string one = co_await reader1.readline();
        const std::string two = co_await reader2.readline();
        CHECK(one + two == "one\ntwo\n");
        CHECK(server.connections() == 2);
        server.close();
        server.close_clients();  // the handlers wait in read: they see end of stream
        co_await server.wait_closed();
        CHECK(server.connections() == 0);
        const std::string end1 = co_await reader1.read();
        const std::string end2 = co_await reader2.read();
        CHECK(end1.empty());
        CHECK(end2.empty());
    };
    run_bounded(body());
}

TEST_CASE("abort_clients wakes a handler waiting in drain with ECONNABORTED", "[streams]") {
    auto body = []() -> aio::task<void> {
        std::exception_ptr drained;
        auto flood = [&drained](aio::stream_reader&,
                                aio::stream_writer& writer) -> aio::task<void> {
            writer.write(std::string(4 * 1024 * 1024, 'f'));  // the client does not read
            auto draining = writer.drain();
            drained = co_await exception_of(draining);
        };
        aio::server server = co_await aio::start_server(flood, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        for (int i = 0; i < 1000 && server.connections() == 0; ++i) {
            co_await aio::sleep(1ms);
        }
        co_await aio::sleep(5ms);  // the handler waits in drain
        server.close();
        server.abort_clients();
        co_await server.wait_closed();
        CHECK(errno_of(drained) == ECONNABORTED);
    };
    run_bounded(body());
}

TEST_CASE("a handler's exception closes only its own connection and the server keeps serving",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo_lines_or_throw, "127.0.0.1", 0);
        const std::uint16_t port = port_of(server);
        auto [reader1, writer1] = co_await aio::open_connection("127.0.0.1", port);
        auto [reader2, writer2] = co_await aio::open_connection("127.0.0.1", port);
        writer2.write("first\n");
        const std::string first = co_await reader2.readline();
        CHECK(first == "first\n");

        writer1.write("boom\n");  // reported on stderr
        const std::string end = co_await reader1.read();
        CHECK(end.empty());  // its connection was closed

        writer2.write("still here\n");
        const std::string second = co_await reader2.readline();
        CHECK(second == "still here\n");
        auto trip = echo_through("127.0.0.1", port, "new\n");
        const std::string third = co_await std::move(trip);
        CHECK(third == "new\n");
        writer2.close();
        server.close();
        co_await server.wait_closed();
    };
    capture_stderr captured;
    run_bounded(body());
    const std::string reported = captured.stop();
    CHECK(reported.find("unhandled exception in a start_server handler") != std::string::npos);
    CHECK(reported.find("the handler failed on purpose") != std::string::npos);
}

TEST_CASE("cancelling serve_forever closes the server", "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        const std::uint16_t port = port_of(server);
        auto serving = aio::create_task(server.serve_forever());
        auto trip = echo_through("127.0.0.1", port, "served");
        const std::string back = co_await std::move(trip);
        CHECK(back == "served");
        CHECK_FALSE(serving.done());
        serving.cancel();
        const std::exception_ptr error = co_await exception_of(serving);
        CHECK(error != nullptr);
        CHECK_FALSE(server.is_serving());
        co_await server.wait_closed();
        auto refused = aio::open_connection("127.0.0.1", port);
        const std::exception_ptr refusal = co_await exception_of(refused);
        CHECK(errno_of(refusal) == ECONNREFUSED);
    };
    run_bounded(body());
}

TEST_CASE("a cancelled read leaves the stream usable: the next read gets the data", "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        auto timed = aio::wait_for(reader.readexactly(4), 20ms);  // nothing comes
        const std::exception_ptr error = co_await exception_of(timed);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::timeout_error);
        writer.write("data");
        const std::string got = co_await reader.readexactly(4);
        CHECK(got == "data");
        writer.close();
        server.close();
        co_await server.wait_closed();
    };
    run_bounded(body());
}

TEST_CASE("a cancelled drain leaves the stream usable: every byte arrives once, in order",
          "[streams]") {
    auto body = []() -> aio::task<void> {
        aio::event go;
        std::string received;
        auto slow = [&go, &received](aio::stream_reader& reader,
                                     aio::stream_writer&) -> aio::task<void> {
            co_await go.wait();  // reads nothing until told to
            received = co_await reader.read();
        };
        aio::server server = co_await aio::start_server(slow, "127.0.0.1", 0);
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port_of(server));
        std::string big(4 * 1024 * 1024, '\0');
        for (std::size_t i = 0; i < big.size(); ++i) {
            big[i] = static_cast<char>(i % 251);
        }
        writer.write(big);
        auto timed = aio::wait_for(writer.drain(), 20ms);  // the server does not read
        const std::exception_ptr error = co_await exception_of(timed);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::timeout_error);
        go.set();
        writer.write("tail");
        writer.close();
        co_await writer.wait_closed();
        server.close();
        co_await server.wait_closed();
        CHECK(received.size() == big.size() + 4);
        CHECK(received == big + "tail");
    };
    run_bounded(body());
}

namespace {

// In a forked child: the fd table is full when a connection comes, so accept fails with
// EMFILE; the server must back off, survive, and serve the connection once fds are free.
// Returns the child's exit status: 0 when every step held.
int emfile_child() {
    auto body = []() -> aio::task<int> {
        aio::server server = co_await aio::start_server(echo, "127.0.0.1", 0);
        server.set_accept_retry_delay(100ms);
        const std::uint16_t port = port_of(server);
        // Every path of the steps below runs once first, while fds are free: UBSan's vptr check
        // opens a pipe the first time it meets a type, and with no fd left it reports a false
        // "invalid vptr".
        auto warm = echo_through("127.0.0.1", port, "warm");
        if (co_await std::move(warm) != "warm") {
            co_return 9;
        }
        {
            aio::socket bound(AF_INET, SOCK_STREAM);  // refused: the error paths
            bound.bind(aio::address::ipv4("127.0.0.1", 0));
            auto refused = aio::open_connection("127.0.0.1", bound.getsockname().port());
            (void)co_await exception_of(refused);
            auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
            auto timed = aio::wait_for(reader.readline(), 1ms);  // a timeout
            (void)co_await exception_of(timed);
        }
        for (int i = 0; i < 1000 && server.connections() != 0; ++i) {
            co_await aio::sleep(1ms);  // the server side of those connections closes its fds
        }
        rlimit files{};
        ::getrlimit(RLIMIT_NOFILE, &files);
        files.rlim_cur = 64;
        if (::setrlimit(RLIMIT_NOFILE, &files) != 0) {
            co_return 10;
        }
        std::vector<int> fillers;
        for (int fd = ::dup(0); fd >= 0; fd = ::dup(0)) {
            fillers.push_back(fd);
        }
        if (errno != EMFILE || fillers.empty()) {
            co_return 11;
        }
        ::close(fillers.back());  // room for the client's socket, none for the accepted one
        fillers.pop_back();
        auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
        writer.write("ping\n");
        auto early = aio::wait_for(reader.readline(), 300ms);  // accept fails meanwhile
        const std::exception_ptr unanswered = co_await exception_of(early);
        if (unanswered == nullptr) {
            co_return 12;
        }
        for (const int fd : fillers) {
            ::close(fd);
        }
        const std::string line = co_await reader.readline();
        if (line != "ping\n") {
            co_return 13;
        }
        auto trip = echo_through("127.0.0.1", port, "again");
        const std::string again = co_await std::move(trip);
        co_return again == "again" ? 0 : 14;
    };
    try {
        return run_bounded(body());
    } catch (...) {
        return 20;
    }
}

}  // namespace

TEST_CASE("EMFILE on accept: the server backs off, survives and serves once fds are free",
          "[streams]") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::_exit(emfile_child());
    }
    int status = 0;
    pid_t done = 0;
    for (int waited_ms = 0; waited_ms < 60000 && done == 0; waited_ms += 10) {
        done = ::waitpid(child, &status, WNOHANG);
        if (done == 0) {
            ::usleep(10000);
        }
    }
    if (done == 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        FAIL("the child did not finish within 60 s");
    }
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

#endif  // AIO_POLLER_EPOLL
