#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Flake hunt: runs a preset's whole ctest suite N times on a machine made busy on purpose, the
# way CI's shared runners are: more parallel ctest jobs than cores, and busy loops beside them.
# A test that depends on how fast the machine is shows up here long before it shows up in CI.
#
#     tests/stress.sh [preset] [runs] [jobs] [busy loops]
#     tests/stress.sh gcc-debug 20          # 20 runs, ctest -j(cores + 2), 2 busy loops
#
# The preset must be built already (cmake --workflow --preset <preset>, or configure + build).
# The packaging tests (aio.package.*) are left out: they configure and build consumer projects,
# which is slow and has no timing in it. STRESS_EXCLUDE sets ctest's -E regex instead
# (STRESS_EXCLUDE= runs everything).
# Prints one line per run and a final count; exits 1 if any run had a failing test, and then
# names the tests that failed (their output is in build/<preset>/Testing/Temporary/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset=${1:-gcc-debug}
runs=${2:-20}
cores=$(nproc 2>/dev/null || echo 2)
jobs=${3:-$((cores + 2))}
busy=${4:-2}
build="build/$preset"
exclude=${STRESS_EXCLUDE-'^aio\.package\.'}
ctest_args=(--test-dir "$build" --output-on-failure)
if [[ -n $exclude ]]; then
    ctest_args+=(-E "$exclude")
fi

if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
    echo "error: $build is not a configured build directory; run: cmake --workflow --preset $preset" >&2
    exit 2
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ && $busy =~ ^[0-9]+$ ]]; then
    echo "usage: tests/stress.sh [preset] [runs >= 1] [jobs >= 1] [busy loops >= 0]" >&2
    exit 2
fi

# Busy loops (each one keeps a core busy), ended however this script ends.
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < busy; ++i)); do
    yes >/dev/null &
    pids+=($!)
done

echo "stress: $preset, $runs runs of ctest -j$jobs beside $busy busy loops ($cores cores)${exclude:+, without tests matching $exclude}"
failed_runs=0
declare -A failures=()
log=$(mktemp)
for ((run = 1; run <= runs; ++run)); do
    start=$SECONDS
    if ctest "${ctest_args[@]}" -j"$jobs" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed_runs=$((failed_runs + 1))
        # ctest's list after "The following tests FAILED:" looks like "  12 - aio.name (Failed)"
        while IFS= read -r name; do
            failures["$name"]=$((${failures["$name"]:-0} + 1))
        done < <(sed -n '/The following tests FAILED:/,$p' "$log" |
                 sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (.*)$/\1/p')
        cp "$log" "$build/stress-run-$run.log"
    fi
    summary=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 ||
              echo "no ctest summary")
    printf 'run %2d/%d: %-6s %s (%d s)\n' "$run" "$runs" "$status" "$summary" $((SECONDS - start))
done
rm -f "$log"

echo "stress: $((runs - failed_runs)) of $runs runs passed, $failed_runs failed ($preset)"
if ((failed_runs > 0)); then
    for name in "${!failures[@]}"; do
        echo "  failed ${failures[$name]}x: $name"
    done
    echo "  logs: $build/stress-run-*.log"
    exit 1
fi
