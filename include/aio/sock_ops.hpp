// SPDX-License-Identifier: MIT
// The loop's low-level socket calls (asyncio's loop.sock_connect, sock_accept, sock_recv,
// sock_recv_into, sock_sendall), as free functions that run on the running loop, as aio::sleep
// does: a Python `await loop.sock_recv(s, n)` is `co_await aio::sock_recv(s, n)`.
//
//     await loop.sock_connect(s, ('127.0.0.1', port))     co_await aio::sock_connect(s, addr);
//     conn, addr = await loop.sock_accept(listener)       auto [conn, addr] =
//                                                             co_await aio::sock_accept(listener);
//     data = await loop.sock_recv(s, 1024)                std::string data =
//                                                             co_await aio::sock_recv(s, 1024);
//     n = await loop.sock_recv_into(s, buf)               co_await aio::sock_recv_into(s, buf);
//     await loop.sock_sendall(s, data)                    co_await aio::sock_sendall(s, data);
//
// Each tries its system call first and waits on the fd's readiness only after EAGAIN (see
// detail/fd_watch.hpp), so a call on a ready socket does not suspend. Sends use MSG_NOSIGNAL:
// a peer that has gone away is std::system_error EPIPE (or ECONNRESET), never SIGPIPE. Every
// error is std::system_error with the errno (ECONNREFUSED, ECONNRESET, EPIPE...); a socket
// closed while a call waits on it is EBADF. One task at a time may read and one may write a
// socket: a second is invalid_state_error. sock_recv returns "" at end of stream, as b''.
//
// Cancellation (handle.cancel(), wait_for) stops the wait and removes the fd's interest at once;
// no byte already read is lost, because a call that has read returns before it can be cancelled.
// A cancelled sock_sendall may have sent part of the data (as asyncio's). The socket stays usable.
//
// Lifetime rules: these are lazy tasks holding references. The socket, and the buffer or data a
// sock_recv_into / sock_sendall is given, must outlive the await: co_await the call in the
// expression that makes it, as above.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SOCK_OPS_HPP_INCLUDED
#define AIO_SOCK_OPS_HPP_INCLUDED

#include "address.hpp"
#include "socket.hpp"
#include "task.hpp"

#include <cerrno>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace aio {

namespace detail {
// std::system_error(code) whose message names the call: "aio::sock_connect 127.0.0.1:80".
[[noreturn]] inline void sock_error(int code, const char* call, const address& a = {}) {
    std::string what = std::string("aio::") + call;
    if (a.family() != AF_UNSPEC) {
        what += ' ' + a.to_string();
    }
    throw std::system_error(code, std::system_category(), what);
}
inline bool would_block(int code) noexcept {
    return code == EAGAIN || code == EWOULDBLOCK;
}
}  // namespace detail

/// Connects `sock` to `to` (loop.sock_connect): a refused connection is ECONNREFUSED.
inline task<> sock_connect(socket& sock, address to) {
    if (::connect(sock.fileno(), to.native(), to.size()) == 0) {
        co_return;
    }
    const int code = errno;
    if (code != EINPROGRESS && code != EINTR) {  // EINTR: the connection goes on by itself
        detail::sock_error(code, "sock_connect", to);
    }
    sock.watch().not_ready(detail::io_events::writable);
    co_await detail::wait_writable(sock.watch());
    const int result = sock.get_option(SOL_SOCKET, SO_ERROR);
    if (result != 0) {
        detail::sock_error(result, "sock_connect", to);
    }
}

/// Accepts a connection on a listening socket (loop.sock_accept): the new socket (non-blocking,
/// close-on-exec) and the peer's address.
inline task<std::pair<socket, address>> sock_accept(socket& listener) {
    for (;;) {
        sockaddr_storage storage{};
        socklen_t size = sizeof storage;
        const int fd = ::accept4(listener.fileno(), reinterpret_cast<sockaddr*>(&storage), &size,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            socket conn(detail::adopt_nonblocking, fd);  // accept4 made it non-blocking
            co_return std::pair<socket, address>(
                std::move(conn),
                address::from_native(reinterpret_cast<const sockaddr*>(&storage), size));
        }
        const int code = errno;
        if (detail::would_block(code)) {
            listener.watch().not_ready(detail::io_events::readable);
            co_await detail::wait_readable(listener.watch());
        } else if (code != EINTR && code != ECONNABORTED) {  // a connection gone before accept
            detail::sock_error(code, "sock_accept");
        }
    }
}

/// Reads at most buffer.size() bytes into `buffer` (loop.sock_recv_into): how many; 0 at end of
/// stream (or for an empty buffer).
inline task<std::size_t> sock_recv_into(socket& sock, std::span<std::byte> buffer) {
    for (;;) {
        const ssize_t n = ::recv(sock.fileno(), buffer.data(), buffer.size(), 0);
        if (n >= 0) {
            co_return static_cast<std::size_t>(n);
        }
        const int code = errno;
        if (detail::would_block(code)) {
            sock.watch().not_ready(detail::io_events::readable);
            co_await detail::wait_readable(sock.watch());
        } else if (code != EINTR) {
            detail::sock_error(code, "sock_recv");
        }
    }
}
inline task<std::size_t> sock_recv_into(socket& sock, std::span<char> buffer) {
    return sock_recv_into(sock, std::as_writable_bytes(buffer));
}

/// Reads at most `max_bytes` (loop.sock_recv): what came, "" at end of stream.
inline task<std::string> sock_recv(socket& sock, std::size_t max_bytes) {
    std::string data(max_bytes, '\0');
    const std::size_t n = co_await sock_recv_into(sock, std::span<char>(data));
    data.resize(n);
    co_return data;
}

/// Sends all of `data` (loop.sock_sendall), waiting while the socket's buffer is full.
inline task<> sock_sendall(socket& sock, std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::send(sock.fileno(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data = data.subspan(static_cast<std::size_t>(n));
            continue;
        }
        const int code = errno;
        if (detail::would_block(code)) {
            sock.watch().not_ready(detail::io_events::writable);
            co_await detail::wait_writable(sock.watch());
        } else if (code != EINTR) {
            detail::sock_error(code, "sock_sendall");
        }
    }
}
inline task<> sock_sendall(socket& sock, std::string_view data) {
    return sock_sendall(sock, std::as_bytes(std::span<const char>(data.data(), data.size())));
}

}  // namespace aio

#endif
