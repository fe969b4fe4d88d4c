// SPDX-License-Identifier: MIT
// Streams: open_connection / open_unix_connection, and the server calls (asyncio's streams
// module). Includes everything a stream program needs: reader, writer, server, getaddrinfo.
//
//     reader, writer = await                  auto [reader, writer] = co_await
//         asyncio.open_connection(                    aio::open_connection("127.0.0.1", 8888);
//             '127.0.0.1', 8888)
//     reader, writer = await                  auto [reader, writer] = co_await
//         asyncio.open_unix_connection(path)          aio::open_unix_connection(path);
//     writer.write(data)                      writer.write(data);
//     await writer.drain()                    co_await writer.drain();
//     data = await reader.read(100)           std::string data = co_await reader.read(100);
//     writer.close()                          writer.close();
//     await writer.wait_closed()              co_await writer.wait_closed();
//     writer.get_extra_info('peername')       writer.peername()
//
// As in asyncio, a connection is a pair: a stream_reader and a stream_writer (not one stream
// object), so a reading task and a writing task each hold their own half. They share the
// socket (a std::shared_ptr): it closes at writer.close() (after what is buffered is sent),
// or when the last of the two is destroyed (what is unsent is then dropped). open_connection
// resolves the host (aio::getaddrinfo: a numeric host needs no thread) and tries each address
// in turn, as asyncio does; when none connects, std::system_error with the first address's
// errno (ECONNREFUSED, ...) and a message listing each address's error. TCP connections get
// TCP_NODELAY, as asyncio's. The server side is in <aio/server.hpp>.
//
// Lifetime: the host is copied before the first suspension; co_await each call in the
// expression that makes it. Everything is for the loop's thread.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_STREAMS_HPP_INCLUDED
#define AIO_STREAMS_HPP_INCLUDED

#include "address.hpp"
#include "getaddrinfo.hpp"
#include "server.hpp"
#include "sock_ops.hpp"
#include "socket.hpp"
#include "stream_reader.hpp"
#include "stream_writer.hpp"
#include "task.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>

namespace aio {

/// What open_connection returns: `auto [reader, writer] = co_await aio::open_connection(...)`.
using stream_pair = std::pair<stream_reader, stream_writer>;

namespace detail {
inline stream_pair make_streams(std::shared_ptr<socket> sock, std::size_t limit) {
    stream_reader reader(sock, limit);
    stream_writer writer(std::move(sock));
    return stream_pair(std::move(reader), std::move(writer));
}
}  // namespace detail

/// Connects to `host`:`port` (asyncio.open_connection): the reader and the writer.
inline task<stream_pair> open_connection(std::string_view host, std::uint16_t port,
                                         std::size_t limit = stream_reader::default_limit) {
    const std::string name(host);  // copied before the first suspension
    auto resolving = getaddrinfo(name, port, AF_UNSPEC, SOCK_STREAM);
    const std::vector<address_info> infos = co_await std::move(resolving);
    std::string errors;
    int first_code = 0;
    for (const address_info& info : infos) {
        std::shared_ptr<socket> sock;
        try {
            sock = std::make_shared<socket>(info.family, SOCK_STREAM, info.protocol);
            auto connecting = sock_connect(*sock, info.address);
            co_await std::move(connecting);
        } catch (const std::system_error& e) {
            first_code = first_code == 0 ? e.code().value() : first_code;
            errors +=
                (errors.empty() ? "" : "; ") + info.address.to_string() + ": " + e.code().message();
            continue;
        }
        detail::set_nodelay(*sock, info.family);
        co_return detail::make_streams(std::move(sock), limit);
    }
    throw std::system_error(first_code, std::system_category(),
                            "aio::open_connection " + name + ':' + std::to_string(port) + ": " +
                                errors);
}

/// Connects to the Unix domain socket at `path` (asyncio.open_unix_connection).
inline task<stream_pair> open_unix_connection(std::string_view path,
                                              std::size_t limit = stream_reader::default_limit) {
    const address where = address::unix_path(path);
    auto sock = std::make_shared<socket>(AF_UNIX, SOCK_STREAM);
    auto connecting = sock_connect(*sock, where);
    co_await std::move(connecting);
    co_return detail::make_streams(std::move(sock), limit);
}

}  // namespace aio

#endif
