#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The seed's workload on Python asyncio, for comparison with aio_delay_bench.

Same structure as shared/seeds (delay() draws random.uniform, sleeps, returns the pause;
main() creates every task with loop.create_task, gathers them, returns the tasks), without
the per-task logging; same command line and the same one-line JSON result as the C++ programs.

    python3 asyncio_delay.py --task-count 1000000 --min-pause 0.1 --max-pause 1.0 --seed 42
"""
import argparse
import asyncio
import math
import json
import random
import resource
import sys
import time

MIN_PAUSE = 0.1
MAX_PAUSE = 1.0


async def delay(task_n: int) -> float:
    pause = random.uniform(MIN_PAUSE, MAX_PAUSE)
    await asyncio.sleep(pause)
    return pause


async def main(task_count: int, async_loop: asyncio.AbstractEventLoop) -> list:
    async_tasks = []
    for n in range(task_count):
        coro = delay(n)
        async_task = async_loop.create_task(coro)
        async_tasks.append(async_task)
    await asyncio.gather(*async_tasks)
    return async_tasks


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def peak_rss_bytes() -> int:
    """VmHWM (this process's own peak); ru_maxrss is inherited across fork+exec on Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def whole_count(text: str) -> int:
    """A task count: a whole number >= 1, in any float spelling ("1e6" is fine, "2.5" is not)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < 1 or value != math.floor(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number >= 1")
    return int(value)


def seconds(text: str) -> float:
    """A pause: finite and >= 0 (an infinite pause would never finish)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number of seconds >= 0")
    return value


def seed_value(text: str) -> int:
    """A seed, as the C++ benchmarks take it: a whole number from 0 to 2**64 - 1."""
    if not text.isdigit() or int(text) >= 2**64:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from 0 to 2**64 - 1")
    return int(text)


def run() -> int:
    global MIN_PAUSE, MAX_PAUSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task-count", "-n", type=whole_count, default=1_000_000)
    p.add_argument("--min-pause", type=seconds, default=0.1)
    p.add_argument("--max-pause", type=seconds, default=1.0)
    p.add_argument("--seed", type=seed_value, default=42)
    p.add_argument("--debug", action="store_true", help="loop.set_debug(True), as the seed does")
    a = p.parse_args()
    if a.max_pause < a.min_pause:
        p.error("--max-pause must not be less than --min-pause")
    MIN_PAUSE, MAX_PAUSE = a.min_pause, a.max_pause
    random.seed(a.seed)
    base_rss = current_rss_bytes()

    loop = asyncio.new_event_loop()
    loop.set_debug(a.debug)
    try:
        cpu0 = cpu_seconds()
        t0 = time.monotonic()
        tasks = loop.run_until_complete(main(a.task_count, loop))
        t1 = time.monotonic()
        cpu = cpu_seconds() - cpu0
        peak = peak_rss_bytes()
    finally:
        loop.stop()
        loop.close()
    wall = t1 - t0

    random.seed(a.seed)
    ok = len(tasks) == a.task_count
    largest = 0.0
    for t in tasks:
        want = random.uniform(MIN_PAUSE, MAX_PAUSE)
        ok = ok and t.done() and t.result() == want
        largest = max(largest, want)
    ok = ok and wall >= largest
    n = a.task_count
    print(json.dumps({
        "bench": "delay", "impl": "python", "n": n, "wall_s": round(wall, 6),
        "max_pause_s": round(largest, 6), "overhead_s": round(wall - largest, 6),
        "cpu_s": round(cpu, 6), "cpu_per_task_s": float(f"{cpu / n:.3e}"),
        "peak_rss_bytes": peak, "bytes_per_task": round(peak / n, 1),
        "base_rss_bytes": base_rss, "valid": ok,
    }, separators=(",", ":")), flush=True)
    if not ok:
        print("asyncio_delay.py: validation FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run())
