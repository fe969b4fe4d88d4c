#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs the echo benchmark: one load client (aio_echo_client) against every echo server.

vmbench's ping-pong on loopback: messages of 1 KiB, 10 KiB and 100 KiB with 10 concurrent
clients, and 1 KiB with 1,000 clients; requests/s and p99 latency. Every server is started once
(port 0, the port read from its "listening on HOST:PORT" line) and the client runs against them
in turn, alternately (server A, B, C, A, B, C, ...) so that a noisy shared machine disturbs them
alike; medians of the runs go into a markdown table with the ratios to Asio and to uvloop. Then
each server is started afresh to hold idle connections: its memory per connection and its CPU
while idle.

    python3 tests/benchmarks/echo_compare.py                 # 3 runs of 3 s per cell, ~3 minutes
    python3 tests/benchmarks/echo_compare.py --smoke         # tiny durations: does it all work?
    python3 tests/benchmarks/echo_compare.py --runs 5 --duration 5 --output echo.md --json echo.json

The client and the Asio server are built if needed into build/bench-<compiler> (the same build
directory as compare.py's, compiled at -O2); the asyncio peers run on an interpreter that has
uvloop (--python, by default the first of this one and /usr/bin/python3 that imports it).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from compare import build_dir_for, first_line, fmt_ratio, log  # noqa: E402

# The servers, in the order they take turns. Each command gets "--port 0" appended and must print
# "listening on HOST:PORT" as its first line, then serve until SIGTERM (exit status 0).
# {bin}: the benchmarks' build directory; {python}: the interpreter with uvloop; {peers}: peers/.
AIO = "aio streams"
ASIO = "Asio (C++20 coroutines)"
UVLOOP = "asyncio + uvloop"
SERVERS: list[tuple[str, list[str]]] = [
    (AIO, ["{bin}/aio_echo_server"]),
    (ASIO, ["{bin}/aio_asio_echo_server"]),
    (UVLOOP, ["{python}", "{peers}/asyncio_echo.py", "--uvloop"]),
    ("Python asyncio", ["{python}", "{peers}/asyncio_echo.py"]),
]

# (message size in bytes, concurrent clients): vmbench's sizes with 10 clients, and 1,000 clients
CASES = [(1024, 10), (10 * 1024, 10), (100 * 1024, 10), (1024, 1000)]

# The targets, at 1 KiB with 10 clients, in one run.
TARGET_VS_ASIO = 1.0
TARGET_VS_UVLOOP = 3.0

CLIENT = "aio_echo_client"
AIO_SERVER = "aio_echo_server"
ASIO_SERVER = "aio_asio_echo_server"


def ensure_built(args: argparse.Namespace) -> Path:
    """Configures build/bench-<compiler> if needed (compare.py's flags), builds the client, the
    aio server and, if Asio was found, the Asio server; make makes this a no-op when they are up
    to date."""
    bdir = build_dir_for(args, args.compiler)
    if args.rebuild or not (bdir / "CMakeCache.txt").exists():
        log(f"configuring {bdir} ...")
        run_step(["cmake", "-S", str(ROOT), "-B", str(bdir), "-DCMAKE_BUILD_TYPE=Release",
                  f"-DCMAKE_CXX_COMPILER={args.compiler}", "-DAIO_BUILD_BENCHMARKS=ON",
                  "-DAIO_BUILD_TESTS=OFF", "-DAIO_BUILD_EXAMPLES=OFF", "-DAIO_INSTALL=OFF"])
    targets = [CLIENT, AIO_SERVER]
    cache = (bdir / "CMakeCache.txt").read_text(errors="replace")
    if re.search(r"^ASIO_INCLUDE_DIR:PATH=.*NOTFOUND", cache, re.M) is None:
        targets.append(ASIO_SERVER)
    log(f"building {', '.join(targets)} in {bdir} ...")
    run_step(["cmake", "--build", str(bdir), "-j", str(os.cpu_count() or 2), "--target", *targets])
    return bdir / "tests" / "benchmarks"


def run_step(step: list[str]) -> None:
    try:
        p = subprocess.run(step, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"echo_compare.py: cannot run {step[0]}: {e}")
    if p.returncode != 0:
        sys.exit(f"echo_compare.py: {' '.join(step)} failed:\n{(p.stderr or p.stdout)[-2000:]}")


def has_uvloop(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", "import uvloop"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class Server:
    """One server process: started with --port 0, its port read from its first line."""

    def __init__(self, label: str, cmd: list[str], timeout: float):
        self.label = label
        self.cmd = cmd + ["--port", "0"]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        self.port = self._read_port(timeout)

    def _read_port(self, timeout: float) -> int | None:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout)
        sel.close()
        line = self.proc.stdout.readline() if ready else ""
        m = re.match(r"listening on [0-9.]+:(\d+)\s*$", line)
        if m is None:
            log(f"  {self.label}: no 'listening on HOST:PORT' line within {timeout:g} s "
                f"(got {line!r}); {' '.join(self.cmd)}\n{self.errors()}")
            return None
        return int(m.group(1))

    def alive(self) -> bool:
        return self.port is not None and self.proc.poll() is None

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:]

    def stop(self) -> bool:
        """SIGTERM, then up to 10 s for a clean exit (status 0); killed otherwise."""
        clean = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                clean = self.proc.wait(timeout=10) == 0
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not clean:
            log(f"  {self.label}: did not exit cleanly on SIGTERM (status {self.proc.returncode})"
                f"\n{self.errors()}")
        self.proc.stdout.close()
        self.stderr.close()
        return clean


def run_client(client: Path, server: Server, extra: list[str], timeout: float) -> dict | None:
    cmd = [str(client), "--port", str(server.port), "--label", server.label, *extra]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"  TIMEOUT: {' '.join(cmd)}")
        return None
    for line in reversed(p.stdout.splitlines()):
        if line.startswith('{"bench":"echo'):
            r = json.loads(line)
            r["exit"] = p.returncode
            if not r["valid"] or p.returncode != 0:
                log(f"  INVALID (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
            return r
    log(f"  FAILED (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}"
        f"{'' if server.proc.poll() is None else chr(10) + 'server died: ' + server.errors()}")
    return None


def size_text(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def machine_header(args: argparse.Namespace, python: str) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    py = first_line([python, "-c", "import platform, sys; print(platform.python_version(), "
                     "sys.executable)"])
    uv = first_line([python, "-c", "import uvloop; print(uvloop.__version__)"])
    asio = "not found"
    for inc in ("/usr/include", "/usr/local/include"):
        v = Path(inc) / "asio" / "version.hpp"
        if v.exists():
            m = re.search(r"#\s*define\s+ASIO_VERSION\s+(\d+)", v.read_text())
            if m:
                n = int(m.group(1))
                asio = f"{n // 100000}.{n // 100 % 1000}.{n % 100}"
            break
    return [
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} cores (nproc), CPU `{cpu}`, kernel {platform.release()}, "
        f"load average at start {load}",
        f"- {args.compiler}: `{first_line([args.compiler, '--version'])}` (client, Asio server; -O2)",
        f"- Python {py} (asyncio peers), uvloop {uv}, Asio {asio}",
    ]


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value <= 0 or value > 86400:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds above 0")
    return value


def count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number >= 0")
    return int(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=count, default=3, help="runs per server and case (median; default 3)")
    ap.add_argument("--duration", type=positive, default=3.0, help="measured seconds per run (default 3)")
    ap.add_argument("--warmup", type=positive, default=0.5, help="warm-up seconds per run (default 0.5)")
    ap.add_argument("--idle-connections", type=count, default=10_000,
                    help="idle connections each server holds (default 10000; 0 skips)")
    ap.add_argument("--idle-duration", type=positive, default=2.0, help="seconds they are held (default 2)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny durations, 1 run, 100 idle connections: checks that everything works")
    ap.add_argument("--compiler", default="clang++", help="builds the client and the Asio server")
    ap.add_argument("--python", help="interpreter for the asyncio peers (default: one with uvloop)")
    ap.add_argument("--build-root", default=str(ROOT / "build"), help="where build/bench-<compiler> goes")
    ap.add_argument("--rebuild", action="store_true", help="re-run cmake first")
    ap.add_argument("--output", help="also write the markdown here")
    ap.add_argument("--json", help="write every raw result here")
    args = ap.parse_args()
    if args.smoke:
        args.runs, args.duration, args.warmup = 1, 0.2, 0.1
        args.idle_connections, args.idle_duration = min(args.idle_connections, 100), 0.2
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    if args.python is None:
        args.python = next((p for p in (sys.executable, "/usr/bin/python3") if has_uvloop(p)),
                           sys.executable)

    exe = ensure_built(args)
    subst = {"bin": str(exe), "python": args.python, "peers": str(HERE / "peers")}
    servers = []
    for label, cmd in SERVERS:
        cmd = [part.format(**subst) for part in cmd]
        if label == ASIO and not Path(cmd[0]).exists():
            log(f"note: {cmd[0]} not built (asio.hpp not found?); skipping Asio")
        elif label == UVLOOP and not has_uvloop(args.python):
            log(f"note: no uvloop for {args.python} (Debian: python3-uvloop); skipping uvloop")
        else:
            servers.append((label, cmd))
    labels = [label for label, _ in servers]
    client = exe / CLIENT
    failures = 0  # runs that failed, timed out or did not validate: the exit status says so
    run_timeout = args.warmup + args.duration + 120  # connecting, draining, a loaded machine

    # ---- ping-pong: every server up at once, the client alternating between them -------------
    results: dict[tuple[int, int], dict[str, list[dict]]] = {c: {l: [] for l in labels} for c in CASES}
    running = [Server(label, cmd, timeout=30) for label, cmd in servers]
    try:
        for i in range(args.runs):
            for size, clients in CASES:
                for s in running:
                    if not s.alive():
                        failures += 1
                        continue
                    log(f"run {i + 1}/{args.runs}, {size_text(size)} x {clients} clients: {s.label} ...")
                    r = run_client(client, s, ["--size", str(size), "--clients", str(clients),
                                               "--duration", str(args.duration),
                                               "--warmup", str(args.warmup)], run_timeout)
                    if r is None or not r["valid"] or r["exit"] != 0:
                        failures += 1
                    if r is not None:
                        log(f"  {r['rps']:,.0f} req/s, p99 {r['p99_us']:,.0f} µs, "
                            f"client CPU {r['client_cpu_s']:.2f} s, valid={r['valid']}")
                        results[(size, clients)][s.label].append(r)
    finally:
        for s in running:
            if not s.stop():
                failures += 1

    # ---- idle connections: a fresh server each, its baseline taken before connecting ----------
    idle: dict[str, dict] = {}
    if args.idle_connections > 0:
        for label, cmd in servers:
            log(f"idle: {args.idle_connections:,} connections held {args.idle_duration:g} s by {label} ...")
            s = Server(label, cmd, timeout=30)
            try:
                if not s.alive():
                    failures += 1
                    continue
                r = run_client(client, s, ["--idle", "--server-pid", str(s.proc.pid),
                                           "--clients", str(args.idle_connections),
                                           "--duration", str(args.idle_duration)], run_timeout)
                if r is None or not r["valid"] or r["exit"] != 0:
                    failures += 1
                if r is not None:
                    log(f"  {r['bytes_per_conn']:,.0f} B/connection, idle CPU {r['idle_cpu_s']:.3f} s")
                    idle[label] = r
            finally:
                if not s.stop():
                    failures += 1

    # ---- report --------------------------------------------------------------------------------
    out = ["# Echo ping-pong: aio_echo_client against each server", ""]
    out += machine_header(args, args.python)
    out += [f"- loopback TCP, {args.runs} run(s) per cell of {args.warmup:g} s warm-up + "
            f"{args.duration:g} s measured, servers alternating; cells are **medians**; ratios "
            f"are req/s of the server / req/s of {ASIO} or of {UVLOOP} (higher = faster)",
            "- client CPU: the load client's CPU time over its run time (it has one core of two; "
            "near 100 % would mean the client, not the server, was the limit)", "",
            "| message | clients | server | req/s | p50 µs | p99 µs | vs Asio | vs uvloop | client CPU | valid |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|:---:|"]
    summary: dict[tuple[int, int], dict[str, dict]] = {}
    for case in CASES:
        summary[case] = {}
        for label in labels:
            rs = results[case][label]
            if rs:
                summary[case][label] = {
                    "runs": len(rs),
                    "rps": statistics.median(r["rps"] for r in rs),
                    "p50_us": statistics.median(r["p50_us"] for r in rs),
                    "p99_us": statistics.median(r["p99_us"] for r in rs),
                    "client_cpu": statistics.median(r["client_cpu_s"] / (args.warmup + r["seconds"])
                                                    for r in rs),
                    "valid": len(rs) == args.runs and all(r["valid"] and r["exit"] == 0 for r in rs),
                }
        for label, s in summary[case].items():
            ratios = []
            for ref in (ASIO, UVLOOP):
                base = summary[case].get(ref)
                ratios.append("1×" if label == ref else
                              fmt_ratio(s["rps"] / base["rps"]) if base and base["rps"] > 0 else "–")
            out.append(f"| {size_text(case[0])} | {case[1]:,} | {label} | {s['rps']:,.0f} | "
                       f"{s['p50_us']:,.0f} | {s['p99_us']:,.0f} | {ratios[0]} | {ratios[1]} | "
                       f"{s['client_cpu'] * 100:.0f} % | {'yes' if s['valid'] else '**NO**'} |")
    out.append("")

    if idle:
        out += [f"## Idle connections ({args.idle_connections:,}, held {args.idle_duration:g} s, one run)", "",
                "Server RSS after connecting minus before (each connection made one 1-byte round "
                "trip first), divided by the connections; the kernel's socket memory is not in "
                "it. CPU: the server's user + sys time while they were held.", "",
                "| server | bytes / connection | RSS before → after | CPU while idle | valid |",
                "|---|---:|---:|---:|:---:|"]
        for label in labels:
            r = idle.get(label)
            if r:
                out.append(f"| {label} | {r['bytes_per_conn']:,.0f} | "
                           f"{r['base_rss_bytes'] / 2**20:,.1f} → {r['rss_bytes'] / 2**20:,.1f} MiB | "
                           f"{r['idle_cpu_s']:.3f} s | "
                           f"{'yes' if r['valid'] and r['exit'] == 0 else '**NO**'} |")
        out.append("")

    key = summary.get((1024, 10), {})
    if AIO in key:
        a = key[AIO]
        out += [f"## Targets ({AIO}, 1 KiB, 10 clients)", "", "| target | measured | |", "|---|---:|:---:|"]
        for ref, target in ((ASIO, TARGET_VS_ASIO), (UVLOOP, TARGET_VS_UVLOOP)):
            if ref in key and key[ref]["rps"] > 0:
                r = a["rps"] / key[ref]["rps"]
                out.append(f"| req/s ≥ {target:g}× {ref} | {fmt_ratio(r)} (p99 {a['p99_us']:,.0f} µs "
                           f"vs {key[ref]['p99_us']:,.0f} µs) | {'PASS' if r >= target else '**MISS**'} |")
        out.append("")

    text = "\n".join(out)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "echo": {f"{size}x{clients}": results[(size, clients)] for size, clients in CASES},
            "idle": idle}, indent=1))
    if failures:
        log(f"echo_compare.py: {failures} run(s) failed, timed out or did not validate (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
