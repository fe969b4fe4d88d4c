#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs aio_thread_bench and peers/asyncio_threads.py alternately and prints a markdown table.

    python3 tests/benchmarks/thread_compare.py                 # 3 runs each, clang++
    python3 tests/benchmarks/thread_compare.py --runs 5 --calls 20000 --posts 1000000 \\
        --wakeups 5000 --compiler g++ --json threads.json

Builds aio_thread_bench (compare.py's build directory, build/bench-<compiler>, -O2) if needed.
Cells are medians over the runs; the ratio is asyncio / aio (higher = aio faster). Exit status 1
if a run failed or printed no result, 2 on a bad option.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import build_dir_for, first_line, log, machine_header  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TARGET = "aio_thread_bench"
# (bench, key, label, unit, lower is better)
ROWS = [
    ("to_thread", "p50_us", "to_thread round trip, median", "µs", True),
    ("to_thread", "p99_us", "to_thread round trip, p99", "µs", True),
    ("to_thread", "mean_us", "to_thread round trip, mean", "µs", True),
    ("threadsafe", "calls_per_s", "call_soon_threadsafe from one thread", "calls/s", False),
    ("wakeup", "p50_us", "cross-thread wake-up of a blocked loop, p50", "µs", True),
    ("wakeup", "p99_us", "cross-thread wake-up of a blocked loop, p99", "µs", True),
    ("timer", "p50_us", "sleep(1 ms) overshoot, median", "µs", True),
    ("timer", "p99_us", "sleep(1 ms) overshoot, p99", "µs", True),
    ("timer", "early", "sleep(1 ms) woken early (of --sleeps)", "", True),
    ("idle", "cpu_ms", "CPU time of a loop sleeping 2 s", "ms", True),
]
WAKEUP_TARGET_US = 20.0
OVERSHOOT_TARGET_US = 100.0


def ensure_built(args: argparse.Namespace) -> Path:
    bdir = build_dir_for(args, args.compiler)
    steps = []
    if args.rebuild or not (bdir / "CMakeCache.txt").exists():
        steps.append(["cmake", "-S", str(ROOT), "-B", str(bdir), "-DCMAKE_BUILD_TYPE=Release",
                      f"-DCMAKE_CXX_COMPILER={args.compiler}", "-DAIO_BUILD_BENCHMARKS=ON",
                      "-DAIO_BUILD_TESTS=OFF", "-DAIO_BUILD_EXAMPLES=OFF", "-DAIO_INSTALL=OFF"])
    steps.append(["cmake", "--build", str(bdir), "-j", str(os.cpu_count() or 2),
                  "--target", TARGET])
    for step in steps:
        log(" ".join(step))
        p = subprocess.run(step, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"thread_compare.py: {' '.join(step)} failed:\n"
                     f"{(p.stderr or p.stdout)[-2000:]}")
    return bdir / "tests" / "benchmarks" / TARGET


def run(cmd: list[str], timeout: float) -> dict[str, dict] | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        log(f"{cmd[0]}: {e}")
        return None
    if p.returncode != 0:
        log(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr[-2000:]}")
        return None
    results = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            results[row["bench"]] = row
    return results if len(results) == 5 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--posts", type=int, default=1000000)
    ap.add_argument("--wakeups", type=int, default=5000)
    ap.add_argument("--sleeps", type=int, default=1000)
    ap.add_argument("--compiler", default="clang++")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--build-root", default=str(ROOT / "build"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json")
    args = ap.parse_args()
    if min(args.runs, args.calls, args.posts, args.wakeups, args.sleeps) < 1:
        ap.error("--runs, --calls, --posts, --wakeups and --sleeps must be at least 1")

    exe = ensure_built(args)
    sizes = ["--calls", str(args.calls), "--posts", str(args.posts),
             "--wakeups", str(args.wakeups), "--sleeps", str(args.sleeps)]
    impls = {"aio": [str(exe), *sizes],
             "asyncio": [args.python, str(HERE / "peers" / "asyncio_threads.py"), *sizes]}
    header = machine_header([args.compiler])
    samples: dict[str, list[dict]] = {name: [] for name in impls}
    failed = False
    for r in range(args.runs):
        for name, cmd in impls.items():  # alternate, so machine noise hits both alike
            log(f"run {r + 1}/{args.runs}: {name}")
            out = run(cmd, args.timeout)
            if out is None:
                failed = True
            else:
                samples[name].append(out)

    def cell(name: str, bench: str, key: str) -> float | None:
        values = [s[bench][key] for s in samples[name]]
        return statistics.median(values) if values else None

    print("\n".join(header))
    print(f"- {args.runs} runs each, alternating; cells are medians; python: "
          f"`{first_line([args.python, '--version'])}`; calls={args.calls}, posts={args.posts}, "
          f"wakeups={args.wakeups}, sleeps={args.sleeps}\n")
    print("| measurement | aio | asyncio | asyncio / aio |")
    print("|---|---:|---:|---:|")
    table = []
    for bench, key, label, unit, lower_better in ROWS:
        a, p = cell("aio", bench, key), cell("asyncio", bench, key)
        ratio = None
        if a and p:
            ratio = p / a if lower_better else a / p
        fmt = (lambda v: "–" if v is None else
               (f"{v:,.0f} {unit}".strip() if unit in ("calls/s", "") else f"{v:,.1f} {unit}"))
        print(f"| {label} | {fmt(a)} | {fmt(p)} | "
              f"{'–' if ratio is None else f'{ratio:.1f}×'} |")
        table.append({"bench": bench, "key": key, "aio": a, "asyncio": p, "ratio": ratio})
    wake = cell("aio", "wakeup", "p50_us")
    if wake is not None:
        verdict = "PASS" if wake <= WAKEUP_TARGET_US else "MISS"
        print(f"\nTarget: cross-thread wake-up p50 ≤ {WAKEUP_TARGET_US:g} µs: {wake:.1f} µs, "
              f"{verdict}")
    over = cell("aio", "timer", "p50_us")
    if over is not None:
        verdict = "PASS" if over <= OVERSHOOT_TARGET_US else "MISS"
        print(f"Target: sleep(1 ms) overshoot median ≤ {OVERSHOOT_TARGET_US:g} µs: {over:.1f} µs, "
              f"{verdict}")
    early = [s["timer"]["early"] for s in samples["aio"]]
    if any(early):
        print(f"FAIL: aio woke a sleep early ({early} per run): a timer must never fire early")
        failed = True
    if args.json:
        Path(args.json).write_text(json.dumps({"header": header, "rows": table,
                                               "samples": samples}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
