#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time on its committed seed corpus and crash
# regressions; what it discovers goes under WORKDIR, never into the repository.
# Usage: tests/fuzz/run_harness.sh HARNESS_BINARY NAME SECONDS WORKDIR
#   NAME = spice_reader | npy_reader | ini | ...: tests/fuzz/corpus/NAME holds the seeds,
#   tests/fuzz/regressions/NAME the inputs of crashes found and fixed, tests/fuzz/dict/NAME.dict
#   the tokens of the format. Exit status non-zero when the harness found a crash, a leak, a
#   hang (> 10 s on one input) or an input needing more than 2 GB.
set -euo pipefail
bin=$1 name=$2 seconds=$3 work=$4
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
dirs=("$work/$name/corpus" "$here/corpus/$name")   # new units go to the first directory only
[ -d "$here/regressions/$name" ] && dirs+=("$here/regressions/$name")
dict=()
[ -f "$here/dict/$name.dict" ] && dict=("-dict=$here/dict/$name.dict")
# One log per run (kept, so that fuzzing time and executions can be added up afterwards);
# log.txt points at the newest.
log="$work/$name/log-$(date +%Y%m%d-%H%M%S).txt"
status=0
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/$name/artifacts/" "${dict[@]}" "${dirs[@]}" >"$log" 2>&1 || status=$?
ln -sf "$(basename "$log")" "$work/$name/log.txt"
grep -E "^(stat::|#[0-9]+ +DONE)" "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzz $name: FAILED (exit $status); the input is in $work/$name/artifacts/." \
       "Fix the reader, then commit the input to tests/fuzz/regressions/$name/ (replayed by" \
       "tests/fuzz/fuzz_replay_test.cc in the normal suite)." >&2
fi
exit "$status"
