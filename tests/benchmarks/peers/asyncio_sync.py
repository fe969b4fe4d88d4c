#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The coordination rows of aio_micro_bench, in Python asyncio, for comparison.

Same six operations as BM_queue_ping_pong, BM_queue_throughput/10000, BM_lock_uncontended,
BM_lock_handoff/100, BM_event_wake/1000 and BM_semaphore_tasks/1000. Prints one JSON line per
row: {"name": ..., "ns_per_op": ...} (CPU time, time.process_time_ns). --scale shrinks the
iteration counts (e.g. 0.01 for a smoke run).
"""
import argparse
import asyncio
import json
import time


async def queue_ping_pong(n):
    ping, pong = asyncio.Queue(), asyncio.Queue()

    async def partner():
        while True:
            pong.put_nowait(await ping.get())

    t = asyncio.create_task(partner())
    v = 0
    for _ in range(n):
        ping.put_nowait(v)
        v = await pong.get()
    t.cancel()
    await asyncio.gather(t, return_exceptions=True)
    return n


async def queue_throughput(n):
    q = asyncio.Queue(64)

    async def produce():
        for i in range(n):
            await q.put(i)

    t = asyncio.create_task(produce())
    total = 0
    for _ in range(n):
        total += await q.get()
    await t
    return n


async def lock_uncontended(n):
    lock = asyncio.Lock()
    for _ in range(n):
        await lock.acquire()
        lock.release()
    return n


async def lock_handoff(n_tasks, rounds=10):
    lock = asyncio.Lock()

    async def holder():
        for _ in range(rounds):
            async with lock:
                await asyncio.sleep(0)

    await asyncio.gather(*(holder() for _ in range(n_tasks)))
    return n_tasks * rounds


async def event_wake(waiters):
    ev = asyncio.Event()
    tasks = [asyncio.create_task(ev.wait()) for _ in range(waiters)]
    await asyncio.sleep(0)
    ev.set()
    await asyncio.gather(*tasks)
    return waiters


async def semaphore_tasks(n_tasks):
    sem = asyncio.Semaphore(10)

    async def passer():
        async with sem:
            await asyncio.sleep(0)

    await asyncio.gather(*(passer() for _ in range(n_tasks)))
    return n_tasks


ROWS = [
    ("BM_queue_ping_pong", lambda s: queue_ping_pong(max(1, int(200_000 * s))), 1),
    ("BM_queue_throughput/10000", lambda s: queue_throughput(max(64, int(10_000 * s))), 20),
    ("BM_lock_uncontended", lambda s: lock_uncontended(max(1, int(1_000_000 * s))), 1),
    ("BM_lock_handoff/100", lambda s: lock_handoff(100), 20),
    ("BM_event_wake/1000", lambda s: event_wake(1000), 20),
    ("BM_semaphore_tasks/1000", lambda s: semaphore_tasks(1000), 20),
]


async def measure(make, scale, repeats):
    repeats = max(1, int(repeats * min(scale, 1.0)))
    ops = 0
    start = time.process_time_ns()
    for _ in range(repeats):
        ops += await make(scale)
    return (time.process_time_ns() - start) / ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="iteration count factor")
    args = parser.parse_args()
    for name, make, repeats in ROWS:
        ns = asyncio.run(measure(make, args.scale, repeats))
        print(json.dumps({"name": name, "ns_per_op": round(ns, 1)}), flush=True)


if __name__ == "__main__":
    main()
