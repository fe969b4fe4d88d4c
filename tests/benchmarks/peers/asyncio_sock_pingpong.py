# SPDX-License-Identifier: MIT
# The asyncio peer of aio_sock_pingpong (tests/benchmarks/sock_pingpong.cpp): two tasks send one
# byte back and forth over a socketpair with loop.sock_sendall / loop.sock_recv.
#
#     python3 asyncio_sock_pingpong.py [--count N] [--uvloop]
import argparse
import asyncio
import socket
import time


async def echo(loop, s, count):
    for _ in range(count):
        data = await loop.sock_recv(s, 1)
        if not data:
            raise RuntimeError("echo: end of stream")
        await loop.sock_sendall(s, data)


async def ping(loop, s, count):
    for _ in range(count):
        await loop.sock_sendall(s, b"x")
        if not await loop.sock_recv(s, 1):
            raise RuntimeError("ping: end of stream")


async def pingpong(count):
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    with a, b:
        echoer = asyncio.create_task(echo(loop, b, count))
        await ping(loop, a, count)
        await echoer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop
        uvloop.install()
    start = time.perf_counter()
    asyncio.run(pingpong(args.count))
    seconds = time.perf_counter() - start
    name = "uvloop" if args.uvloop else "asyncio"
    print(f"{name} sock_* ping-pong: {args.count} round trips in {seconds:.3f} s: "
          f"{args.count / seconds:.0f} round trips/s")


if __name__ == "__main__":
    main()
