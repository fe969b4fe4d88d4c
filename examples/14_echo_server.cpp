// SPDX-License-Identifier: MIT
// 14_echo_server: the asyncio docs' "TCP echo server using streams", line for line:
//
//     import asyncio
//
//     async def handle_echo(reader, writer):
//         data = await reader.read(100)
//         message = data.decode()
//         addr = writer.get_extra_info('peername')
//
//         print(f"Received {message!r} from {addr!r}")
//
//         print(f"Send: {message!r}")
//         writer.write(data)
//         await writer.drain()
//
//         print("Close the connection")
//         writer.close()
//         await writer.wait_closed()
//
//     async def main():
//         server = await asyncio.start_server(
//             handle_echo, '127.0.0.1', 8888)
//
//         addrs = ', '.join(str(sock.getsockname()) for sock in server.sockets)
//         print(f'Serving on {addrs}')
//
//         async with server:
//             await server.serve_forever()
//
//     asyncio.run(main())
//
// Usage: 14_echo_server [port]   (8888 by default; 0 picks a free port, printed on the first
// line). Ctrl-C stops it: aio::run cancels main, and cancelling serve_forever closes the
// server (`async with server` closes it too). Try it with 15_echo_client.
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <fmt/core.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>

aio::task<> handle_echo(aio::stream_reader& reader, aio::stream_writer& writer) {
    std::string data = co_await reader.read(100);
    const std::string addr = writer.peername().to_string();

    fmt::print("Received '{}' from {}\n", data, addr);

    fmt::print("Send: '{}'\n", data);
    writer.write(data);
    co_await writer.drain();

    fmt::print("Close the connection\n");
    std::fflush(stdout);  // a pipe (the ctest check) gets each connection's lines at once
    writer.close();
    co_await writer.wait_closed();
}

aio::task<> serve(std::uint16_t port) {
    aio::server server = co_await aio::start_server(handle_echo, "127.0.0.1", port);

    std::string addrs;
    for (const aio::address& a : server.addresses()) {
        addrs += (addrs.empty() ? "" : ", ") + a.to_string();
    }
    fmt::print("Serving on {}\n", addrs);
    std::fflush(stdout);

    co_await server.serve_forever();  // the server closes when it is cancelled, or destroyed
}

int main(int argc, char** argv) {
    unsigned long port = 8888;
    if (argc > 1) {
        char* end = nullptr;
        port = std::strtoul(argv[1], &end, 10);
        if (*end != '\0' || port > 65535) {
            fmt::print(stderr, "usage: 14_echo_server [port]\n");
            return 2;
        }
    }
    std::signal(SIGINT, SIG_DFL);  // aio::run takes Ctrl-C over only from the default
    try {
        aio::run(serve(static_cast<std::uint16_t>(port)));
    } catch (const aio::keyboard_interrupt&) {
        fmt::print("Server stopped\n");
    }
    return 0;
}
