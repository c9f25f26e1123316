#!/usr/bin/env bash
# Fuzzes the input readers for longer than CI does (CI: XBAR_FUZZ_SECONDS per harness via
# ctest in build-fuzz, see scripts/test.sh). Builds build-fuzz with clang if needed.
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS ...]
#   SECONDS_PER_HARNESS defaults to 600; HARNESS: spice_reader npy_reader ini level_table
#   sweep_grid (default: all built).
# Runs at nice 19, one harness after the other. The corpus each grows is kept in
# build-fuzz/runs/<harness>/corpus and reused by the next run; crash, leak and timeout
# inputs land in build-fuzz/runs/<harness>/artifacts. To keep one as a regression: fix the
# reader, copy the input to tests/fuzz/regressions/<harness>/ and add a TEST_CASE for it in
# tests/fuzz/fuzz_replay_test.cc.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
harnesses=("$@")
[ -f build-fuzz/CMakeCache.txt ] || CXX=clang++ cmake -S . -B build-fuzz -DXBAR_FUZZ=ON
cmake --build build-fuzz -j"$(nproc)"
if [ ${#harnesses[@]} -eq 0 ]; then
  for h in spice_reader npy_reader ini level_table sweep_grid; do
    [ -x "build-fuzz/tests/fuzz/${h}_fuzz" ] && harnesses+=("$h")
  done
fi
status=0
for h in "${harnesses[@]}"; do
  echo "== fuzzing $h for $seconds s"
  nice -n 19 tests/fuzz/run_harness.sh "build-fuzz/tests/fuzz/${h}_fuzz" "$h" "$seconds" \
    build-fuzz/runs || status=1
done
exit "$status"
