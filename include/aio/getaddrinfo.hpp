// SPDX-License-Identifier: MIT
// aio::getaddrinfo: name resolution off the loop's thread (asyncio's loop.getaddrinfo, which
// runs socket.getaddrinfo in the default executor).
//
//     infos = await loop.getaddrinfo(            std::vector<aio::address_info> infos =
//         'localhost', 8888,                         co_await aio::getaddrinfo("localhost", 8888,
//         type=socket.SOCK_STREAM)                                             AF_UNSPEC);
//     for family, type, proto, _, sockaddr ...   for (const aio::address_info& i : infos) ...
//     except socket.gaierror as e                catch (const aio::gai_error& e)
//
// getaddrinfo(3) blocks (DNS, /etc/hosts), so it runs through aio::to_thread; a numeric host
// ("127.0.0.1", "::1") is parsed on the loop's thread and never waits (asyncio's _ipaddr_info
// does the same). An empty host is every local interface for a server (AI_PASSIVE: 0.0.0.0
// and ::) and the loopback for a client. A failure is aio::gai_error, a std::system_error whose
// message is gai_strerror's ("Name or service not known"); EAI_SYSTEM carries the errno.
// Cancelling the await returns at once (the lookup finishes on its thread, its result dropped).
//
// Lifetime: the host is copied before the first suspension; the call is a lazy task, so
// co_await it in the expression that makes it.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_GETADDRINFO_HPP_INCLUDED
#define AIO_GETADDRINFO_HPP_INCLUDED

#include "address.hpp"
#include "task.hpp"
#include "to_thread.hpp"

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>

namespace aio {

namespace detail {
// The EAI_* codes of getaddrinfo, with gai_strerror's messages.
class gai_category_t final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "getaddrinfo"; }
    [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};
inline const std::error_category& gai_category() noexcept {
    static const gai_category_t category;
    return category;
}
}  // namespace detail

/// getaddrinfo failed (socket.gaierror): code() is the EAI_* value in the "getaddrinfo"
/// category (or the errno, for EAI_SYSTEM), what() names the host and gai_strerror's reason.
class gai_error : public std::system_error {
public:
    /// `sys_errno`: getaddrinfo's errno, for EAI_SYSTEM (read before anything can change it).
    gai_error(int eai_code, const std::string& host, std::uint16_t port, int sys_errno = errno)
        : std::system_error(code_of(eai_code, sys_errno),
                            "aio::getaddrinfo " + host + ':' + std::to_string(port)) {}

private:
    static std::error_code code_of(int eai_code, int sys_errno) noexcept {
        if (eai_code == EAI_SYSTEM) {
            return {sys_errno, std::system_category()};
        }
        return {eai_code, detail::gai_category()};
    }
};

/// One result of getaddrinfo: (family, type, proto, canonname, sockaddr) in Python.
struct address_info {
    int family = AF_UNSPEC;
    int type = 0;
    int protocol = 0;
    std::string canonical_name;  // only with AI_CANONNAME, on the first result
    aio::address address;
};

namespace detail {
// getaddrinfo(3) itself, blocking: what the worker thread runs.
inline std::vector<address_info> blocking_getaddrinfo(const std::string& host, std::uint16_t port,
                                                      int family, int type, int flags) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = flags | AI_NUMERICSERV;
    const std::string service = std::to_string(port);
    addrinfo* list = nullptr;
    const int code =
        ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
    if (code != 0) {
        throw gai_error(code, host, port);
    }
    const std::unique_ptr<addrinfo, void (*)(addrinfo*)> owned(list, &::freeaddrinfo);
    std::vector<address_info> out;
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        address_info info;
        info.family = ai->ai_family;
        info.type = ai->ai_socktype;
        info.protocol = ai->ai_protocol;
        if (ai->ai_canonname != nullptr) {
            info.canonical_name = ai->ai_canonname;
        }
        info.address = address::from_native(ai->ai_addr, ai->ai_addrlen);
        out.push_back(std::move(info));
    }
    return out;
}
// A numeric host of `family` (or either) as one result, without a lookup; false otherwise.
inline bool numeric_host(std::string_view host, std::uint16_t port, int family, int type,
                         std::vector<address_info>& out) {
    for (const int f : {AF_INET, AF_INET6}) {
        if (family != AF_UNSPEC && family != f) {
            continue;
        }
        in6_addr scratch{};
        const std::string text(host);
        if (::inet_pton(f, text.c_str(), &scratch) == 1) {
            address_info info;
            info.family = f;
            info.type = type == 0 ? SOCK_STREAM : type;
            info.address = f == AF_INET ? address::ipv4(host, port) : address::ipv6(host, port);
            out.push_back(std::move(info));
            return true;
        }
    }
    return false;
}
}  // namespace detail

/// The addresses of `host` and `port` (loop.getaddrinfo): `family` AF_UNSPEC, AF_INET or
/// AF_INET6; `type` SOCK_STREAM by default; `flags` AI_* (AI_PASSIVE for a server). A numeric
/// host answers at once; a name is looked up on the loop's default executor.
inline task<std::vector<address_info>> getaddrinfo(std::string_view host, std::uint16_t port,
                                                   int family = AF_UNSPEC, int type = SOCK_STREAM,
                                                   int flags = 0) {
    std::string name(host);  // copied before the first suspension
    std::vector<address_info> numeric;
    if (detail::numeric_host(name, port, family, type, numeric)) {
        co_return numeric;
    }
    auto lookup =
        to_thread(&detail::blocking_getaddrinfo, std::move(name), port, family, type, flags);
    co_return co_await std::move(lookup);
}

}  // namespace aio

#endif
