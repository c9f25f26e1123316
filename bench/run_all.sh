#!/usr/bin/env bash
# Runs every benchmark and prints the tables quoted in the issue notes. Not part of CI.
# Usage: bench/run_all.sh [build-dir]   (about 17 minutes on 2 cores, peak ~7 GB at 2048^2)
set -euo pipefail
b=${1:-build}
echo "== native vs ngspice"
"$b"/native_vs_ngspice 16 32 64 128
echo
echo "== native alone (geometric nested dissection), one process per size"
printf "%6s %10s %-9s %8s %8s %8s %8s %8s %8s %10s %8s\n" M=N unknowns ordering build_s \
  assem_s analyze_s factor_s solve_s total_s nnzL_M peak_GiB
for s in 256 512 1024 2048; do "$b"/native_scaling "$s"; done
echo
echo "== orderings at 1024 x 1024"
for o in geometric amd metis nesdis; do "$b"/native_scaling 1024 "$o"; done
echo
echo "== batch of 1000 inputs at 256 x 256"
"$b"/batch 256 1000
echo
echo "== nonlinear cells: Newton vs ngspice"
"$b"/newton_vs_ngspice 128
echo
echo "== transients (issue 20): 256 x 256 against one DC solve; native vs ngspice .tran at 32 x 32"
echo "   (the 64 x 64 table of bench/README.md: $b/transient 256 64 --repeats 3, ~25 min)"
"$b"/transient 256 32 --repeats 1
echo "== flash arrays: Newton vs ngspice (about 7 minutes: ngspice takes 3 min per 128^2 array)"
"$b"/flash_vs_ngspice 32 64 128
echo
echo "== small arrays as whole processes (issue 21): xbar solve vs ngspice -b, 64 x 64 (about 1 minute)"
bench/whole_process.sh "$b" 11
echo
echo "== factorizations on one thread vs with the libraries' threads (issue 21, kParallelFactorFlops)"
"$b"/factor_threads --sizes 64,128,192,256,384,512 --repeats 5
