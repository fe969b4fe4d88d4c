# SPDX-License-Identifier: MIT
#
# python3 random_delay_progress.py <random_delay>
#
# The progress line of random_delay --quiet, checked from outside (the CTest test
# aio.example.random_delay.progress). Three runs of 2000 tasks sleeping 0.3 to 0.6 s, so that
# the run lasts long enough for a few redraws and no task ends before the first one:
#   - stderr on a pseudo-terminal (the pty module): stderr shows the progress line
#     "\r  D / 2000 tasks done, S s elapsed", redrawn during the run (at least one redraw
#     before every task is done, so not only at the end), at most ~10 times a second (not once
#     per task), with D and S never decreasing; the last one reads "2000 / 2000" and the line is
#     ended with a newline; nothing else is on stderr; stdout has the two summary lines;
#   - stderr a pipe: no progress text, stderr empty;
#   - stderr on a pseudo-terminal with --no-progress: nothing on stderr.
# Every run must exit with 0 within its time limit. Exit status 0 when everything holds, 1
# otherwise (what failed on stderr).

import os
import pty
import re
import subprocess
import sys
import time

TASKS = 2000
ARGS = ["--task-count", str(TASKS), "--min-pause", "0.3", "--max-pause", "0.6", "--quiet"]
PROGRESS = re.compile(r"\r  (\d+) / (\d+) tasks done, (\d+\.\d) s elapsed")

problems = []


def problem(text):
    problems.append(text)


def run_on_pty(command):
    """Runs `command` with stderr on a new pseudo-terminal; returns (status, stdout, what the
    terminal received, seconds taken)."""
    master, slave = pty.openpty()
    started = time.monotonic()
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=slave)
    os.close(slave)
    received = b""
    while True:  # read until the child's end of the terminal is closed: EIO on Linux
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    os.close(master)
    out = child.stdout.read()
    status = child.wait(timeout=120)
    return status, out.decode(), received.decode(errors="replace"), time.monotonic() - started


def check_summary(name, status, out):
    if status != 0:
        problem(f"{name}: exit status {status}")
    if not re.fullmatch(rf"{TASKS} async tasks finished in [0-9.]+ seconds\.\n"
                        rf"{TASKS} async tasks validated in [0-9.]+ seconds\.\n", out):
        problem(f"{name}: stdout is not the two summary lines: {out!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: random_delay_progress.py <random_delay>")
    program = sys.argv[1]

    # 1. On a terminal: the progress line.
    status, out, terminal, seconds = run_on_pty([program, *ARGS])
    check_summary("on a terminal", status, out)
    draws = [(int(d), int(n), float(s)) for d, n, s in PROGRESS.findall(terminal)]
    if not draws:
        problem(f"on a terminal: no progress line in {terminal!r}")
    else:
        if any(n != TASKS for _, n, _ in draws):
            problem(f"on a terminal: a progress line does not count out of {TASKS}")
        if draws[-1][0] != TASKS:
            problem(f"on a terminal: the last progress line is {draws[-1][0]} / {TASKS}")
        if not any(d < TASKS for d, _, _ in draws):
            problem("on a terminal: no redraw while the tasks ran, only the final line")
        if [d for d, _, _ in draws] != sorted(d for d, _, _ in draws) or \
           [s for _, _, s in draws] != sorted(s for _, _, s in draws):
            problem("on a terminal: the count or the time went backwards")
        # At most ten redraws a second, and the final one.
        if len(draws) > 10 * seconds + 2:
            problem(f"on a terminal: {len(draws)} redraws in {seconds:.2f} s")
        # The terminal turns "\n" into "\r\n" (onlcr): the line is ended, and nothing else
        # was written.
        rest = PROGRESS.sub("", terminal)
        if rest != "\r\n" or not terminal.endswith("\r\n"):
            problem(f"on a terminal: the line is not ended once with a newline, or stderr has "
                    f"more than the progress line: {rest!r}")

    # 2. Into a pipe: none.
    run = subprocess.run([program, *ARGS], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=120)
    check_summary("into a pipe", run.returncode, run.stdout)
    if run.stderr:
        problem(f"into a pipe: stderr is not empty: {run.stderr[:200]!r}")

    # 3. On a terminal with --no-progress: none.
    status, out, terminal, _ = run_on_pty([program, *ARGS, "--no-progress"])
    check_summary("--no-progress", status, out)
    if terminal:
        problem(f"--no-progress on a terminal: stderr is not empty: {terminal[:200]!r}")

    if problems:
        print(f"{program} {' '.join(ARGS)}:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"{program}: the progress line shows on a terminal only, {len(draws)} draws")


if __name__ == "__main__":
    main()
