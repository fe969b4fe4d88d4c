# SPDX-License-Identifier: MIT
#
# python3 random_delay_timeline.py <random_delay> <out.svg> gantt|histogram -- <args...>
#
# Runs `random_delay <args...> --timeline <out.svg>` and checks the chart it draws
# (examples/timeline_svg.hpp) with xml.etree.ElementTree, against what the program itself
# printed. The CTest tests aio.example.random_delay.timeline, .timeline_timeout and
# .timeline_histogram run it.
#
# Both kinds: exit status 0; the root is an <svg> with width, height and viewBox, a non-empty
# <title>, data-tasks = N, data-px-per-second = P > 0 and data-x0 = X; the time axis's labels
# are increasing numbers of seconds, each at x = X + t * P (within a pixel).
#
# gantt (the per-task log lines on, so N <= 200):
#   - exactly one <rect class="task ..."> per task, data-task 0..N-1 each once, rows in task
#     order from the top, and each row labelled with its task's number (text.task-label);
#   - each bar's width is its task's pause times P, within one pixel, and up to LATE s more (a
#     sleep ends a little after its deadline, never before). With --seed the pauses are known
#     exactly: this script draws them again as the program does (std::mt19937_64 and libstdc++'s
#     uniform_real_distribution, see replayed_pauses) and checks them against the two decimals
#     the program printed on stderr ("Task n - await a sleep for X.XX"); without, it takes the
#     printed ones and allows their rounding (0.005 s, times P, either way) too;
#   - a task cancelled by --timeout T ("Task n - cancelled after T.TT") is a bar of class
#     "task cancelled" from its start up to the cancellation: at least T (the timeout counts
#     from the moment every task sleeps) and at most LATE s more; no other bar is "cancelled";
#   - every bar starts in the first START s of the run (all tasks start together);
#   - the longest pause of a task that slept it through is the one bar of class "longest", and
#     a text says "longest: X.XX s" with X.XX within 0.01 s (rounding, lateness) of that pause.
# histogram (--quiet, more than 200 tasks):
#   - no rect.task; rect.bin bars whose data-count sum to N, data-cancelled <= data-count and
#     summing to the "C cancelled" of the summary line (0 without --timeout), consecutive
#     [data-from, data-to) bins from 0, each as tall as its count at one height per task (the
#     tallest bin fills the plot); both axes carry a label (text.axis-label).
# Exit status 0 when everything holds, 1 otherwise (what failed on stderr).

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
LATE = 0.05  # seconds: how late a wake-up may be on a busy machine (typically < 2 ms)
START = 0.1  # seconds: by when every task has started (typically < 2 ms)

problems = []


def problem(text):
    problems.append(text)


def classes(element):
    return (element.get("class") or "").split()


def main():
    if len(sys.argv) < 5 or sys.argv[4] != "--" or sys.argv[3] not in ("gantt", "histogram"):
        sys.exit("usage: random_delay_timeline.py <random_delay> <out.svg> gantt|histogram "
                 "-- <args...>")
    program, svg_path, kind, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5:]
    command = [program, *args, "--timeline", svg_path]
    shown = " ".join(command)
    run = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=120)
    if run.returncode != 0:
        sys.exit(f"{shown}: exit status {run.returncode}\n{run.stdout}{run.stderr}")

    summary = re.match(r"(\d+) async tasks finished in [0-9.]+ seconds"
                       r"(?: \((\d+) done, (\d+) cancelled\))?\.\n", run.stdout)
    if not summary:
        sys.exit(f"{shown}: no summary line on stdout:\n{run.stdout}")
    tasks = int(summary.group(1))
    cancelled_count = int(summary.group(3) or 0)

    root = ET.parse(svg_path).getroot()
    if root.tag != SVG + "svg":
        sys.exit(f"{svg_path}: the root element is {root.tag}, not an SVG <svg>")
    for attribute in ("width", "height", "viewBox", "data-px-per-second", "data-x0"):
        if root.get(attribute) is None:
            problem(f"<svg> has no {attribute}")
    title = root.find(SVG + "title")
    if title is None or not (title.text or "").strip():
        problem("no <title>, or an empty one")
    if root.get("data-tasks") != str(tasks):
        problem(f"data-tasks is {root.get('data-tasks')}, expected {tasks}")
    scale = float(root.get("data-px-per-second") or 0)
    x0 = float(root.get("data-x0") or 0)
    if not scale > 0:
        sys.exit(f"{svg_path}: data-px-per-second is not a positive number")

    # The time axis: labels in seconds, increasing, each where the scale puts it.
    ticks = [(float(t.text), float(t.get("x"))) for t in root.iter(SVG + "text")
             if "tick-label" in classes(t)]
    if len(ticks) < 2:
        problem(f"{len(ticks)} tick labels on the time axis, expected at least 2")
    if [t for t, _ in ticks] != sorted(set(t for t, _ in ticks)):
        problem(f"the tick labels are not increasing: {[t for t, _ in ticks]}")
    for t, x in ticks:
        if abs(x - (x0 + t * scale)) > 1:
            problem(f"tick label {t} at x = {x}, expected {x0 + t * scale:.2f}")

    rects = list(root.iter(SVG + "rect"))
    bars = [r for r in rects if "task" in classes(r)]
    labels = [t for t in root.iter(SVG + "text")]
    if kind == "gantt":
        check_gantt(run.stderr, tasks, bars, labels, scale, x0, args)
    else:
        check_histogram(root, tasks, cancelled_count, bars, rects, labels)

    if problems:
        print(f"{shown}:", *problems, sep="\n  ", file=sys.stderr)
        print(f"--- stdout ---\n{run.stdout}--- stderr ---\n{run.stderr}", file=sys.stderr)
        sys.exit(1)
    print(f"{shown}: the {kind} chart of {tasks} tasks holds")


M64 = (1 << 64) - 1


class mt19937_64:
    """std::mt19937_64, as the C++ standard specifies it bit for bit."""

    def __init__(self, seed):
        self.state = [seed & M64]
        for i in range(1, 312):
            previous = self.state[-1]
            self.state.append((6364136223846793005 * (previous ^ (previous >> 62)) + i) & M64)
        self.index = 312

    def __call__(self):
        if self.index == 312:
            mt = self.state
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
                mt[i] = mt[(i + 156) % 312] ^ (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        return y ^ (y >> 43)


def replayed_pauses(args, tasks):
    """The pauses the program draws with --seed: task n's is the n-th draw (tasks start in
    creation order). libstdc++'s uniform_real_distribution<double>(a, b) with a 64-bit engine:
    one draw, converted to double, divided by 2^64 (generate_canonical), then (b - a) * u + a.
    None without --seed (nothing to replay)."""
    def option(name, default):
        return args[args.index(name) + 1] if name in args else default
    if "--seed" not in args:
        return None
    engine = mt19937_64(int(option("--seed", "0")))
    a, b = float(option("--min-pause", "1")), float(option("--max-pause", "10"))
    pauses = []
    for _ in range(tasks):
        u = float(engine()) / 2.0**64
        if u >= 1.0:
            u = 1.0 - 2.0**-53  # nextafter(1, 0), as libstdc++ does
        pauses.append((b - a) * u + a)
    return pauses


def check_gantt(log, tasks, bars, labels, scale, x0, args):
    pauses = {int(n): float(p) for n, p in
              re.findall(r"^Task (\d+) - await a sleep for ([0-9.]+)$", log, re.M)}
    cancelled = {int(n): float(t) for n, t in
                 re.findall(r"^Task (\d+) - cancelled after ([0-9.]+)$", log, re.M)}
    if sorted(pauses) != list(range(tasks)):
        sys.exit(f"the log has await lines for tasks {sorted(pauses)}, expected 0..{tasks - 1}")

    by_task = {}
    for bar in bars:
        n = int(bar.get("data-task"))
        if n in by_task:
            problem(f"task {n} has two bars")
        by_task[n] = bar
    if sorted(by_task) != list(range(tasks)) or len(bars) != tasks:
        problem(f"{len(bars)} rect.task for tasks {sorted(by_task)}, expected one per task "
                f"0..{tasks - 1}")
        return

    rounding = 0.005 * scale  # the log's two decimals, in pixels
    exact = replayed_pauses(args, tasks)
    if exact is not None:
        for n in range(tasks):
            if abs(exact[n] - pauses[n]) > 0.005 + 1e-9:
                sys.exit(f"task {n}: the program printed {pauses[n]:.2f} s, the replay drew "
                         f"{exact[n]:.6f} s: the replay does not match this standard library")
            pauses[n] = exact[n]
        rounding = 0.0  # the widths are checked against the exact pauses
    previous_y = None
    for n in range(tasks):
        bar = by_task[n]
        x, y = float(bar.get("x")), float(bar.get("y"))
        width, height = float(bar.get("width")), float(bar.get("height"))
        # Rows top to bottom in task order, each labelled with its number.
        if previous_y is not None and not y > previous_y:
            problem(f"task {n}'s bar (y = {y}) is not below task {n - 1}'s (y = {previous_y})")
        previous_y = y
        row_labels = [t for t in labels if "task-label" in classes(t)
                      and t.get("data-task") == str(n)]
        if len(row_labels) != 1 or (row_labels[0].text or "").strip() != str(n):
            problem(f"task {n}'s row has no label '{n}'")
        elif not y <= float(row_labels[0].get("y")) <= y + height:
            problem(f"task {n}'s label is not beside its bar")
        # Every task starts its sleep at the start of the run.
        if not -1 <= x - x0 <= START * scale + 1:
            problem(f"task {n}'s bar starts {(x - x0) / scale:.3f} s into the run")
        # The width: the pause, or up to the cancellation.
        is_cancelled = "cancelled" in classes(bar)
        if n in cancelled:
            if not is_cancelled:
                problem(f"task {n} was cancelled (log) but its bar is not 'cancelled'")
            low = cancelled[n] * scale - rounding - 1
            high = (cancelled[n] + LATE) * scale + rounding + 1
            what = f"its cancellation after {cancelled[n]:.2f} s"
        else:
            if is_cancelled:
                problem(f"task {n} slept its pause (log) but its bar is 'cancelled'")
            low = pauses[n] * scale - rounding - 1
            high = (pauses[n] + LATE) * scale + rounding + 1
            what = f"its pause {pauses[n]:.2f} s"
        if not low <= width <= high:
            problem(f"task {n}'s bar is {width:.1f} px wide; {what} at {scale:g} px/s is "
                    f"{low:.1f} to {high:.1f} px")

    # The longest pause slept through is marked, and labelled with its length.
    slept = [n for n in range(tasks) if n not in cancelled]
    marked = [n for n in range(tasks) if "longest" in classes(by_task[n])]
    if slept:
        longest = max(slept, key=lambda n: pauses[n])
        if marked != [longest]:
            problem(f"bars marked 'longest': {marked}, expected [{longest}] "
                    f"(pause {pauses[longest]:.2f} s)")
        notes = [float(m) for t in labels
                 for m in re.findall(r"longest: ([0-9.]+) s", t.text or "")]
        if len(notes) != 1 or abs(notes[0] - pauses[longest]) > 0.0101:
            problem(f"'longest: X.XX s' labels {notes}, expected one near {pauses[longest]:.2f}")
    elif marked:
        problem(f"bars marked 'longest' although every task was cancelled: {marked}")


def check_histogram(root, tasks, cancelled_count, bars, rects, labels):
    if root.get("data-kind") != "histogram":
        problem(f"data-kind is {root.get('data-kind')}, expected histogram")
    if bars:
        problem(f"{len(bars)} rect.task in a histogram")
    bins = [r for r in rects if "bin" in classes(r)]
    if not bins:
        problem("no rect.bin")
        return
    counts = [int(b.get("data-count")) for b in bins]
    cancelled = [int(b.get("data-cancelled")) for b in bins]
    if sum(counts) != tasks:
        problem(f"the bins count {sum(counts)} wake-ups, expected {tasks}")
    if sum(cancelled) != cancelled_count or any(k > c for k, c in zip(cancelled, counts)):
        problem(f"the bins count {sum(cancelled)} cancelled, expected {cancelled_count} "
                f"(and never more than a bin's count)")
    edge = 0.0
    for b in bins:
        start, end = float(b.get("data-from")), float(b.get("data-to"))
        if abs(start - edge) > 1e-9 or not end > start:
            problem(f"bin [{start}, {end}) does not follow the previous one, which ends at {edge}")
        edge = end
    tallest = max(float(b.get("height")) for b in bins)
    per_task = tallest / max(counts)
    for b, c in zip(bins, counts):
        if abs(float(b.get("height")) - c * per_task) > 0.01:
            problem(f"a bin of {c} is {b.get('height')} px tall, expected {c * per_task:.3f}")
    axis_labels = [t for t in labels if "axis-label" in classes(t)]
    if len(axis_labels) < 2:
        problem(f"{len(axis_labels)} axis labels, expected 2 (time, tasks)")


if __name__ == "__main__":
    main()
