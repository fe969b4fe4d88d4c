// SPDX-License-Identifier: MIT
// aio_sock_pingpong: the loop's low-level socket calls in a ping-pong. Two tasks on one loop
// send one byte back and forth over a socketpair, `--count` round trips (default 100,000), with
// sock_sendall and sock_recv_into; prints round trips per second. Each round trip is two waits
// on an fd, two sends and four recvs (the try-first recv of each wait meets EAGAIN once), and
// no epoll_ctl: each fd is registered once for the run (check with `strace -c -f`).
// peers/asyncio_sock_pingpong.py is the same with loop.sock_sendall / loop.sock_recv.
//
//     ./aio_sock_pingpong [--count N]
#include <aio/aio.hpp>
#include <aio/sock_ops.hpp>
#include <aio/socket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <stdexcept>

namespace {

aio::task<void> echo(aio::socket& s, long count) {
    std::byte byte[1] = {};
    for (long i = 0; i < count; ++i) {
        if (co_await aio::sock_recv_into(s, byte) != 1) {
            throw std::runtime_error("echo: end of stream");
        }
        co_await aio::sock_sendall(s, std::span<const std::byte>(byte));
    }
}

aio::task<void> ping(aio::socket& s, long count) {
    std::byte byte[1] = {std::byte{1}};
    for (long i = 0; i < count; ++i) {
        co_await aio::sock_sendall(s, std::span<const std::byte>(byte));
        if (co_await aio::sock_recv_into(s, byte) != 1) {
            throw std::runtime_error("ping: end of stream");
        }
    }
}

aio::task<void> pingpong(long count) {
    auto [a, b] = aio::socket::pair();
    auto echoer = aio::create_task(echo(b, count));
    co_await ping(a, count);
    co_await echoer;
}

}  // namespace

int main(int argc, char** argv) {
    long count = 100000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--count") == 0) {
            count = std::atol(argv[i + 1]);
        }
    }
    const auto start = std::chrono::steady_clock::now();
    aio::run(pingpong(count));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("aio sock_* ping-pong: %ld round trips in %.3f s: %.0f round trips/s\n", count,
                seconds, static_cast<double>(count) / seconds);
    return 0;
}
