// SPDX-License-Identifier: MIT
// aio::stream_writer: buffered writes to a socket with flow control — the writing half of
// asyncio's StreamWriter: write, writelines, drain with high/low water marks, write_eof.
//
//     writer.write(data)                        writer.write(data);
//     writer.writelines([a, b])                 writer.writelines({a, b});
//     await writer.drain()                      co_await writer.drain();
//     writer.write_eof()                        writer.write_eof();
//     writer.transport.get_write_buffer_size()  writer.buffer_size()
//
// write() never blocks nor suspends: it sends at once what the socket takes and keeps the rest
// in a buffer that a flusher task (one at a time, created on the running loop when a write
// leaves bytes behind) sends as the socket becomes writable — asyncio's transport does the
// same with a writer callback. Past the high-water mark (64 KiB by default, asyncio's) the
// writer is paused and drain() waits until the buffer is down to the low-water mark (a quarter
// of the high one); otherwise drain() returns at once. A send error (EPIPE, ECONNRESET) is kept
// and thrown by the next drain(); later writes are dropped. write_eof() shuts the sending side
// down once the buffer is empty.
//
// Lifetime: the writer refers to its socket, which must outlive it. Destroying the writer
// cancels its flusher and drops what was not sent (asyncio's transport.abort()); drain() first
// to send it all. One task at a time may drain. Streams (open_connection, start_server, a
// stream's close and wait_closed) are not here yet.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_STREAM_WRITER_HPP_INCLUDED
#define AIO_STREAM_WRITER_HPP_INCLUDED

#include "event.hpp"
#include "event_loop.hpp"
#include "sock_ops.hpp"
#include "socket.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <cerrno>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace aio {

namespace detail {

// What the writer and its flusher task share: the flusher may outlive the writer by a few
// iterations (it ends with the cancellation the writer's destructor asked for).
struct writer_state {
    socket* m_sock;  // nullptr once the writer is gone
    std::string m_buffer;
    std::size_t m_sent = 0;  // of m_buffer, already sent
    std::size_t m_high;
    std::size_t m_low;
    bool m_paused = false;  // past the high-water mark, not yet back to the low one
    bool m_flushing = false;
    bool m_eof_requested = false;
    std::exception_ptr m_error;
    event m_resumed;  // set while not paused

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
    void failed(std::exception_ptr error) {
        m_error = std::move(error);
        m_buffer.clear();
        m_sent = 0;
        m_paused = false;
        m_resumed.set();
    }
    // Sends what the socket takes now: false once it would block.
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

}  // namespace detail

class stream_writer {
public:
    static constexpr std::size_t default_high_water = std::size_t{64} * 1024;  // asyncio's

    /// Writes to `sock`; the low-water mark defaults to a quarter of the high one (asyncio's).
    explicit stream_writer(socket& sock, std::size_t high_water = default_high_water,
                           std::optional<std::size_t> low_water = std::nullopt)
        : m_state(std::make_shared<detail::writer_state>()) {
        const std::size_t low = low_water.value_or(high_water / 4);
        if (low > high_water) {
            throw std::invalid_argument("aio::stream_writer: low water above high water");
        }
        m_state->m_sock = &sock;
        m_state->m_high = high_water;
        m_state->m_low = low;
        m_state->m_resumed.set();
    }
    stream_writer(const stream_writer&) = delete;
    stream_writer& operator=(const stream_writer&) = delete;
    ~stream_writer() {
        m_state->m_sock = nullptr;
        if (m_flusher.valid()) {
            m_flusher.cancel();
        }
    }

    /// Sends what the socket takes now and buffers the rest (never suspends). After a send
    /// error, or write_eof(), the data is dropped (the error comes from drain()).
    void write(std::string_view data) {
        detail::writer_state& s = *m_state;
        if (s.m_error || s.m_eof_requested || data.empty()) {
            return;
        }
        s.m_buffer.append(data);
        if (!s.m_flushing) {
            try {
                if (s.send_some()) {
                    return;
                }
            } catch (...) {
                s.failed(std::current_exception());
                return;
            }
            start_flusher();
        }
        if (!s.m_paused && s.pending() > s.m_high) {
            s.m_paused = true;
            s.m_resumed.clear();
        }
    }
    void writelines(std::initializer_list<std::string_view> parts) {
        for (const std::string_view part : parts) {
            write(part);
        }
    }
    template <class Range>
    void writelines(const Range& parts) {
        for (const auto& part : parts) {
            write(std::string_view(part));
        }
    }

    /// Waits until the buffer is down to the low-water mark if it went past the high one;
    /// returns at once otherwise. Throws the send error that stopped the writer, if any.
    task<void> drain() {
        const std::shared_ptr<detail::writer_state> state = m_state;
        if (!state->m_resumed.is_set()) {
            co_await state->m_resumed.wait();
        }
        if (state->m_error) {
            std::rethrow_exception(state->m_error);
        }
    }

    /// Shuts the sending side down (SHUT_WR) once what is buffered has been sent.
    void write_eof() {
        detail::writer_state& s = *m_state;
        if (s.m_error) {
            return;
        }
        s.m_eof_requested = true;
        if (!s.m_flushing) {
            try {
                if (!s.send_some()) {
                    start_flusher();
                }
            } catch (...) {
                s.failed(std::current_exception());
            }
        }
    }
    [[nodiscard]] bool can_write_eof() const noexcept { return true; }

    /// Bytes written and not yet sent (transport.get_write_buffer_size()).
    [[nodiscard]] std::size_t buffer_size() const noexcept { return m_state->pending(); }
    /// The (low, high) water marks (transport.get_write_buffer_limits()).
    [[nodiscard]] std::pair<std::size_t, std::size_t> write_buffer_limits() const noexcept {
        return {m_state->m_low, m_state->m_high};
    }

private:
    void start_flusher() {
        m_state->m_flushing = true;
        try {
            m_flusher = create_task(detail::flush_writer(m_state));
        } catch (...) {
            m_state->m_flushing = false;
            throw;
        }
    }

    std::shared_ptr<detail::writer_state> m_state;
    task_handle<void> m_flusher;
};

}  // namespace aio

#endif
