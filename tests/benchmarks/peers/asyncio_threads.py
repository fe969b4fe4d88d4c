#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""aio_thread_bench's measurements on Python asyncio, with the same JSON keys.

    to_thread    `await asyncio.to_thread(f)` with an empty f, one after another (median, p99)
    threadsafe   loop.call_soon_threadsafe throughput: another thread posts N empty callbacks
    wakeup       a thread wakes the loop (blocked, no timers) with call_soon_threadsafe; p50/p99
                 from the thread's clock reading to the callback's, one wake-up every ~200 us
    timer        N `await asyncio.sleep(0.001)` one after another: overshoot p50 / p99 (µs),
                 and how many woke early
    idle         the process's CPU time (time.process_time) while the loop sleeps 2 s

    python3 asyncio_threads.py [--calls N] [--posts N] [--wakeups N] [--sleeps N]
"""
import argparse
import asyncio
import json
import sys
import threading
import time


def percentile(values, p):
    values = sorted(values)
    return values[int(p * (len(values) - 1) + 0.5)]


async def to_thread_round_trips(calls):
    each = []
    for _ in range(calls):
        start = time.perf_counter()
        await asyncio.to_thread(lambda: None)
        each.append((time.perf_counter() - start) * 1e6)
    return each


async def threadsafe_throughput(posts):
    loop = asyncio.get_running_loop()
    ran = 0

    def bump():
        nonlocal ran
        ran += 1

    def poster():
        for _ in range(posts):
            loop.call_soon_threadsafe(bump)

    start = time.perf_counter()
    await asyncio.to_thread(poster)
    while ran < posts:
        await asyncio.sleep(0)
    return posts / (time.perf_counter() - start)


async def wakeup_latencies(wakeups):
    loop = asyncio.get_running_loop()
    each = [0.0] * wakeups
    seen = threading.Event()

    def record(i, sent):
        each[i] = (time.perf_counter() - sent) * 1e6
        seen.set()

    def waker():
        for i in range(wakeups):
            time.sleep(200e-6)
            seen.clear()
            loop.call_soon_threadsafe(record, i, time.perf_counter())
            seen.wait(10)

    await asyncio.to_thread(waker)
    return each


async def sleep_overshoots(sleeps):
    each, early = [], 0
    for _ in range(sleeps):
        deadline = time.monotonic() + 0.001
        await asyncio.sleep(0.001)
        late = time.monotonic() - deadline
        early += late < 0
        each.append(late * 1e6)
    return each, early


async def idle_cpu_ms():
    start = time.process_time()
    await asyncio.sleep(2)
    return (time.process_time() - start) * 1000


async def main(opts):
    each = await to_thread_round_trips(opts.calls)
    print(json.dumps({"bench": "to_thread", "impl": "asyncio", "calls": opts.calls,
                      "mean_us": round(sum(each) / len(each), 2),
                      "p50_us": round(percentile(each, 0.5), 2),
                      "p99_us": round(percentile(each, 0.99), 2)}, separators=(",", ":")))
    per_second = await threadsafe_throughput(opts.posts)
    print(json.dumps({"bench": "threadsafe", "impl": "asyncio", "posts": opts.posts,
                      "calls_per_s": round(per_second)}, separators=(",", ":")))
    each = await wakeup_latencies(opts.wakeups)
    print(json.dumps({"bench": "wakeup", "impl": "asyncio", "wakeups": opts.wakeups,
                      "p50_us": round(percentile(each, 0.5), 2),
                      "p99_us": round(percentile(each, 0.99), 2)}, separators=(",", ":")))
    each, early = await sleep_overshoots(opts.sleeps)
    print(json.dumps({"bench": "timer", "impl": "asyncio", "sleeps": opts.sleeps,
                      "p50_us": round(percentile(each, 0.5), 2),
                      "p99_us": round(percentile(each, 0.99), 2), "early": early},
                     separators=(",", ":")))
    cpu_ms = await idle_cpu_ms()
    print(json.dumps({"bench": "idle", "impl": "asyncio", "seconds": 2,
                      "cpu_ms": round(cpu_ms, 2)}, separators=(",", ":")))


def count(text):
    value = int(text)
    if not 1 <= value <= 100_000_000:
        raise argparse.ArgumentTypeError(f"'{text}' is not a count from 1 to 1e8")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=count, default=20000)
    parser.add_argument("--posts", type=count, default=1000000)
    parser.add_argument("--wakeups", type=count, default=5000)
    parser.add_argument("--sleeps", type=count, default=1000)
    asyncio.run(main(parser.parse_args()))
    sys.stdout.flush()
