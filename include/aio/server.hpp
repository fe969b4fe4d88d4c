// SPDX-License-Identifier: MIT
// aio::start_server / start_unix_server and aio::server: a stream server (asyncio's
// start_server and base_events.Server).
//
//     async def handle(reader, writer): ...   aio::task<void> handle(aio::stream_reader& r,
//                                                                    aio::stream_writer& w);
//     server = await asyncio.start_server(    aio::server server = co_await
//         handle, '127.0.0.1', 0)                 aio::start_server(handle, "127.0.0.1", 0);
//     server.sockets[0].getsockname()[1]      server.addresses()[0].port()
//     await server.serve_forever()            co_await server.serve_forever();
//     server.close()                          server.close();
//     await server.wait_closed()              co_await server.wait_closed();
//     server.close_clients()                  server.close_clients();
//     await asyncio.start_unix_server(        co_await aio::start_unix_server(handle, path);
//         handle, path)
//
// The server listens on every address the host resolves to (port 0: the system picks a free
// one, per address; an empty host: every interface), SO_REUSEADDR, IPV6_V6ONLY on IPv6, and
// serves at once (asyncio's start_serving=True). Each accepted connection runs
// `handler(reader, writer)` as its own task; see detail/server_state.hpp for what happens
// after it returns or throws, and when accept fails (EMFILE: report, back off 1 s, go on).
//
// Differences from asyncio, on purpose: the handler gets references to a reader and a writer
// that its connection task owns, and the connection is closed when the handler returns (what
// it wrote is sent first: close() then wait_closed()); asyncio leaves an unclosed connection
// open until the writer is garbage-collected. A stale Unix socket file is removed before
// binding and the path unlinked by close() (asyncio 3.13's cleanup_socket).
//
// close() stops listening (the listening sockets close) and leaves the connections running;
// wait_closed() returns once the server is closed and every handler has finished (asyncio
// 3.12); close_clients() / abort_clients() end the connections (asyncio 3.13).
// serve_forever() waits until close(); cancelling it closes the server. Destroying the server
// handle closes it too. Lifetime: the handler (moved in; it may be move-only) lives as long as
// the server's state, which the connection tasks share: it may outlive the handle.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SERVER_HPP_INCLUDED
#define AIO_SERVER_HPP_INCLUDED

#include "address.hpp"
#include "detail/server_state.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "getaddrinfo.hpp"
#include "socket.hpp"
#include "stream_reader.hpp"
#include "stream_writer.hpp"
#include "task.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace aio {

class server {
public:
    /// No server.
    server() noexcept = default;
    /// Serves on `state`'s listening sockets (made by start_server / start_unix_server).
    explicit server(std::shared_ptr<detail::server_state> state) : m_state(std::move(state)) {
        for (std::size_t i = 0; i < m_state->m_listeners.size(); ++i) {
            create_task(detail::accept_loop(m_state, i));  // ends when the server closes
        }
    }
    server(server&&) noexcept = default;
    server& operator=(server&& other) noexcept {
        if (this != &other) {
            close();
            m_state = std::move(other.m_state);
        }
        return *this;
    }
    ~server() { close(); }

    /// The bound addresses, one per listening socket (server.sockets' getsockname()).
    [[nodiscard]] std::vector<address> addresses() const {
        std::vector<address> out;
        for (const socket& s : state().m_listeners) {
            if (s.is_open()) {
                out.push_back(s.getsockname());
            }
        }
        return out;
    }
    /// The listening sockets (closed ones after close()).
    [[nodiscard]] const std::vector<socket>& sockets() const { return state().m_listeners; }
    /// Accepting connections: not closed (server.is_serving()).
    [[nodiscard]] bool is_serving() const noexcept { return m_state && !m_state->m_closed; }
    /// Handlers running now.
    [[nodiscard]] std::size_t connections() const noexcept {
        return m_state ? m_state->m_connections : 0;
    }

    /// Stops listening; the connections go on (server.close()). Idempotent.
    void close() noexcept {
        if (m_state != nullptr) {
            m_state->close();
        }
    }
    /// Closes every connection (writer.close(): what is buffered is sent first); their
    /// handlers' reads see end of stream (server.close_clients(), asyncio 3.13).
    void close_clients() noexcept {
        if (m_state != nullptr) {
            m_state->close_writers(false);
        }
    }
    /// Aborts every connection (writer.abort(): the buffers are dropped; a drain() in a
    /// handler throws ECONNABORTED) (server.abort_clients(), asyncio 3.13).
    void abort_clients() noexcept {
        if (m_state != nullptr) {
            m_state->close_writers(true);
        }
    }
    /// Waits until the server is closed and every handler has finished.
    task<void> wait_closed() {
        const std::shared_ptr<detail::server_state> s = m_state;
        if (s == nullptr) {
            throw invalid_state_error("aio::server::wait_closed: no server");
        }
        co_await s->m_idle.wait();
    }
    /// Serves until close() (server.serve_forever()); cancelling it closes the server. A closed
    /// server, or a second serve_forever() at once, is invalid_state_error.
    task<void> serve_forever() {
        const std::shared_ptr<detail::server_state> s = m_state;
        if (s == nullptr || s->m_closed) {
            throw invalid_state_error("aio::server::serve_forever: the server is closed");
        }
        if (s->m_serving_forever) {
            throw invalid_state_error("aio::server::serve_forever: already awaited");
        }
        s->m_serving_forever = true;
        bool cancelled = false;
        try {
            co_await s->m_closed_event.wait();
        } catch (const cancelled_error&) {
            cancelled = true;
        }
        s->m_serving_forever = false;
        if (cancelled) {
            s->close();
            throw cancelled_error();
        }
    }
    /// How long accept pauses after a failure such as EMFILE (asyncio's ACCEPT_RETRY_DELAY).
    void set_accept_retry_delay(std::chrono::milliseconds delay) { state().m_retry_delay = delay; }

private:
    detail::server_state& state() const {
        if (m_state == nullptr) {
            throw invalid_state_error("aio::server: no server");
        }
        return *m_state;
    }

    std::shared_ptr<detail::server_state> m_state;
};

namespace detail {
template <class Handler>
std::shared_ptr<server_state> new_server_state(Handler& handler, std::size_t limit) {
    auto state = std::make_shared<server_state>();
    if constexpr (std::is_copy_constructible_v<Handler>) {
        state->m_handler = connection_handler(std::move(handler));
    } else {  // std::function copies: a move-only handler is held through a shared_ptr
        state->m_handler = [held = std::make_shared<Handler>(std::move(handler))](
                               stream_reader& reader, stream_writer& writer) {
            return (*held)(reader, writer);
        };
    }
    state->m_limit = limit;
    return state;
}
}  // namespace detail

/// A TCP server on `host` and `port` (asyncio.start_server): `handler(reader, writer)` runs for
/// each connection; `host` "" is every interface; port 0 picks a free port. Bind errors are
/// std::system_error (EADDRINUSE) naming the address.
template <class Handler>
task<server> start_server(Handler handler, std::string_view host, std::uint16_t port,
                          std::size_t limit = stream_reader::default_limit, int backlog = 100) {
    std::string name(host);  // copied before the first suspension
    auto state = detail::new_server_state(handler, limit);
    auto resolving = getaddrinfo(name, port, AF_UNSPEC, SOCK_STREAM, AI_PASSIVE);
    const std::vector<address_info> infos = co_await std::move(resolving);
    std::vector<address> bound;
    for (const address_info& info : infos) {
        bool seen = false;  // getaddrinfo may list an address twice (asyncio keeps a set)
        for (const address& a : bound) {
            seen = seen || a == info.address;
        }
        if (seen) {
            continue;
        }
        bound.push_back(info.address);
        socket s(info.family, SOCK_STREAM, info.protocol);
        s.set_reuse_address(true);
        if (info.family == AF_INET6) {
            s.set_option(IPPROTO_IPV6, IPV6_V6ONLY, 1);  // the IPv4 address gets its own socket
        }
        s.bind(info.address);
        s.listen(backlog);
        state->m_listeners.push_back(std::move(s));
    }
    co_return server(std::move(state));
}

/// A Unix domain socket server on `path` (asyncio.start_unix_server); a stale socket file at
/// `path` is removed first, and close() unlinks the path.
template <class Handler>
task<server> start_unix_server(Handler handler, std::string_view path,
                               std::size_t limit = stream_reader::default_limit,
                               int backlog = 100) {
    auto state = detail::new_server_state(handler, limit);
    const address where = address::unix_path(path);
    std::string file(path);
    struct stat info {};
    if (file[0] != '\0' && ::stat(file.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) {
        ::unlink(file.c_str());
    }
    socket s(AF_UNIX, SOCK_STREAM);
    s.bind(where);
    if (file[0] != '\0') {
        state->m_unix_path = std::move(file);
    }
    s.listen(backlog);
    state->m_listeners.push_back(std::move(s));
    co_return server(std::move(state));
}

}  // namespace aio

#endif
