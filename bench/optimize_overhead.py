#!/usr/bin/python3
"""What `xbar optimize` adds to the runs it drives (issue 20, point 3): a study of N distinct
points against the same N `xbar calibrate` runs made directly through the package, side by
side in one process.

    PYTHONPATH=python:build/python bench/optimize_overhead.py [--size M] [--trials N] [--repeats R]

The study: an M x M array, r-row = r-col searched over N distinct values by the grid sampler
(no point repeats, so every trial runs calibrate), objective minimize max_lsb, one constraint,
the default SQLite storage. Each repeat times, alternating:

  direct    N calls of xbar.run("calibrate", ...) with the keys the trials get;
  optimize  xbar.optimize.run on a fresh output directory: the study created in SQLite, the N
            trials (Optuna's sampler, the storage's commits, trials.csv and pareto.csv
            rewritten after each), then pareto.png and result.json.

One untimed warm-up of each first (imports of optuna and matplotlib, the page cache). Prints
every time, the medians, their ratio, the added time per trial and the load average.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import xbar
import xbar.optimize as xo


def study_text(size, wires):
    return "\n".join(["rows = %d" % size, "cols = %d" % size, "r-row = %s" % ", ".join(wires), "r-col = r-row",
                      "heldout = 100", "objective = minimize max_lsb", "constraint = max_lsb <= 1"]) + "\n"


def direct(size, wires, out):
    t = time.perf_counter()
    for k, w in enumerate(wires):
        status = xbar.run("calibrate", rows=size, cols=size, r_row=w, r_col=w, heldout=100, quiet=True,
                          out=os.path.join(out, "direct%d" % k))
        assert status == 0
    return time.perf_counter() - t


def optimize(ini, out):
    t = time.perf_counter()
    status = xo.run(["--config", ini, "--out", out, "--sampler", "grid", "--trials", "1000000", "--quiet"])
    assert status == 0
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    wires = ["%g" % (0.5 + 0.1 * k) for k in range(a.trials)]
    with tempfile.TemporaryDirectory(prefix="xbar-optimize-bench-") as root:
        ini = os.path.join(root, "s.ini")
        with open(ini, "w") as f:
            f.write(study_text(a.size, wires))
        direct(a.size, wires, os.path.join(root, "warm"))
        optimize(ini, os.path.join(root, "warm_opt"))
        d_times, o_times = [], []
        for r in range(a.repeats):
            d_times.append(direct(a.size, wires, os.path.join(root, "d%d" % r)))
            o_times.append(optimize(ini, os.path.join(root, "o%d" % r)))
            print("repeat %d: direct %.3f s, optimize %.3f s" % (r + 1, d_times[-1], o_times[-1]), flush=True)
    d, o = statistics.median(d_times), statistics.median(o_times)
    print("%d trials of calibrate %d x %d: direct median %.3f s, optimize median %.3f s, ratio %.2f, "
          "added %.0f ms per trial (sampler, storage, CSVs; plot and result.json included)"
          % (a.trials, a.size, a.size, d, o, o / d, 1e3 * (o - d) / a.trials))
    print("load average: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
