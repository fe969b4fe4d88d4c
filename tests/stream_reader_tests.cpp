// SPDX-License-Identifier: MIT
// Tests for aio::stream_reader (<aio/stream_reader.hpp>): read, readexactly, readuntil,
// readline and at_eof over a socketpair or TCP on 127.0.0.1, asyncio's StreamReader semantics
// (ported cases name the CPython test in test_asyncio/test_streams.py). Every test's main task
// runs under a 10 s wait_for (helpers/net.hpp); timing is asserted by order only.
#include "helpers/catch.hpp"

#include <aio/detail/poller.hpp>

#if AIO_POLLER_EPOLL
#include "helpers/net.hpp"

#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>
#include <aio/stream_reader.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <sys/socket.h>

using namespace std::chrono_literals;
using aio_test::errno_of;
using aio_test::exception_of;
using aio_test::run_bounded;

namespace {

// Sends `data` one byte at a time, yielding between bytes, then closes `s` if asked.
aio::task<void> trickle(aio::socket& s, std::string data, bool close_after) {
    for (const char c : data) {
        co_await aio::sock_sendall(s, std::string_view(&c, 1));
        co_await aio::sleep(0ms);
    }
    if (close_after) {
        s.shutdown(SHUT_WR);
    }
}

}  // namespace

// test_streams.py: test_readexactly
TEST_CASE("readexactly gathers its bytes across many one-byte writes", "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        auto writer = aio::create_task(trickle(a, "0123456789abcdef", false));
        std::string first = co_await reader.readexactly(10);
        std::string second = co_await reader.readexactly(6);
        co_await writer;
        co_return first + "|" + second;
    };
    CHECK(run_bounded(body()) == "0123456789|abcdef");
}

// test_streams.py: test_readexactly_eof
TEST_CASE("readexactly at end of stream is incomplete_read_error with the partial data",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        auto writer = aio::create_task(trickle(a, "short", true));
        auto read = reader.readexactly(10);
        std::exception_ptr error = co_await exception_of(read);
        co_await writer;
        CHECK(reader.at_eof());
        co_return error;
    };
    const std::exception_ptr error = run_bounded(body());
    try {
        std::rethrow_exception(error);
    } catch (const aio::incomplete_read_error& e) {
        CHECK(e.partial() == "short");
        CHECK(e.expected() == std::optional<std::size_t>(10));
    } catch (...) {
        FAIL("not an incomplete_read_error");
    }
}

// test_streams.py: test_readuntil_separator, test_readuntil_multi_chunks
TEST_CASE("readuntil returns up to and including the separator, across chunks", "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        auto writer = aio::create_task(trickle(a, "lineAAA\r\nlineBBB\r\n", false));
        std::string first = co_await reader.readuntil("\r\n");
        std::string second = co_await reader.readuntil("\r\n");
        co_await writer;
        co_return first + second;
    };
    CHECK(run_bounded(body()) == "lineAAA\r\nlineBBB\r\n");
}

// test_streams.py: test_readuntil_limit_found_sep
TEST_CASE("readuntil past the limit is limit_overrun_error and the data stays in the buffer",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b, 8);
        co_await aio::sock_sendall(a, "0123456789\nrest\n");
        auto until = reader.readuntil("\n");
        const std::exception_ptr error = co_await exception_of(until);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::limit_overrun_error);
        co_return co_await reader.readexactly(11);  // nothing was lost
    };
    CHECK(run_bounded(body()) == "0123456789\n");
}

TEST_CASE("readuntil with no separator within the limit reports it without waiting for more",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::size_t> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b, 4);
        co_await aio::sock_sendall(a, "abcdefgh");  // no separator at all
        auto until = reader.readuntil("\n");
        const std::exception_ptr error = co_await exception_of(until);
        try {
            std::rethrow_exception(error);
        } catch (const aio::limit_overrun_error& e) {
            co_return e.consumed();
        } catch (...) {
        }
        co_return 0;
    };
    CHECK(run_bounded(body()) == 8);  // asyncio's offset: 8 bytes + 1 - the separator's 1
}

// test_streams.py: test_readline_eof, test_readline_read_byte_count
TEST_CASE("readline returns lines, then the rest without a newline, then an empty string",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        co_await aio::sock_sendall(a, "one\ntwo\nthree");
        a.shutdown(SHUT_WR);
        std::string all;
        for (int i = 0; i < 4; ++i) {
            const std::string line = co_await reader.readline();  // no temporary in co_await
            all += "[" + line + "]";
        }
        CHECK(reader.at_eof());
        co_return all;
    };
    CHECK(run_bounded(body()) == "[one\n][two\n][three][]");
}

// test_streams.py: test_readline_limit_with_existing_data
TEST_CASE("readline of a line longer than the limit is length_error and drops that line",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b, 4);
        co_await aio::sock_sendall(a, "toolong\nok\n");
        auto line = reader.readline();
        const std::exception_ptr error = co_await exception_of(line);
        CHECK_THROWS_AS(std::rethrow_exception(error), std::length_error);
        co_return co_await reader.readline();
    };
    CHECK(run_bounded(body()) == "ok\n");
}

// test_streams.py: test_read_zero, test_read, test_read_eof
TEST_CASE("read(n) returns what is there, read() everything until end of stream",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        co_await aio::sock_sendall(a, "hello world");
        std::string zero = co_await reader.read(0);
        CHECK(zero.empty());
        std::string first = co_await reader.read(5);
        co_await aio::sock_sendall(a, "!");
        a.close();
        std::string rest = co_await reader.read();
        CHECK(reader.at_eof());
        co_return first + "|" + rest;
    };
    CHECK(run_bounded(body()) == "hello| world!");
}

TEST_CASE("a read that waited on an empty buffer keeps what it did not return for the next reads",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        auto [c, d] = aio::socket::pair();
        aio::stream_reader reader(b);
        aio::stream_reader other(d);  // a second reader on the thread: the scratch is shared
        auto sending = [](aio::socket& s, aio::socket& t) -> aio::task<void> {
            co_await aio::sleep(1ms);
            co_await aio::sock_sendall(s, "abcdefgh");
            co_await aio::sock_sendall(t, "12345");
        };
        auto sender = aio::create_task(sending(a, c));
        std::string first = co_await reader.read(3);
        std::string other_first = co_await other.read(2);
        CHECK(reader.size() == 5);
        std::string rest = co_await reader.readexactly(5);
        std::string other_rest = co_await other.readexactly(3);
        co_await sender;
        co_return first + "|" + rest + "|" + other_first + "|" + other_rest;
    };
    CHECK(run_bounded(body()) == "abc|defgh|12|345");
}

TEST_CASE("a peer reset while a reader waits is std::system_error ECONNRESET", "[stream_reader]") {
    auto body = []() -> aio::task<std::exception_ptr> {
        auto [client, server] = co_await aio_test::tcp_pair(aio::address::ipv4("127.0.0.1", 0));
        aio::stream_reader reader(server);
        co_await aio::sock_sendall(client, "part");
        auto read = aio::create_task(reader.readexactly(100));
        co_await aio::sleep(1ms);
        const linger reset{1, 0};
        ::setsockopt(client.fileno(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        client.close();
        co_return co_await exception_of(read);
    };
    CHECK(errno_of(run_bounded(body())) == ECONNRESET);
}

TEST_CASE("a cancelled readexactly keeps what it buffered: the next read gets it",
          "[stream_reader]") {
    auto body = []() -> aio::task<std::string> {
        auto [a, b] = aio::socket::pair();
        aio::stream_reader reader(b);
        co_await aio::sock_sendall(a, "abc");
        auto read = aio::create_task(reader.readexactly(6));
        co_await aio::sleep(1ms);
        read.cancel();
        const std::exception_ptr error = co_await exception_of(read);
        CHECK_THROWS_AS(std::rethrow_exception(error), aio::cancelled_error);
        CHECK(reader.size() == 3);
        co_await aio::sock_sendall(a, "def");
        co_return co_await reader.readexactly(6);
    };
    CHECK(run_bounded(body()) == "abcdef");
}

#endif  // AIO_POLLER_EPOLL
