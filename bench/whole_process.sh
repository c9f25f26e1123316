#!/usr/bin/env bash
# Issue 21, point 5 (not CI): a small array solved by whole processes, xbar against `ngspice -b`
# on the same deck, side by side. Writes the SIZE x SIZE deck with `xbar netlist` (2.5 ohm per
# segment, random array, every row at 0.2 V), then runs, alternating, REPEATS times each:
#   xbar solve --deck DECK     the deck read back and solved (AMD ordering; the back end
#                              result.json names: Eigen's LDL' up to 2 x 256^2 unknowns)
#   xbar solve (the spec)      the same array from its keys (grid ordering; same back end)
#   ngspice -b DECK            ngspice's batch mode: parse, operating point, print
#   and, with OLD=path/to/another/xbar in the environment, the same two xbar runs of that binary
#   (e.g. a build from before a change).
# Every run reports its wall time, user + system CPU time and peak RSS (wait4's figures, as
# /usr/bin/time prints them, at microsecond resolution). Prints medians,
# the ratio ngspice / xbar of the median wall times, and how many shared objects each process
# initialised (LD_DEBUG=files: the libraries it linked and any it opened with dlopen).
#
# usage: bench/whole_process.sh [BUILD_DIR] [REPEATS] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPEATS=${2:-11}
SIZE=${3:-64}
XBAR=$(realpath "$BUILD/xbar")
OLD=${OLD:-}
[ -n "$OLD" ] && OLD=$(realpath "$OLD")
command -v ngspice >/dev/null || { echo "ngspice not found (Debian package ngspice)" >&2; exit 2; }
# Outputs go to $TMPDIR (default /tmp): TMPDIR=/dev/shm measures without the disk flushes of
# xbar's atomic outputs (each file is fsynced before its rename; ngspice -b writes no file).
WORK=$(mktemp -d -t xbar-whole-process-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
ARRAY=(--rows "$SIZE" --cols "$SIZE" --r-row 2.5 --r-col 2.5)
"$XBAR" netlist "${ARRAY[@]}" --out deck.cir --quiet

names=("xbar solve --deck" "xbar solve (spec)" "ngspice -b")
cmds=("$XBAR solve --deck deck.cir --out o_deck --quiet"
      "$XBAR solve ${ARRAY[*]} --out o_spec --quiet"
      "ngspice -b deck.cir")
if [ -n "$OLD" ]; then
  names+=("OLD xbar solve --deck" "OLD xbar solve (spec)")
  cmds+=("$OLD solve --deck deck.cir --out p_deck --quiet" "$OLD solve ${ARRAY[*]} --out p_spec --quiet")
fi

# One run: appends "wall_s cpu_s peak_kib" to the file $2. The child's resources come from
# wait4(), the call /usr/bin/time makes, read here at microsecond resolution (/usr/bin/time
# prints hundredths of a second); the wall time is taken around fork, exec and wait.
PY=/usr/bin/python3
run_once() {
  "$PY" - "$1" >> "$2" <<'PYEOF'
import os, shlex, sys, time
argv = shlex.split(sys.argv[1])
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execvp(argv[0], argv)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"{sys.argv[1]}: exit status {os.waitstatus_to_exitcode(status)}")
print(f"{wall:.6f} {ru.ru_utime + ru.ru_stime:.6f} {ru.ru_maxrss}")
PYEOF
}

echo "whole process, ${SIZE} x ${SIZE} deck ($(grep -c . deck.cir) lines), $REPEATS runs each, alternating;" \
     "$(nproc) cores; xbar $("$XBAR" --version | cut -d' ' -f2)${OLD:+, OLD $("$OLD" --version | cut -d' ' -f2)}"
echo "outputs in $(df --output=fstype "$WORK" | tail -1) ($WORK); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$REPEATS"); do
  for k in "${!cmds[@]}"; do run_once "${cmds[$k]}" "runs_$k.txt"; done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

median() {  # column $1 of file $2
  sort -g -k"$1","$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
objects() {  # shared objects a process initialised
  LD_DEBUG=files $1 2>&1 >/dev/null | grep -c "calling init:" || true
}

ng_wall=$(median 1 runs_2.txt)
printf "\n| %-22s | %13s | %12s | %8s | %9s | %14s |\n" "command" "median wall s" "median CPU s" "peak RSS" "libraries" "ngspice / this"
printf "|%s|%s|%s|%s|%s|%s|\n" "------------------------" "--------------:" "-------------:" "---------:" "----------:" "---------------:"
for k in "${!cmds[@]}"; do
  w=$(median 1 "runs_$k.txt")
  c=$(median 2 "runs_$k.txt")
  m=$(sort -g -k3,3 "runs_$k.txt" | tail -1 | awk '{ printf "%.1f MiB", $3 / 1024 }')
  printf "| %-22s | %13.4f | %12.4f | %8s | %9s | %13.1fx |\n" "${names[$k]}" "$w" "$c" "$m" "$(objects "${cmds[$k]}")" \
    "$(awk -v a="$ng_wall" -v b="$w" 'BEGIN { print a / b }')"
done
