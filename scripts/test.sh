#!/usr/bin/env bash
# Builds xbar (if needed) and runs the whole test suite on both cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build -j"$(nproc)" --output-on-failure

# Fuzz the input readers (SPICE, .npy, INI) for a bounded time on the committed seed corpus:
# a second, small clang build of the readers only (tests/fuzz/CMakeLists.txt), then each
# harness for XBAR_FUZZ_SECONDS (default 20) under ASan + UBSan, both cores (~1 minute).
# Longer runs on demand: scripts/fuzz.sh SECONDS. XBAR_SKIP_FUZZ=1 skips this step.
if [ "${XBAR_SKIP_FUZZ:-0}" != 1 ]; then
  [ -f build-fuzz/CMakeCache.txt ] || CXX=clang++ cmake -S . -B build-fuzz -DXBAR_FUZZ=ON
  cmake -S . -B build-fuzz -DXBAR_FUZZ_SECONDS="${XBAR_FUZZ_SECONDS:-20}" >/dev/null
  cmake --build build-fuzz -j"$(nproc)"
  ctest --test-dir build-fuzz -j"$(nproc)" --output-on-failure
fi

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (a second full
# build, -DXBAR_SANITIZE=ON; tests/sanitizers/README.md has its cost). On demand:
# XBAR_SANITIZE=1 scripts/test.sh.
if [ "${XBAR_SANITIZE:-0}" = 1 ]; then
  [ -f build-asan/CMakeCache.txt ] ||
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DXBAR_SANITIZE=ON -DXBAR_BUILD_BENCH=OFF
  cmake --build build-asan -j"$(nproc)"
  ctest --test-dir build-asan -j"$(nproc)" --output-on-failure
fi
