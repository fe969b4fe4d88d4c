#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Echo server on Python asyncio streams (or uvloop), the echo benchmark's Python peers.

The asyncio docs' "TCP echo server using streams" shape (asyncio.start_server, one handler per
connection), with vmbench's fair server loop: read whatever has arrived (reader.read(65536))
and write it back, then drain; until EOF.

    python3 asyncio_echo.py [--host 127.0.0.1] [--port 0] [--uvloop]

Prints "listening on HOST:PORT" as its first line (the bound port, for --port 0), then serves
until SIGTERM or SIGINT and exits with status 0. --uvloop runs the same code on uvloop (Debian:
python3-uvloop, for /usr/bin/python3). Bad options: exit status 2 and one line. asyncio and
uvloop set TCP_NODELAY on their TCP connections themselves.
"""
import argparse
import asyncio
import ipaddress
import resource
import signal
import sys


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client went away mid-echo: nothing to answer
    finally:
        writer.close()


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(handle_echo, host, port)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    await stop.wait()
    server.close()
    # the handlers still running are cancelled when asyncio.run() returns


def ipv4(text: str) -> str:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an IPv4 address such as 127.0.0.1") from None
    return text


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port from 0 to 65535")
    return int(text)


def raise_fd_limit() -> None:
    """The idle benchmark holds 10,000 connections: soft limit on descriptors up to the hard."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", type=ipv4, default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=0, help="0 (default): any free port")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop")
    a = p.parse_args()
    if a.uvloop:
        try:
            import uvloop
        except ImportError:
            p.error(f"--uvloop: uvloop is not installed for {sys.executable} "
                    "(Debian: apt install python3-uvloop, then use /usr/bin/python3)")
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    raise_fd_limit()
    try:
        asyncio.run(serve(a.host, a.port))
    except OSError as e:
        print(f"asyncio_echo.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
