// SPDX-License-Identifier: MIT
//
// Helpers for the networking tests (fd_watch_tests.cpp, sock_ops_tests.cpp): a bounded run, TCP
// pairs on loopback, reading an exact count, one echo round trip. Needs the epoll poller.
#ifndef AIO_TESTS_HELPERS_NET_HPP_INCLUDED
#define AIO_TESTS_HELPERS_NET_HPP_INCLUDED

#include "catch.hpp"

#include <aio/address.hpp>
#include <aio/aio.hpp>
#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace aio_test {

/// The test's body, bounded: a wait that never ends fails the test with timeout_error.
template <class T>
aio::task<T> within_10s(aio::task<T> body) {
    auto bounded = aio::wait_for(std::move(body), std::chrono::seconds(10));
    co_return co_await std::move(bounded);
}

/// aio::run of within_10s(body).
template <class T>
T run_bounded(aio::task<T> body) {
    return aio::run(within_10s(std::move(body)));
}

// A listening TCP socket on `where` (port 0: the system picks a free one).
inline aio::socket listener_on(const aio::address& where) {
    aio::socket s(where.family(), SOCK_STREAM);
    s.set_reuse_address(true);
    s.bind(where);
    s.listen();
    return s;
}

// A connected pair over TCP on `where` (port 0): (client, server side).
inline aio::task<std::pair<aio::socket, aio::socket>> tcp_pair(aio::address where) {
    aio::socket listener = listener_on(where);
    aio::socket client(where.family(), SOCK_STREAM);
    auto connecting = aio::create_task(aio::sock_connect(client, listener.getsockname()));
    auto [server, peer] = co_await aio::sock_accept(listener);
    co_await connecting;
    CHECK(peer == client.getsockname());
    co_return std::pair<aio::socket, aio::socket>(std::move(client), std::move(server));
}

// Reads exactly `n` bytes (or until end of stream).
inline aio::task<std::string> recv_exactly(aio::socket& s, std::size_t n) {
    std::string all;
    while (all.size() < n) {
        std::string part = co_await aio::sock_recv(s, n - all.size());
        if (part.empty()) {
            break;
        }
        all += part;
    }
    co_return all;
}

inline  // Sends `message` from client to server, echoes it back, returns what the client got.
    aio::task<std::string>
    echo_once(aio::socket& client, aio::socket& server, std::string message) {
    co_await aio::sock_sendall(client, message);
    std::string got = co_await recv_exactly(server, message.size());
    co_await aio::sock_sendall(server, got);
    co_return co_await recv_exactly(client, message.size());
}

// Sends `data` on `s` after `delay`.
inline aio::task<void> send_after(aio::socket& s, std::chrono::milliseconds delay,
                                  std::string data) {
    co_await aio::sleep(delay);
    co_await aio::sock_sendall(s, data);
}

// Awaits `work` (a task, a task_handle, a wait_for: a local of the caller, taken by reference so
// that no temporary lives inside the caller's co_await) and returns the exception it ended with,
// or nullptr. why: a co_await inside CHECK(...) shares its full-expression with Catch's
// temporaries, which GCC mishandles (PR 100611); tests await into a local, then check it.
template <class Awaitable>
aio::task<std::exception_ptr> exception_of(Awaitable& work) {
    std::exception_ptr error;
    try {
        co_await std::move(work);
    } catch (...) {
        error = std::current_exception();
    }
    co_return error;
}

// The errno of the std::system_error in `error`; -1 for no exception or another kind.
inline int errno_of(const std::exception_ptr& error) {
    try {
        if (error) {
            std::rethrow_exception(error);
        }
    } catch (const std::system_error& e) {
        return e.code().value();
    } catch (...) {
    }
    return -1;
}

}  // namespace aio_test

#endif  // AIO_TESTS_HELPERS_NET_HPP_INCLUDED
