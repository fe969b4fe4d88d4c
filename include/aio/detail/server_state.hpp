// SPDX-License-Identifier: MIT
// detail::server_state, accept_loop and serve_connection: the inside of an aio::server
// (asyncio's base_events.Server, _accept_connection and the streams' client_connected_cb).
//
// One accept_loop task per listening socket accepts connections and starts one
// serve_connection task for each; that task owns the connection's reader and writer, runs the
// handler, then closes the connection: close() and wait_closed() (what was written is sent)
// after a return, abort() after an exception, which is reported on stderr (asyncio's loop
// exception handler logs it) and ends only that connection. When accept fails (for want of a
// resource: EMFILE, ENFILE, ENOBUFS, ENOMEM; or any other error) the loop reports it once and
// stops accepting for m_retry_delay (asyncio's ACCEPT_RETRY_DELAY, 1 s), then tries again until
// it works: no spin, no exit; the pending connections wait in the listen backlog.
//
// Lifetime: the state is shared (std::shared_ptr) by the server handle and every task here,
// so a connection task outlives a closed server. The state holds no handle of these tasks
// (that would be a cycle): close() closes the listening sockets, which wakes each accept_loop
// to end (one backing off ends when its pause is over). Everything is for the loop's thread.
#ifndef AIO_DETAIL_SERVER_STATE_HPP_INCLUDED
#define AIO_DETAIL_SERVER_STATE_HPP_INCLUDED

#include "../errors.hpp"
#include "../event.hpp"
#include "../event_loop.hpp"
#include "../sleep.hpp"
#include "../sock_ops.hpp"
#include "../socket.hpp"
#include "../stream_reader.hpp"
#include "../stream_writer.hpp"
#include "../task.hpp"

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace aio::detail {

using connection_handler = std::function<task<void>(stream_reader&, stream_writer&)>;

struct server_state {
    std::vector<socket> m_listeners;  // fixed once serving (the accept loops refer to them)
    connection_handler m_handler;
    std::size_t m_limit = stream_reader::default_limit;
    std::chrono::milliseconds m_retry_delay{1000};  // asyncio's ACCEPT_RETRY_DELAY
    std::string m_unix_path;                        // unlinked at close()
    std::size_t m_connections = 0;                  // serve_connection tasks running
    std::unordered_set<stream_writer*> m_writers;   // of the running connections
    bool m_closed = false;
    bool m_serving_forever = false;
    event m_closed_event;  // set by close()
    event m_idle;          // set while closed and no connection is left

    void close() noexcept {
        if (m_closed) {
            return;
        }
        m_closed = true;
        for (socket& s : m_listeners) {
            s.close();  // wakes its accept_loop, which ends
        }
        if (!m_unix_path.empty()) {
            ::unlink(m_unix_path.c_str());
        }
        m_closed_event.set();
        if (m_connections == 0) {
            m_idle.set();
        }
    }
    // close() (after what is buffered) or abort() every connection's writer: their readers
    // then read end of stream (server.close_clients() / abort_clients(), asyncio 3.13).
    void close_writers(bool abort) noexcept {
        const std::vector<stream_writer*> writers(m_writers.begin(), m_writers.end());
        for (stream_writer* w : writers) {
            try {
                abort ? w->abort() : w->close();
            } catch (...) {  // a writer the handler moved from: nothing to close here
            }
        }
    }
    void connection_done() noexcept {
        if (--m_connections == 0 && m_closed) {
            m_idle.set();
        }
    }
};

// TCP_NODELAY on a TCP socket, as asyncio sets it on every TCP transport (a small write goes
// out at once instead of waiting for the peer's delayed ACK). An error is ignored: the
// connection works without it.
inline void set_nodelay(const socket& s, int family) noexcept {
    if (family == AF_INET || family == AF_INET6) {
        const int on = 1;
        ::setsockopt(s.fileno(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
}

// "aio: <what>: <the exception's message>" on stderr.
inline void report_exception(const char* what, const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aio: %s: %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "aio: %s (not a std::exception)\n", what);
    }
}

inline task<void> serve_connection(std::shared_ptr<server_state> state, socket conn) {
    struct done_guard {
        server_state& m_state;
        ~done_guard() { m_state.connection_done(); }
    } done{*state};  // counted by accept_loop, before this task started
    auto sock = std::make_shared<socket>(std::move(conn));
    stream_reader reader(sock, state->m_limit);
    stream_writer writer(std::move(sock));
    state->m_writers.insert(&writer);
    struct listed_guard {
        server_state& m_state;
        stream_writer* m_writer;
        ~listed_guard() { m_state.m_writers.erase(m_writer); }
    } listed{*state, &writer};
    std::exception_ptr error;
    bool cancelled = false;
    try {
        auto handling = state->m_handler(reader, writer);
        co_await std::move(handling);
    } catch (const cancelled_error&) {
        cancelled = true;
    } catch (...) {
        error = std::current_exception();
    }
    if (error || cancelled) {
        if (error) {
            report_exception("unhandled exception in a start_server handler (its connection is "
                             "closed)",
                             error);
        }
        writer.abort();
        if (cancelled) {
            throw cancelled_error();
        }
        co_return;
    }
    writer.close();
    try {
        co_await writer.wait_closed();
    } catch (const std::system_error&) {  // the peer went away: nothing left to tell it
    }
}

inline task<void> accept_loop(std::shared_ptr<server_state> state, std::size_t index) {
    socket& listener = state->m_listeners[index];
    const int family = listener.getsockname().family();
    bool reported = false;  // this run of failures was reported
    for (;;) {
        socket conn;
        int code = 0;
        try {
            auto accepting = sock_accept(listener);
            auto accepted = co_await std::move(accepting);
            conn = std::move(accepted.first);
        } catch (const std::system_error& e) {
            if (!listener.is_open()) {
                co_return;  // close()d
            }
            code = e.code().value();  // EMFILE and its kind, or a broken listener: back off
        }
        if (code != 0) {
            if (!reported) {
                reported = true;
                std::fprintf(stderr,
                             "aio: start_server: accept on %s failed (%s): not accepting for "
                             "%lld ms, then again until it works\n",
                             listener.getsockname().to_string().c_str(), std::strerror(code),
                             static_cast<long long>(state->m_retry_delay.count()));
            }
            co_await sleep(state->m_retry_delay);
            if (state->m_closed) {
                co_return;
            }
            continue;
        }
        reported = false;
        set_nodelay(conn, family);
        ++state->m_connections;
        try {
            create_task(serve_connection(state, std::move(conn)));
        } catch (...) {  // bad_alloc: this connection is dropped (conn closes), the loop goes on
            state->connection_done();
            report_exception("start_server could not start a connection's task",
                             std::current_exception());
        }
    }
}

}  // namespace aio::detail

#endif
