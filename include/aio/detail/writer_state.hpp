// SPDX-License-Identifier: MIT
// detail::writer_state and flush_writer: the buffer, water marks and close/eof requests of an
// aio::stream_writer, and the flusher task that sends the buffer as the socket becomes writable
// (asyncio's transport write buffer and its writer callback). Shared (std::shared_ptr) by the
// writer and its flusher, which may outlive the writer by a few iterations: it ends with the
// cancellation the writer's destructor asks for. For the loop's thread only.
#ifndef AIO_DETAIL_WRITER_STATE_HPP_INCLUDED
#define AIO_DETAIL_WRITER_STATE_HPP_INCLUDED

#include "../errors.hpp"
#include "../event.hpp"
#include "../socket.hpp"
#include "../task.hpp"
#include "fd_watch.hpp"
#include "io_events.hpp"

#include <cerrno>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace aio::detail {

struct writer_state {
    socket* m_sock;  // nullptr once the writer is gone
    std::string m_buffer;
    std::size_t m_sent = 0;  // of m_buffer, already sent
    std::size_t m_high;
    std::size_t m_low;
    bool m_paused = false;  // past the high-water mark, not yet back to the low one
    bool m_flushing = false;
    bool m_eof_requested = false;  // write_eof() not yet done (the buffer goes first)
    bool m_eof_called = false;     // write_eof() was called: later writes are errors
    bool m_closing = false;        // close(): close the socket once the buffer is sent
    std::exception_ptr m_error;
    event m_resumed;  // set while not paused
    event m_closed;   // set once the socket is closed (or the writer gone)

    [[nodiscard]] std::size_t pending() const noexcept { return m_buffer.size() - m_sent; }
    void consumed(std::size_t n) {
        m_sent += n;
        if (m_sent == m_buffer.size()) {
            m_buffer.clear();
            m_sent = 0;
        } else if (m_sent > m_buffer.size() / 2) {  // keep the buffer from creeping
            m_buffer.erase(0, m_sent);
            m_sent = 0;
        }
        if (m_paused && pending() <= m_low) {
            m_paused = false;
            m_resumed.set();
        }
    }
    // The writer stops: later writes are dropped; drain() and wait_closed() throw `error`.
    void failed(std::exception_ptr error) {
        m_error = std::move(error);
        m_buffer.clear();
        m_sent = 0;
        m_paused = false;
        m_resumed.set();
        if (m_closing) {
            close_now();
        }
    }
    // Drops the buffer (with ECONNABORTED for drain() if bytes were dropped) and wakes every
    // waiter: abort(), or the writer destroyed.
    void drop_all() {
        if (pending() != 0 && !m_error) {
            m_error = std::make_exception_ptr(std::system_error(
                ECONNABORTED, std::system_category(),
                "aio::stream_writer: aborted (abort() or destroyed) with unsent data"));
        }
        m_buffer.clear();
        m_sent = 0;
        m_paused = false;
        m_resumed.set();
    }
    void close_now() noexcept {
        if (m_sock != nullptr) {
            m_sock->close();
        }
        m_closed.set();
    }
    // Sends what the socket takes now: false once it would block. Then the pending write_eof
    // or close.
    bool send_some() {
        while (pending() != 0) {
            const ssize_t n =
                ::send(m_sock->fileno(), m_buffer.data() + m_sent, pending(), MSG_NOSIGNAL);
            if (n >= 0) {
                consumed(static_cast<std::size_t>(n));
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return false;
            } else if (errno != EINTR) {
                throw std::system_error(errno, std::system_category(), "aio::stream_writer");
            }
        }
        if (m_eof_requested && ::shutdown(m_sock->fileno(), SHUT_WR) < 0 && errno != ENOTCONN) {
            throw std::system_error(errno, std::system_category(), "aio::stream_writer::write_eof");
        }
        m_eof_requested = false;
        if (m_closing) {
            close_now();
        }
        return true;
    }
};

inline task<void> flush_writer(std::shared_ptr<writer_state> state) {
    try {
        while (state->m_sock != nullptr && !state->send_some()) {
            state->m_sock->watch().not_ready(io_events::writable);
            co_await wait_writable(state->m_sock->watch());
        }
    } catch (const cancelled_error&) {
        state->m_flushing = false;
        throw;
    } catch (...) {
        state->failed(std::current_exception());
    }
    state->m_flushing = false;
}

}  // namespace aio::detail

#endif
