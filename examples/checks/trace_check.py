#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""trace_check.py PROGRAM WORKDIR: runs the demo with --trace and checks the trace it writes.

    random_delay --task-count 5 --min-pause 0.05 --max-pause 0.3 --seed 11 --trace WORKDIR/t.json

The trace must be Chrome Trace Event JSON (Python's json parses it) with:
  - one track (thread_name record) per task: main (Task-1) and the 5 delay tasks;
  - on each track, slices that never overlap (the loop runs one step at a time);
  - on each delay task's track a wait slice labelled as a sleep, at least as long as the pause the
    task printed ("Task n - await a sleep for X.XX");
  - arrows (flow records "s"/"f") that pair up: each id starts once, inside a step of one task,
    and finishes once, at the start of a step of another task; and at least one (the last delay
    task to finish wakes main, which awaits them through gather).
Exit status 0 if all hold, 1 with a message per failure otherwise.
"""
import json
import os
import re
import subprocess
import sys


def main():
    program, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "random_delay_trace.json")
    run = subprocess.run(
        [program, "--task-count", "5", "--min-pause", "0.05", "--max-pause", "0.3",
         "--seed", "11", "--trace", path],
        capture_output=True, text=True, timeout=60)
    problems = []
    if run.returncode != 0:
        print(f"random_delay exited with {run.returncode}: {run.stderr}")
        return 1
    pauses = {int(n): float(p) for n, p in
              re.findall(r"Task (\d+) - await a sleep for ([0-9.]+)", run.stderr)}
    if len(pauses) != 5:
        problems.append(f"expected 5 'await a sleep' lines, got {len(pauses)}")

    with open(path) as f:
        events = json.load(f)  # must parse

    names = {e["tid"]: e["args"]["name"] for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    task_tracks = {tid: name for tid, name in names.items() if re.fullmatch(r"Task-\d+", name)}
    if sorted(task_tracks.values(), key=lambda n: int(n[5:])) != [f"Task-{i}" for i in range(1, 7)]:
        problems.append(f"expected the tracks Task-1 .. Task-6, got {sorted(task_tracks.values())}")

    slices = {}
    for e in events:
        if e.get("ph") == "X":
            slices.setdefault(e["tid"], []).append(e)
    for tid, track in slices.items():
        track.sort(key=lambda e: e["ts"])
        for a, b in zip(track, track[1:]):
            if a["ts"] + a["dur"] > b["ts"] + 0.002:  # 3 decimals of microseconds, rounded
                problems.append(f"track {names.get(tid, tid)}: '{a['name']}' at {a['ts']} "
                                f"(+{a['dur']}) overlaps '{b['name']}' at {b['ts']}")

    # Task-2 .. Task-6 are the delay tasks 0 .. 4 (created in order after main).
    for n, pause in pauses.items():
        tid = next((t for t, name in task_tracks.items() if name == f"Task-{n + 2}"), None)
        waits = [e for e in slices.get(tid, []) if e["name"].startswith("wait: sleep")]
        if len(waits) != 1:
            problems.append(f"Task-{n + 2}: expected one sleep wait slice, got {len(waits)}")
        elif waits[0]["dur"] < (pause - 0.005) * 1e6:  # the log rounds the pause to 0.01 s
            problems.append(f"Task-{n + 2}: its sleep slice lasts {waits[0]['dur']} us, "
                            f"less than its pause {pause} s")

    starts = {}
    finishes = {}
    for e in events:
        if e.get("ph") == "s":
            starts.setdefault(e["id"], []).append(e)
        elif e.get("ph") == "f":
            finishes.setdefault(e["id"], []).append(e)
    if not starts:
        problems.append("no arrows: the last delay task's end should wake main")
    if set(starts) != set(finishes):
        problems.append(f"arrows not paired: started {sorted(starts)}, finished {sorted(finishes)}")
    for flow_id in set(starts) & set(finishes):
        if len(starts[flow_id]) != 1 or len(finishes[flow_id]) != 1:
            problems.append(f"arrow {flow_id} starts or ends more than once")
            continue
        s, f = starts[flow_id][0], finishes[flow_id][0]
        steps_s = [e for e in slices.get(s["tid"], []) if e["name"] == "step"]
        steps_f = [e for e in slices.get(f["tid"], []) if e["name"] == "step"]
        if not any(e["ts"] <= s["ts"] <= e["ts"] + e["dur"] + 0.002 for e in steps_s):
            problems.append(f"arrow {flow_id} does not start inside a step of its waker")
        if not any(abs(e["ts"] - f["ts"]) < 0.002 for e in steps_f):
            problems.append(f"arrow {flow_id} does not end at the start of a step of the woken")
        if f["ts"] < s["ts"]:
            problems.append(f"arrow {flow_id} goes back in time")
        if s["tid"] == f["tid"]:
            problems.append(f"arrow {flow_id} starts and ends on one track")

    for p in problems:
        print(p)
    if not problems:
        print(f"trace ok: {len(events)} records, {len(task_tracks)} task tracks, "
              f"{len(starts)} arrows")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
