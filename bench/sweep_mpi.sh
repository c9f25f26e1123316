#!/usr/bin/env bash
# Issue 7 benchmark (not CI): the 48-point calibrate sweep of bench/sweep_calibrate48.ini in one
# process and under `mpirun -np 2`, side by side: wall times, their ratio, and whether the two
# CSVs are identical row for row (every column but the timing ones, time_s and finished_utc).
# With --threads2 also one process with sweep-threads = 2 (both cores inside each point; its
# results may differ in the last bits, see README: sweeps).
#
# usage: bench/sweep_mpi.sh [BUILD_DIR] [REPEATS] [--threads2]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEATS=${2:-1}
THREADS2=${3:-}
XBAR=$BUILD/xbar
INI=${SWEEP_INI:-bench/sweep_calibrate48.ini}   # SWEEP_INI=... for a quick trial
WORK=$(mktemp -d /tmp/xbar-sweep-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
MPI=(mpirun -np 2)
[ "$(id -u)" -eq 0 ] && MPI+=(--allow-run-as-root)
PY=/usr/bin/python3

same_csv() {  # prints "identical" or the first difference, ignoring the timing columns
  "$PY" - "$1" "$2" <<'PYEOF'
import csv, sys
a, b = (list(csv.DictReader(open(p, newline=""))) for p in sys.argv[1:3])
drop = {"time_s", "finished_utc"}
strip = lambda rows: sorted(tuple((k, v) for k, v in r.items() if k not in drop) for r in rows)
if strip(a) == strip(b):
    print(f"identical ({len(a)} rows)")
else:
    for x, y in zip(strip(a), strip(b)):
        if x != y:
            print("DIFFERENT:", [(p, q) for p, q in zip(x, y) if p != q][:3]); break
    else:
        print(f"DIFFERENT: {len(a)} vs {len(b)} rows")
PYEOF
}

wall() {  # runs "$@", prints its wall time in seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "xbar sweep benchmark: $INI, $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for r in $(seq 1 "$REPEATS"); do
  rm -rf "$WORK"/one "$WORK"/two "$WORK"/thr
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  t1=$(wall "$XBAR" sweep --config "$INI" --out "$WORK/one" --quiet)
  load1=$(cut -d' ' -f1-3 /proc/loadavg)
  t2=$(wall "${MPI[@]}" "$XBAR" sweep --config "$INI" --out "$WORK/two" --quiet)
  load2=$(cut -d' ' -f1-3 /proc/loadavg)
  ratio=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", a / b }')
  echo "run $r: 1 process ${t1} s (load before $load0) | mpirun -np 2 ${t2} s (load before $load1, after $load2) | ratio ${ratio}x | CSV: $(same_csv "$WORK/one/sweep.csv" "$WORK/two/sweep.csv")"
  if [ "$THREADS2" = "--threads2" ]; then
    { cat "$INI"; echo "sweep-threads = 2"; } > "$WORK/thr.ini"
    t3=$(wall "$XBAR" sweep --config "$WORK/thr.ini" --out "$WORK/thr" --quiet)
    echo "       1 process, sweep-threads = 2: ${t3} s (ratio to mpirun -np 2: $(awk -v a="$t3" -v b="$t2" 'BEGIN { printf "%.2f", a / b }')x) | CSV vs 1 thread: $(same_csv "$WORK/one/sweep.csv" "$WORK/thr/sweep.csv")"
  fi
  # Where the time went: per-rank busy time from the point records.
  "$PY" - "$WORK/two" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
busy = {}
for p in os.listdir(os.path.join(d, "points")):
    r = json.load(open(os.path.join(d, "points", p, "point.json")))
    busy.setdefault(r["rank"], [0, 0.0])
    busy[r["rank"]][0] += 1
    busy[r["rank"]][1] += r["time_s"]
print("       mpirun -np 2 per rank: " + ", ".join(f"rank {k}: {n} points, {t:.1f} s busy" for k, (n, t) in sorted(busy.items())))
PYEOF
done
