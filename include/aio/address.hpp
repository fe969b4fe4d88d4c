// SPDX-License-Identifier: MIT
// aio::address: a socket address — IPv4, IPv6 or a Unix domain socket path. asyncio passes
// these as tuples and strings: ('127.0.0.1', 8888), ('::1', 8888, 0, 0), '/tmp/echo.sock'.
//
//     ('127.0.0.1', 8888)                    aio::address::ipv4("127.0.0.1", 8888)
//     ('::1', 8888)                          aio::address::ipv6("::1", 8888)
//     host, port (numeric, either family)    aio::address::parse(host, port)
//     '/tmp/echo.sock'                       aio::address::unix_path("/tmp/echo.sock")
//     sock.getsockname()                     sock.getsockname()  (an aio::address)
//
// Only numeric hosts: names go through getaddrinfo, which may block (streams resolve them on a
// thread, as asyncio does). A value type: a sockaddr_storage and its length, copied freely. A bad
// host or a path too long for sockaddr_un is std::invalid_argument. POSIX only.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_ADDRESS_HPP_INCLUDED
#define AIO_ADDRESS_HPP_INCLUDED

#if !defined(__linux__)
#error "aio: the networking headers need Linux (epoll): the portable poller watches no fds"
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace aio {

class address {
public:
    /// An empty address (family AF_UNSPEC).
    address() noexcept = default;

    /// An IPv4 address from dotted decimal ("127.0.0.1", "0.0.0.0") and a port.
    static address ipv4(std::string_view host, std::uint16_t port) {
        address a;
        auto& in = a.as<sockaddr_in>();
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        if (!parse_host(AF_INET, host, &in.sin_addr)) {
            throw std::invalid_argument("aio::address::ipv4: not an IPv4 address: " +
                                        std::string(host));
        }
        a.m_size = sizeof(sockaddr_in);
        return a;
    }
    /// An IPv6 address ("::1", "::", "fe80::1") and a port.
    static address ipv6(std::string_view host, std::uint16_t port) {
        address a;
        auto& in6 = a.as<sockaddr_in6>();
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        if (!parse_host(AF_INET6, host, &in6.sin6_addr)) {
            throw std::invalid_argument("aio::address::ipv6: not an IPv6 address: " +
                                        std::string(host));
        }
        a.m_size = sizeof(sockaddr_in6);
        return a;
    }
    /// A numeric host of either family ("127.0.0.1" or "::1") and a port.
    static address parse(std::string_view host, std::uint16_t port) {
        in6_addr scratch{};
        if (parse_host(AF_INET, host, &scratch)) {
            return ipv4(host, port);
        }
        if (parse_host(AF_INET6, host, &scratch)) {
            return ipv6(host, port);
        }
        throw std::invalid_argument("aio::address::parse: not a numeric IPv4 or IPv6 address: " +
                                    std::string(host));
    }
    /// A Unix domain socket path; one that starts with '\0' is Linux's abstract namespace.
    static address unix_path(std::string_view path) {
        address a;
        auto& un = a.as<sockaddr_un>();
        if (path.empty() || path.size() >= sizeof un.sun_path) {
            throw std::invalid_argument("aio::address::unix_path: the path must have 1 to " +
                                        std::to_string(sizeof un.sun_path - 1) + " characters");
        }
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, path.data(), path.size());
        a.m_size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                          (path[0] == '\0' ? 0 : 1));
        return a;
    }
    /// A copy of what the system wrote (accept, getsockname, getpeername).
    static address from_native(const sockaddr* sa, socklen_t size) {
        address a;
        if (size > sizeof a.m_storage) {
            throw std::invalid_argument("aio::address::from_native: too long");
        }
        std::memcpy(&a.m_storage, sa, size);
        a.m_size = size;
        return a;
    }

    /// AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty.
    [[nodiscard]] int family() const noexcept {
        return m_size == 0 ? AF_UNSPEC : m_storage.ss_family;
    }
    /// The numeric host ("127.0.0.1", "::1"); empty for a Unix address.
    [[nodiscard]] std::string host() const {
        char text[INET6_ADDRSTRLEN] = {};
        if (family() == AF_INET) {
            ::inet_ntop(AF_INET, &as<sockaddr_in>().sin_addr, text, sizeof text);
        } else if (family() == AF_INET6) {
            ::inet_ntop(AF_INET6, &as<sockaddr_in6>().sin6_addr, text, sizeof text);
        }
        return text;
    }
    /// The port (0 for a Unix address).
    [[nodiscard]] std::uint16_t port() const noexcept {
        if (family() == AF_INET) {
            return ntohs(as<sockaddr_in>().sin_port);
        }
        if (family() == AF_INET6) {
            return ntohs(as<sockaddr_in6>().sin6_port);
        }
        return 0;
    }
    /// The path of a Unix address (empty for an unnamed one, or another family).
    [[nodiscard]] std::string path() const {
        if (family() != AF_UNIX || m_size <= offsetof(sockaddr_un, sun_path)) {
            return {};
        }
        const char* p = as<sockaddr_un>().sun_path;
        std::size_t n = m_size - offsetof(sockaddr_un, sun_path);
        if (p[0] != '\0') {
            n = ::strnlen(p, n);
        }
        return std::string(p, n);
    }
    /// "127.0.0.1:8888", "[::1]:8888", the Unix path, or "" when empty.
    [[nodiscard]] std::string to_string() const {
        switch (family()) {
        case AF_INET:
            return host() + ':' + std::to_string(port());
        case AF_INET6:
            return '[' + host() + "]:" + std::to_string(port());
        case AF_UNIX:
            return path();
        default:
            return {};
        }
    }

    /// For the system calls.
    [[nodiscard]] const sockaddr* native() const noexcept {
        return reinterpret_cast<const sockaddr*>(&m_storage);
    }
    [[nodiscard]] socklen_t size() const noexcept { return m_size; }

    friend bool operator==(const address& a, const address& b) noexcept {
        return a.m_size == b.m_size && std::memcmp(&a.m_storage, &b.m_storage, a.m_size) == 0;
    }

private:
    template <class T>
    T& as() noexcept {
        return *reinterpret_cast<T*>(&m_storage);
    }
    template <class T>
    const T& as() const noexcept {
        return *reinterpret_cast<const T*>(&m_storage);
    }
    static bool parse_host(int family, std::string_view host, void* out) {
        const std::string text(host);  // inet_pton needs a terminated string
        return ::inet_pton(family, text.c_str(), out) == 1;
    }

    sockaddr_storage m_storage{};
    socklen_t m_size = 0;
};

}  // namespace aio

#endif
