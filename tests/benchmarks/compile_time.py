#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Measures what including aio costs to compile, next to the standard headers it builds on.

Each file below is compiled with -std=c++20 -O0 -fsyntax-only, in turn (so that a noisy shared
machine disturbs them alike), --runs times per compiler; the table gives the median wall time,
the ratio to the baseline (the standard headers every coroutine program includes), and the
preprocessed line count (deterministic, unlike the time):

    baseline         #include <vector> <chrono> <coroutine> <exception>
    <aio/task.hpp>   tasks only (what a library defining coroutines includes)
    <aio/aio.hpp>    everything

    python3 tests/benchmarks/compile_time.py                      # g++ and clang++, 5 runs
    python3 tests/benchmarks/compile_time.py --compilers g++ --runs 9 --output compile.md

compare.py --compile-time appends the same table to its report.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

FILES = [
    ("baseline: `<vector> <chrono> <coroutine> <exception>`",
     "#include <vector>\n#include <chrono>\n#include <coroutine>\n#include <exception>\n"),
    ("`<aio/task.hpp>`", "#include <aio/task.hpp>\n"),
    ("`<aio/aio.hpp>`", "#include <aio/aio.hpp>\n"),
]


def compile_command(compiler: str, include: Path, source: Path, *extra: str) -> list[str]:
    return [compiler, "-std=c++20", "-O0", *extra, "-I", str(include), str(source)]


def measure(compilers: list[str], runs: int, include: Path) -> tuple[list[str], bool]:
    """Returns the markdown table's lines, and whether every compilation succeeded."""
    ok = True
    lines_of: dict[tuple[str, int], int] = {}
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="aio-compile-time-") as tmp:
        sources = []
        for i, (_, text) in enumerate(FILES):
            path = Path(tmp) / f"file{i}.cpp"
            path.write_text(text)
            sources.append(path)
        for c in compilers:
            for i, src in enumerate(sources):
                p = subprocess.run(compile_command(c, include, src, "-E"), capture_output=True,
                                   text=True)
                if p.returncode != 0:
                    print(f"compile_time.py: {c} failed on {FILES[i][0]}:\n{p.stderr[-2000:]}",
                          file=sys.stderr)
                    ok = False
                lines_of[(c, i)] = p.stdout.count("\n")
            for _ in range(runs):
                for i, src in enumerate(sources):
                    start = time.perf_counter()
                    p = subprocess.run(compile_command(c, include, src, "-fsyntax-only"),
                                       capture_output=True)
                    times.setdefault((c, i), []).append(time.perf_counter() - start)
                    ok = ok and p.returncode == 0

    out = [f"## Compile time of the headers (-std=c++20 -O0 -fsyntax-only, median of {runs})", "",
           "| file | " + " | ".join(f"{c} s | {c} ratio | {c} lines" for c in compilers) + " |",
           "|---|" + "---:|---:|---:|" * len(compilers)]
    for i, (label, _) in enumerate(FILES):
        cells = []
        for c in compilers:
            t = statistics.median(times[(c, i)])
            base = statistics.median(times[(c, 0)])
            cells += [f"{t:.2f}", f"{t / base:.2f}×" if base > 0 else "–",
                      f"{lines_of[(c, i)]:,}"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    return out, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compilers", default="g++,clang++", help="comma-separated (default g++,clang++)")
    ap.add_argument("--runs", type=int, default=5, help="compilations per file and compiler (default 5)")
    ap.add_argument("--include", default=str(ROOT / "include"), help="aio's include directory")
    ap.add_argument("--output", help="also write the markdown here")
    args = ap.parse_args()
    compilers = [c for c in args.compilers.split(",") if c]
    if not compilers or args.runs < 1:
        ap.error("need at least one compiler and one run")
    for c in compilers:
        if shutil.which(c) is None:
            ap.error(f"compiler not found: {c}")
    if not (Path(args.include) / "aio" / "aio.hpp").is_file():
        ap.error(f"no aio/aio.hpp under {args.include}")
    table, ok = measure(compilers, args.runs, Path(args.include))
    text = "\n".join(table)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
