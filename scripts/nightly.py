#!/usr/bin/python3
"""Nightly driver: run a named sweep, compare it with the previous run, say what got worse.

usage: scripts/nightly.py NAME [--np K] [--runs DIR] [--tag TAG] [--baseline PATH] [--xbar PATH]

  1. runs `xbar sweep --config scripts/nightly_sweeps/NAME.ini --out RUNS/NAME/TAG` (TAG defaults to
     today's UTC date, so a run killed at night resumes when started again the same day), under
     `mpirun -np K` with --np K;
  2. compares its sweep.csv with the baseline: --baseline (a sweep DIR or sweep.csv), else the
     newest other run under RUNS/NAME whose sweep.csv has every row, using the per-metric
     tolerances of the sweep INI (scripts/nightly_compare.py);
  3. prints the rows that got worse and exits non-zero when any did, or when a point failed.

Exit status: 0 nothing worse and every point ok; 1 rows worse or points failed; 2 bad input
(unknown sweep, bad sweep INI, the sweep could not run).
Running as root under mpirun needs --allow-run-as-root, added automatically; on a machine with
fewer cores than K add --mpirun-args=--oversubscribe.
"""
import argparse
import csv
import datetime
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nightly_compare  # noqa: E402


def complete_run(d):
    """True when d holds a sweep.json and a sweep.csv with a row for every point."""
    try:
        with open(os.path.join(d, "sweep.json")) as f:
            points = json.load(f)["points"]
        with open(os.path.join(d, "sweep.csv"), newline="") as f:
            rows = sum(1 for _ in csv.DictReader(f))
    except (OSError, ValueError, KeyError):
        return False
    return rows == points


def latest_baseline(runs_dir, exclude):
    if not os.path.isdir(runs_dir):
        return None
    cands = []
    for name in os.listdir(runs_dir):
        d = os.path.join(runs_dir, name)
        if os.path.abspath(d) == os.path.abspath(exclude) or not complete_run(d):
            continue
        cands.append((os.path.getmtime(os.path.join(d, "sweep.csv")), d))
    return max(cands)[1] if cands else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("name", help="sweep name: scripts/nightly_sweeps/NAME.ini (or a path to an INI)")
    ap.add_argument("--sweeps", default=os.path.join(HERE, "nightly_sweeps"), help="directory of named sweeps")
    ap.add_argument("--runs", default="nightly", help="runs go to RUNS/NAME/TAG (default ./nightly)")
    ap.add_argument("--tag", default=datetime.datetime.utcnow().strftime("%Y-%m-%d"), help="run name (default: UTC date)")
    ap.add_argument("--baseline", help="sweep DIR or sweep.csv to compare with (default: newest complete earlier run)")
    ap.add_argument("--np", type=int, default=0, help="MPI ranks (mpirun -np K); 0 = one process")
    ap.add_argument("--mpirun", default="mpirun", help="the MPI launcher")
    ap.add_argument("--mpirun-args", default="", help="extra launcher arguments, e.g. --oversubscribe")
    ap.add_argument("--restarts", type=int, default=3, help="resume a sweep that died this many times (default 3)")
    ap.add_argument("--xbar", default=os.path.join(HERE, "..", "build", "xbar"), help="the xbar binary")
    a = ap.parse_args(argv)

    ini = a.name if a.name.endswith(".ini") and os.path.exists(a.name) else os.path.join(a.sweeps, a.name + ".ini")
    if not os.path.exists(ini):
        known = sorted(f[:-4] for f in os.listdir(a.sweeps) if f.endswith(".ini")) if os.path.isdir(a.sweeps) else []
        print(f"nightly: error: no sweep '{a.name}' ({ini} does not exist; known: {', '.join(known) or 'none'})", file=sys.stderr)
        return 2
    name = os.path.splitext(os.path.basename(ini))[0]
    runs_dir = os.path.join(a.runs, name)
    out = os.path.join(runs_dir, a.tag)
    cmd = [a.xbar, "sweep", "--config", ini, "--out", out]
    if a.np > 0:
        launcher = [a.mpirun, "-np", str(a.np)]
        if os.geteuid() == 0:
            launcher.append("--allow-run-as-root")
        cmd = launcher + shlex.split(a.mpirun_args) + cmd
    print("nightly: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    rc = subprocess.call(cmd)
    # A sweep that died (a point crashed the process, the out-of-memory killer, a lost rank) is
    # started again: it resumes, and a point that keeps killing its process is recorded as
    # failed after 3 attempts (xbar sweep), so the night goes on.
    for restart in range(a.restarts):
        if rc in (0, 2, 5):
            break
        print(f"nightly: the sweep died (status {rc}); resuming ({restart + 1}/{a.restarts})", flush=True)
        rc = subprocess.call(cmd)
    if rc not in (0, 5):
        print(f"nightly: error: the sweep exited with status {rc}", file=sys.stderr)
        return 2
    failed = rc == 5

    baseline = a.baseline or latest_baseline(runs_dir, out)
    worse = 0
    if baseline is None:
        print(f"nightly: no earlier complete run under {runs_dir}: nothing to compare with (this run is the baseline)")
    else:
        print(f"nightly: comparing {out} with {baseline}", flush=True)
        c = nightly_compare.main([baseline, out, "--quiet"])
        if c == 2:
            return 2
        worse = c
    if failed:
        print(f"nightly: some points failed (status `failed` in {out}/sweep.csv)")
    return 1 if (failed or worse) else 0


if __name__ == "__main__":
    sys.exit(main())
