// SPDX-License-Identifier: MIT
// aio::socket: an owning, non-blocking socket — Python's socket.socket after
// sock.setblocking(False), which asyncio's low-level calls require.
//
//     s = socket.socket(AF_INET, SOCK_STREAM)   aio::socket s(AF_INET, SOCK_STREAM);
//     s.setblocking(False)                      (always: SOCK_NONBLOCK | SOCK_CLOEXEC)
//     s.bind(('127.0.0.1', 0)); s.listen()      s.bind(aio::address::ipv4("127.0.0.1", 0));
//                                               s.listen();
//     s.getsockname()                           s.getsockname()
//     socket.socket(fileno=fd)                  aio::socket::from_fd(fd)
//     s.fileno(); s.detach(); s.close()         s.fileno(); s.detach(); s.close();
//     a, b = socket.socketpair()                auto [a, b] = aio::socket::pair();
//
// RAII and move-only: the destructor closes the fd; close() is idempotent. The awaitable calls
// live in <aio/sock_ops.hpp>. On its first wait a socket registers its fd with the running loop's
// poller through a detail::fd_watch that it keeps on the heap (so moving the socket, even while
// a task waits on it, is safe), and stays registered until close(), which first wakes any task
// waiting on it (its call then fails with EBADF) and unregisters the fd. Errors are
// std::system_error with the errno. A socket belongs to the thread of the loop it waits on.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SOCKET_HPP_INCLUDED
#define AIO_SOCKET_HPP_INCLUDED

#include "address.hpp"
#include "detail/fd_watch.hpp"

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace aio {

namespace detail {
struct adopt_nonblocking_t {
    explicit adopt_nonblocking_t() = default;
};
inline constexpr adopt_nonblocking_t adopt_nonblocking{};
}  // namespace detail

class socket {
public:
    /// No socket (is_open() is false).
    socket() noexcept = default;
    /// A new socket (socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC): e.g. (AF_INET, SOCK_STREAM).
    socket(int family, int type, int protocol = 0)
        : m_fd(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol)) {
        if (m_fd < 0) {
            throw os_error(errno, "socket");
        }
    }
    /// Takes ownership of `fd` (a socket) and makes it non-blocking and close-on-exec. On error
    /// std::system_error, and `fd` is left open (still the caller's).
    static socket from_fd(int fd) {
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            throw os_error(errno, "from_fd");
        }
        socket s;
        s.m_fd = fd;
        return s;
    }
    /// Takes ownership of `fd`, already non-blocking and close-on-exec (accept4's): no system
    /// call. For <aio/sock_ops.hpp>.
    socket(detail::adopt_nonblocking_t, int fd) noexcept : m_fd(fd) {}
    /// A connected pair (socket.socketpair()): AF_UNIX and SOCK_STREAM by default.
    static std::pair<socket, socket> pair(int family = AF_UNIX, int type = SOCK_STREAM) {
        int fds[2];
        if (::socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
            throw os_error(errno, "socketpair");
        }
        std::pair<socket, socket> result;
        result.first.m_fd = fds[0];
        result.second.m_fd = fds[1];
        return result;
    }

    socket(socket&& other) noexcept
        : m_fd(std::exchange(other.m_fd, -1)), m_watch(std::move(other.m_watch)) {}
    socket& operator=(socket&& other) noexcept {
        if (this != &other) {
            close();
            m_fd = std::exchange(other.m_fd, -1);
            m_watch = std::move(other.m_watch);
        }
        return *this;
    }
    ~socket() { close(); }

    [[nodiscard]] bool is_open() const noexcept { return m_fd >= 0; }
    /// The fd, or -1 once closed or detached.
    [[nodiscard]] int fileno() const noexcept { return m_fd; }

    /// Closes the socket; a second call does nothing. A task waiting on it wakes and fails with
    /// EBADF. An error of close(2) itself is not reported (the fd is gone either way).
    void close() noexcept {
        m_watch.reset();  // wakes the waiters, unregisters the fd
        if (m_fd >= 0) {
            ::close(std::exchange(m_fd, -1));
        }
    }
    /// Gives up ownership without closing (sock.detach()): returns the fd, unregistered.
    [[nodiscard]] int detach() noexcept {
        m_watch.reset();
        return std::exchange(m_fd, -1);
    }

    void bind(const address& a) {
        if (::bind(checked_fd("bind"), a.native(), a.size()) < 0) {
            throw os_error(errno, "bind", a);
        }
    }
    /// Listens with `backlog` pending connections at most (Python's default, up to 128).
    void listen(int backlog = SOMAXCONN < 128 ? SOMAXCONN : 128) {
        if (::listen(checked_fd("listen"), backlog) < 0) {
            throw os_error(errno, "listen");
        }
    }
    /// SO_REUSEADDR, as asyncio's servers set it.
    void set_reuse_address(bool on) { set_option(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0); }
    /// An int-valued option (setsockopt).
    void set_option(int level, int name, int value) {
        if (::setsockopt(checked_fd("setsockopt"), level, name, &value, sizeof value) < 0) {
            throw os_error(errno, "setsockopt");
        }
    }
    [[nodiscard]] int get_option(int level, int name) const {
        int value = 0;
        socklen_t size = sizeof value;
        if (::getsockopt(checked_fd("getsockopt"), level, name, &value, &size) < 0) {
            throw os_error(errno, "getsockopt");
        }
        return value;
    }
    /// shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR.
    void shutdown(int how) {
        if (::shutdown(checked_fd("shutdown"), how) < 0) {
            throw os_error(errno, "shutdown");
        }
    }
    [[nodiscard]] address getsockname() const { return name_of(&::getsockname, "getsockname"); }
    [[nodiscard]] address getpeername() const { return name_of(&::getpeername, "getpeername"); }

    /// The readiness watch of the fd (made on first use); for <aio/sock_ops.hpp>.
    detail::fd_watch& watch() {
        if (m_watch == nullptr) {
            m_watch = std::make_unique<detail::fd_watch>(checked_fd("wait"));
        }
        return *m_watch;
    }

    /// std::system_error(code) whose message names the call: "aio::socket::bind 127.0.0.1:80".
    static std::system_error os_error(int code, const char* call, const address& a = {}) {
        std::string what = std::string("aio::socket::") + call;
        if (a.family() != AF_UNSPEC) {
            what += ' ' + a.to_string();
        }
        return std::system_error(code, std::system_category(), what);
    }

private:
    int checked_fd(const char* call) const {
        if (m_fd < 0) {
            throw os_error(EBADF, call);
        }
        return m_fd;
    }
    template <class F>
    address name_of(F f, const char* call) const {
        sockaddr_storage storage{};
        socklen_t size = sizeof storage;
        if (f(checked_fd(call), reinterpret_cast<sockaddr*>(&storage), &size) < 0) {
            throw os_error(errno, call);
        }
        return address::from_native(reinterpret_cast<const sockaddr*>(&storage), size);
    }

    int m_fd = -1;
    std::unique_ptr<detail::fd_watch> m_watch;  // on the heap: its address is the poller's data
};

}  // namespace aio

#endif
