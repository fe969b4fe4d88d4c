// SPDX-License-Identifier: MIT
// aio::stream_writer: buffered writes to a socket with flow control — the writing half of
// asyncio's StreamWriter: write, writelines, drain with high/low water marks, write_eof.
//
//     writer.write(data)                        writer.write(data);
//     writer.writelines([a, b])                 writer.writelines({a, b});
//     await writer.drain()                      co_await writer.drain();
//     writer.write_eof()                        writer.write_eof();
//     writer.transport.get_write_buffer_size()  writer.buffer_size()
//     writer.close()                            writer.close();
//     await writer.wait_closed()                co_await writer.wait_closed();
//     writer.transport.abort()                  writer.abort();
//     writer.get_extra_info('peername')         writer.peername()
//
// write() never blocks nor suspends: it sends at once what the socket takes and keeps the rest
// in a buffer that a flusher task (one at a time, created on the running loop when a write
// leaves bytes behind) sends as the socket becomes writable — asyncio's transport does the
// same with a writer callback. Past the high-water mark (64 KiB by default, asyncio's) the
// writer is paused and drain() waits until the buffer is down to the low-water mark (a quarter
// of the high one); otherwise drain() returns at once. A send error (EPIPE, ECONNRESET) is kept
// and thrown by the next drain(); later writes are dropped. write_eof() shuts the sending side
// down once the buffer is empty. A write after close() or write_eof() is invalid_state_error
// (asyncio raises for write after write_eof), never silently dropped.
//
// close() is transport.close(): what is buffered is still sent, then the socket is closed;
// co_await wait_closed() returns once it is (and throws the send error that ended the
// connection, if any, as asyncio's does). abort() closes at once and drops the buffer.
//
// Lifetime: a writer made by open_connection or a server (<aio/streams.hpp>) shares its socket
// with its reader (a std::shared_ptr): the socket closes at close(), or when the last of the
// two goes. A writer made from a `socket&` refers to it, and that socket must outlive it.
// Destroying the writer cancels its flusher and drops what was not sent (asyncio's abort());
// a task waiting in drain() or wait_closed() then wakes, drain() with std::system_error
// ECONNABORTED if bytes were dropped. drain() (or close() and wait_closed()) first to send it
// all. One task at a time may drain. A moved-from writer's calls throw invalid_state_error.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_STREAM_WRITER_HPP_INCLUDED
#define AIO_STREAM_WRITER_HPP_INCLUDED

#include "detail/writer_state.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "sock_ops.hpp"
#include "socket.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace aio {

class stream_writer {
public:
    static constexpr std::size_t default_high_water = std::size_t{64} * 1024;  // asyncio's

    /// Writes to `sock`, which must outlive the writer; the low-water mark defaults to a quarter
    /// of the high one (asyncio's).
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
    /// Writes to a socket it shares (with a stream_reader, say): see the header comment.
    explicit stream_writer(std::shared_ptr<socket> sock,
                           std::size_t high_water = default_high_water,
                           std::optional<std::size_t> low_water = std::nullopt)
        : stream_writer(*checked(sock), high_water, low_water) {
        m_owner = std::move(sock);
    }
    stream_writer(stream_writer&& other) noexcept = default;
    stream_writer& operator=(stream_writer&& other) noexcept {
        if (this != &other) {
            abandon();
            m_state = std::move(other.m_state);
            m_flusher = std::move(other.m_flusher);
            m_owner = std::move(other.m_owner);
        }
        return *this;
    }
    ~stream_writer() { abandon(); }

    /// Sends what the socket takes now and buffers the rest (never suspends). After close() or
    /// write_eof(): invalid_state_error (nothing could send it). After a send error the data is
    /// dropped (the error comes from drain(), as asyncio's transport drops it).
    void write(std::string_view data) {
        detail::writer_state& s = state();
        if (s.m_closing || s.m_eof_called) {
            throw invalid_state_error(s.m_closing
                                          ? "aio::stream_writer::write after close() or abort()"
                                          : "aio::stream_writer::write after write_eof()");
        }
        if (s.m_error || data.empty()) {
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
        const std::shared_ptr<detail::writer_state> s = m_state;
        if (s == nullptr) {
            throw invalid_state_error("aio::stream_writer: moved from");
        }
        if (!s->m_resumed.is_set()) {
            co_await s->m_resumed.wait();
        }
        if (s->m_error) {
            std::rethrow_exception(s->m_error);
        }
    }

    /// Shuts the sending side down (SHUT_WR) once what is buffered has been sent.
    void write_eof() {
        detail::writer_state& s = state();
        if (s.m_error || s.m_closing) {
            return;
        }
        s.m_eof_requested = true;
        s.m_eof_called = true;
        kick();
    }
    [[nodiscard]] bool can_write_eof() const noexcept { return true; }

    /// Closes the socket once what is buffered has been sent (writer.close()); idempotent.
    void close() {
        detail::writer_state& s = state();
        if (s.m_closing) {
            return;
        }
        s.m_closing = true;
        if (s.m_error) {
            s.close_now();
            return;
        }
        kick();
    }
    /// close() was called (writer.is_closing()).
    [[nodiscard]] bool is_closing() const noexcept { return m_state && m_state->m_closing; }
    /// Waits until the socket is closed; throws the send error that ended the connection.
    task<void> wait_closed() {
        const std::shared_ptr<detail::writer_state> s = m_state;
        if (s == nullptr) {
            throw invalid_state_error("aio::stream_writer: moved from");
        }
        co_await s->m_closed.wait();
        if (s->m_error) {
            std::rethrow_exception(s->m_error);
        }
    }
    /// Closes at once and drops the buffer (transport.abort()).
    void abort() {
        detail::writer_state& s = state();
        s.m_closing = true;
        if (m_flusher.valid()) {
            m_flusher.cancel();
        }
        s.drop_all();
        s.close_now();
    }

    /// Bytes written and not yet sent (transport.get_write_buffer_size()).
    [[nodiscard]] std::size_t buffer_size() const { return state().pending(); }
    /// The (low, high) water marks (transport.get_write_buffer_limits()).
    [[nodiscard]] std::pair<std::size_t, std::size_t> write_buffer_limits() const {
        return {state().m_low, state().m_high};
    }
    /// The peer's and the local address (get_extra_info('peername') / ('sockname')).
    [[nodiscard]] address peername() const { return state().m_sock->getpeername(); }
    [[nodiscard]] address sockname() const { return state().m_sock->getsockname(); }
    /// The socket written to (get_extra_info('socket')).
    [[nodiscard]] socket& get_socket() const { return *state().m_sock; }

private:
    static socket* checked(const std::shared_ptr<socket>& sock) {
        if (sock == nullptr) {
            throw std::invalid_argument("aio::stream_writer: no socket");
        }
        return sock.get();
    }
    detail::writer_state& state() const {
        if (m_state == nullptr) {
            throw invalid_state_error("aio::stream_writer: moved from");
        }
        return *m_state;
    }
    // Sends now what the socket takes, or leaves it to a flusher, for write_eof and close.
    void kick() {
        detail::writer_state& s = *m_state;
        if (s.m_flushing) {
            return;  // it does the write_eof or close once the buffer is sent
        }
        try {
            if (!s.send_some()) {
                start_flusher();
            }
        } catch (...) {
            s.failed(std::current_exception());
        }
    }
    void start_flusher() {
        m_state->m_flushing = true;
        try {
            m_flusher = create_task(detail::flush_writer(m_state));
        } catch (...) {
            m_state->m_flushing = false;
            throw;
        }
    }
    // The writer goes: the flusher stops, waiters wake (bytes dropped: drain() throws).
    void abandon() noexcept {
        if (m_state == nullptr) {
            return;
        }
        if (m_flusher.valid()) {
            m_flusher.cancel();
        }
        try {
            m_state->drop_all();
        } catch (...) {  // bad_alloc making the error: the waiters still wake
            m_state->m_paused = false;
            m_state->m_resumed.set();
        }
        m_state->m_sock = nullptr;
        m_state->m_closed.set();
        m_state.reset();
        m_flusher = task_handle<void>();
        m_owner.reset();  // closes the socket if the reader has gone too
    }

    std::shared_ptr<detail::writer_state> m_state;
    task_handle<void> m_flusher;
    std::shared_ptr<socket> m_owner;  // null when made from a socket&
};

}  // namespace aio

#endif
