// SPDX-License-Identifier: MIT
// aio::stream_reader: buffered reads from a socket — the reading half of asyncio's
// StreamReader: read(n), readexactly(n), readuntil(sep), readline(), at_eof(), 64 KiB limit.
//
//     data = await reader.read(100)             std::string d = co_await reader.read(100);
//     line = await reader.readline()            std::string l = co_await reader.readline();
//     data = await reader.readexactly(4)        std::string d = co_await reader.readexactly(4);
//     data = await reader.readuntil(b'\r\n')    std::string d = co_await reader.readuntil("\r\n");
//     except IncompleteReadError as e           catch (const aio::incomplete_read_error& e)
//     except LimitOverrunError as e             catch (const aio::limit_overrun_error& e)
//
// Pull, not push: asyncio's transport reads whenever the socket is readable and feeds the
// reader, pausing at twice the limit; here a read call receives from the socket only when its
// buffer cannot answer it, so the buffer never holds more than the limit plus one receive, and
// a task that stops reading stops the peer (the kernel's buffers fill) with no pause/resume.
// While it waits with nothing buffered the reader holds no buffer: a receive into an empty one
// lands in a per-thread scratch and only what the call does not return is kept (an idle
// connection costs no receive buffer).
// One task at a time may read (a second: invalid_state_error, from the fd's reader slot).
// Cancelling a read leaves the buffer as it was: a receive that was cancelled received nothing.
//
// A socket closed under the reader (its writer's close() or abort()) reads as end of stream, as
// asyncio's connection_lost feeds EOF.
//
// Lifetime: a reader made by open_connection or a server (<aio/streams.hpp>) shares its socket
// with its writer (a std::shared_ptr): the socket closes when the last of the two goes (or at
// the writer's close()). A reader made from a `socket&` refers to it, and that socket must
// outlive it. Movable while no read is in progress.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_STREAM_READER_HPP_INCLUDED
#define AIO_STREAM_READER_HPP_INCLUDED

#include "detail/fd_watch.hpp"
#include "detail/io_events.hpp"
#include "sock_ops.hpp"
#include "socket.hpp"
#include "task.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <sys/socket.h>

namespace aio {

namespace detail {
// The receive buffer of a stream_reader whose buffer is empty: one per thread, so an idle
// connection owns none (its bytes are copied out at once, before any suspension).
inline std::span<char> recv_scratch() {
    static constexpr std::size_t size = std::size_t{64} * 1024;
    thread_local const std::unique_ptr<char[]> scratch =
        std::make_unique_for_overwrite<char[]>(size);
    return {scratch.get(), size};
}
}  // namespace detail

/// The stream ended before a read had all it asked for (asyncio.IncompleteReadError): what came
/// is in partial(); expected() is how many bytes were asked for (nullopt: a readuntil).
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::optional<std::size_t> expected)
        : std::runtime_error(std::to_string(partial.size()) + " bytes read on a total of " +
                             (expected ? std::to_string(*expected) : std::string("undefined")) +
                             " expected bytes"),
          m_partial(std::move(partial)), m_expected(expected) {}
    [[nodiscard]] const std::string& partial() const noexcept { return m_partial; }
    [[nodiscard]] std::optional<std::size_t> expected() const noexcept { return m_expected; }

private:
    std::string m_partial;
    std::optional<std::size_t> m_expected;
};

/// readuntil found no separator within the reader's limit (asyncio.LimitOverrunError); the data
/// stays in the buffer. consumed(): how many bytes are to be consumed.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(const char* what, std::size_t consumed)
        : std::runtime_error(what), m_consumed(consumed) {}
    [[nodiscard]] std::size_t consumed() const noexcept { return m_consumed; }

private:
    std::size_t m_consumed;
};

class stream_reader {
public:
    static constexpr std::size_t default_limit = std::size_t{64} * 1024;  // asyncio's 2 ** 16

    explicit stream_reader(socket& sock, std::size_t limit = default_limit)
        : m_sock(&sock), m_limit(limit) {
        if (limit == 0) {
            throw std::invalid_argument("aio::stream_reader: the limit must be positive");
        }
    }
    /// Reads from a socket it shares (with a stream_writer, say): see the header comment.
    explicit stream_reader(std::shared_ptr<socket> sock, std::size_t limit = default_limit)
        : stream_reader(*checked(sock), limit) {
        m_owner = std::move(sock);
    }

    /// Up to `n` bytes (at least one unless at end of stream); n < 0: everything until end of
    /// stream; n == 0: "".
    task<std::string> read(std::ptrdiff_t n = -1) {
        if (n == 0) {
            co_return std::string();
        }
        if (n < 0) {
            while (!m_eof) {
                co_await fill();
            }
            co_return take(size());
        }
        if (size() == 0 && !m_eof) {
            std::string direct;  // what came goes straight here, the rest into the buffer
            auto filling = fill(&direct, static_cast<std::size_t>(n));
            co_await std::move(filling);
            if (!direct.empty()) {
                co_return direct;
            }
        }
        co_return take(std::min(size(), static_cast<std::size_t>(n)));
    }

    /// Exactly `n` bytes; at end of stream before that, incomplete_read_error with what came
    /// (the buffer is then empty).
    task<std::string> readexactly(std::size_t n) {
        while (size() < n) {
            if (m_eof) {
                throw incomplete_read_error(take(size()), n);
            }
            co_await fill();
        }
        co_return take(n);
    }

    /// Everything up to and including `separator`. At end of stream without it:
    /// incomplete_read_error with the rest (the buffer is then empty). No separator within the
    /// limit: limit_overrun_error, and the data stays in the buffer.
    task<std::string> readuntil(std::string separator = "\n") {
        if (separator.empty()) {
            throw std::invalid_argument("aio::stream_reader::readuntil: empty separator");
        }
        std::size_t searched = 0;  // no separator starts before this offset
        for (;;) {
            const std::string_view data = view();
            const std::size_t found = data.find(separator, searched);
            if (found != std::string_view::npos) {
                if (found > m_limit) {
                    throw limit_overrun_error("Separator is found, but chunk is longer than limit",
                                              found);
                }
                co_return take(found + separator.size());
            }
            if (data.size() + 1 > m_limit + separator.size()) {
                throw limit_overrun_error("Separator is not found, and chunk exceed the limit",
                                          data.size() + 1 - separator.size());
            }
            if (m_eof) {
                throw incomplete_read_error(take(size()), std::nullopt);
            }
            searched = data.size() + 1 >= separator.size() ? data.size() + 1 - separator.size() : 0;
            co_await fill();
        }
    }

    /// A line, "\n" included; at end of stream, the rest without one ("" at the end). A line
    /// longer than the limit: std::length_error, and that line is dropped from the buffer
    /// (asyncio's ValueError).
    task<std::string> readline() {
        std::string line;
        std::optional<std::string> partial;
        std::size_t overrun = 0;
        bool overran = false;
        try {
            auto until = readuntil("\n");
            line = co_await std::move(until);
        } catch (const incomplete_read_error& e) {
            partial = e.partial();
        } catch (const limit_overrun_error& e) {
            overran = true;
            overrun = e.consumed();
        }
        if (partial) {
            co_return std::move(*partial);
        }
        if (overran) {
            const std::string_view data = view();
            if (data.substr(overrun, 1) == "\n") {
                drop(overrun + 1);
            } else {
                drop(size());
            }
            throw std::length_error("aio::stream_reader::readline: line longer than the limit");
        }
        co_return line;
    }

    /// End of stream reached and nothing left in the buffer.
    [[nodiscard]] bool at_eof() const noexcept { return m_eof && size() == 0; }
    /// Bytes received and not yet read.
    [[nodiscard]] std::size_t size() const noexcept { return m_end - m_begin; }
    [[nodiscard]] std::size_t limit() const noexcept { return m_limit; }

private:
    static socket* checked(const std::shared_ptr<socket>& sock) {
        if (sock == nullptr) {
            throw std::invalid_argument("aio::stream_reader: no socket");
        }
        return sock.get();
    }
    // One receive onto the end of the buffer, waiting until the socket is readable if need be
    // (the first `max` bytes go to `*direct` instead when the buffer is empty). A socket closed
    // here (before or during the wait) is end of stream.
    task<void> fill(std::string* direct = nullptr, std::size_t max = 0) {
        for (;;) {
            if (!m_sock->is_open()) {
                m_eof = true;
                co_return;
            }
            if (receive(direct, max)) {
                co_return;
            }
            if (size() == 0) {
                release();
            }
            m_sock->watch().not_ready(detail::io_events::readable);
            co_await detail::wait_readable(m_sock->watch());
        }
    }
    // One recv (no suspension): false on EAGAIN. An empty buffer receives into the thread's
    // scratch (see detail::recv_scratch) and keeps only what the caller does not take.
    bool receive(std::string* direct, std::size_t max) {
        static constexpr std::size_t chunk = std::size_t{64} * 1024;
        const bool empty = size() == 0;
        std::span<char> room;
        if (empty) {
            room = detail::recv_scratch();
        } else {
            reserve(chunk);
            room = std::span<char>(m_data.get() + m_end, m_capacity - m_end);
        }
        const ssize_t got = ::recv(m_sock->fileno(), room.data(), room.size(), 0);
        if (got < 0) {
            const int code = errno;
            if (detail::would_block(code)) {
                return false;
            }
            if (code == EINTR) {
                return receive(direct, max);
            }
            detail::sock_error(code, "sock_recv");
        }
        std::size_t n = static_cast<std::size_t>(got);
        if (n == 0) {
            m_eof = true;
            return true;
        }
        if (!empty) {
            m_end += n;
            return true;
        }
        std::size_t taken = 0;
        if (direct != nullptr) {
            taken = std::min(n, max);
            direct->assign(room.data(), taken);
        }
        if (n > taken) {
            reserve(n - taken);
            std::memcpy(m_data.get() + m_end, room.data() + taken, n - taken);
            m_end += n - taken;
        }
        return true;
    }
    // why: a connection waiting with nothing buffered keeps no buffer, so 10,000 idle
    // connections do not each hold the pages their last receive touched.
    void release() noexcept {
        m_data.reset();
        m_capacity = m_begin = m_end = 0;
    }
    void reserve(std::size_t room) {
        if (m_capacity - m_end >= room) {
            return;
        }
        const std::size_t held = size();
        if (m_capacity >= held + room) {  // room enough once the read bytes are dropped
            std::memmove(m_data.get(), m_data.get() + m_begin, held);
        } else {
            const std::size_t capacity = std::max(m_capacity * 2, held + room);
            auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
            if (held != 0) {
                std::memcpy(bigger.get(), m_data.get() + m_begin, held);
            }
            m_data = std::move(bigger);
            m_capacity = capacity;
        }
        m_begin = 0;
        m_end = held;
    }
    [[nodiscard]] std::string_view view() const noexcept {
        return m_data == nullptr ? std::string_view()
                                 : std::string_view(m_data.get() + m_begin, size());
    }
    std::string take(std::size_t n) {
        if (n == 0) {
            return {};
        }
        std::string out(m_data.get() + m_begin, n);
        drop(n);
        return out;
    }
    void drop(std::size_t n) noexcept {
        m_begin += n;
        if (m_begin == m_end) {
            m_begin = m_end = 0;
        }
    }

    socket* m_sock;
    std::shared_ptr<socket> m_owner;  // null when made from a socket&
    std::size_t m_limit;
    std::unique_ptr<char[]> m_data;
    std::size_t m_capacity = 0;
    std::size_t m_begin = 0;  // the buffered bytes are [m_begin, m_end)
    std::size_t m_end = 0;
    bool m_eof = false;
};

}  // namespace aio

#endif
