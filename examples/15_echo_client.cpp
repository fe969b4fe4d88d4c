// SPDX-License-Identifier: MIT
// 15_echo_client: the asyncio docs' "TCP echo client using streams", line for line:
//
//     import asyncio
//
//     async def tcp_echo_client(message):
//         reader, writer = await asyncio.open_connection(
//             '127.0.0.1', 8888)
//
//         print(f'Send: {message!r}')
//         writer.write(message.encode())
//         await writer.drain()
//
//         data = await reader.read(100)
//         print(f'Received: {data.decode()!r}')
//
//         print('Close the connection')
//         writer.close()
//         await writer.wait_closed()
//
//     asyncio.run(tcp_echo_client('Hello World!'))
//
// Usage: 15_echo_client [port [host]]   (8888 and 127.0.0.1 by default): start 14_echo_server
// first. The ctest test aio.example.echo_pair runs the two on a free port.
#include <aio/aio.hpp>
#include <aio/streams.hpp>
#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <system_error>

aio::task<> tcp_echo_client(std::string message, std::string host, std::uint16_t port) {
    auto [reader, writer] = co_await aio::open_connection(host, port);

    fmt::print("Send: '{}'\n", message);
    writer.write(message);
    co_await writer.drain();

    std::string data = co_await reader.read(100);
    fmt::print("Received: '{}'\n", data);

    fmt::print("Close the connection\n");
    writer.close();
    co_await writer.wait_closed();
}

int main(int argc, char** argv) {
    unsigned long port = 8888;
    if (argc > 1) {
        char* end = nullptr;
        port = std::strtoul(argv[1], &end, 10);
        if (*end != '\0' || port == 0 || port > 65535) {
            fmt::print(stderr, "usage: 15_echo_client [port [host]]\n");
            return 2;
        }
    }
    const std::string host = argc > 2 ? argv[2] : "127.0.0.1";
    try {
        aio::run(tcp_echo_client("Hello World!", host, static_cast<std::uint16_t>(port)));
    } catch (const std::system_error& e) {  // ECONNREFUSED: no server there
        fmt::print(stderr, "{}\n", e.what());
        return 1;
    }
    return 0;
}

// Expected output (with 14_echo_server running):
// Send: 'Hello World!'
// Received: 'Hello World!'
// Close the connection
