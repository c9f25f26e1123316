#!/usr/bin/python3
"""Plots of xbar outputs (PNG), reading only their CSV, .npy and JSON files.

  scripts/plot_sweep.py error-vs-size DIR [--out error_vs_size.png] [--budget-lsb 1]
      max column-current error (in LSB of the error ADC) against array size, uncompensated,
      compensated and with the calibration table, and the 1-LSB line. DIR is a sweep of
      `calibrate` over rows/cols (one point per size; the worst over seeds is drawn), or a sweep
      of `size` (each point's size.csv), or one `xbar size` output directory (its size.csv).
  scripts/plot_sweep.py accuracy-vs-r DIR_OR_CSV [--x r-row] [--out accuracy_vs_r.png]
      inference accuracy against wire resistance from a sweep of `evaluate` (accuracy.json keys
      software, ideal, uncompensated, compensated, hat as CSV columns): mean over seeds with the
      min-max range; software as the reference line.
  scripts/plot_sweep.py voltages VOLTAGES.npy [--input K] [--out voltages.png]
      heat maps of the row (word-line) and column (bit-line) node voltages of one solved array
      (`xbar solve --save-voltages`: shape (2, M, N), or (K, 2, M, N) with --input K).

Debian packages: python3-matplotlib, python3-numpy.
"""
import argparse
import csv
import json
import math
import os
import sys

import numpy as np

plt = None  # matplotlib.pyplot, imported when the first figure is made (about a second)


def figure(*args, **kwargs):
    global plt
    if plt is None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
        plt = matplotlib.pyplot
    return plt.subplots(*args, **kwargs)

CRITERIA = [("uncomp", "uncompensated", "-", "o"),
            ("comp", "compensated map", "--", "s"),
            ("calib", "calibration table", ":", "^")]
# Errors are drawn on a log axis; an error of exactly 0 is drawn at this floor (in LSB).
LOG_FLOOR_LSB = 1e-6


class BadInput(Exception):
    pass


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise BadInput(f"cannot read {path}: {e}")


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def save(fig, out):
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"wrote {out}")


def size_axis(rows):
    """x values and label: M = N when every point is square, else M x N cells."""
    ms = [num(r.get("rows")) for r in rows]
    ns = [num(r.get("cols")) for r in rows]
    if all(m == n for m, n in zip(ms, ns)):
        return ms, "array size M = N (cells per word line and per bit line)"
    return [m * n for m, n in zip(ms, ns)], "array size M x N (cells)"


def error_series_from_size_csv(path):
    """{criterion: [(size, max_lsb)]}, budget, adc bits label from one size.csv."""
    rows = read_csv(path)
    if not rows:
        raise BadInput(f"{path}: no rows")
    xs, xlabel = size_axis(rows)
    series = {}
    for key, _, _, _ in CRITERIA:
        pts = [(x, num(r.get(f"{key}_max_lsb"))) for x, r in zip(xs, rows)]
        pts = [p for p in pts if not math.isnan(p[1])]
        if pts:
            series[key] = sorted(pts)
    return series, num(rows[0].get("budget_lsb")), xlabel


def plot_error_vs_size(a):
    d = a.path
    groups = []  # (label, {criterion: [(x, y)]})
    budget = a.budget_lsb
    adc_bits = None
    xlabel = "array size"
    if os.path.isfile(os.path.join(d, "size.csv")) and not os.path.isfile(os.path.join(d, "sweep.csv")):
        series, b, xlabel = error_series_from_size_csv(os.path.join(d, "size.csv"))
        groups.append(("", series))
        budget = budget if budget is not None else b
        adc_bits = read_json(os.path.join(d, "result.json")).get("sweep", {}).get("adc_bits") if os.path.isfile(os.path.join(d, "result.json")) else None
    else:
        manifest = read_json(os.path.join(d, "sweep.json"))
        rows = [r for r in read_csv(os.path.join(d, "sweep.csv")) if r.get("status") == "ok"]
        if not rows:
            raise BadInput(f"{d}/sweep.csv: no finished rows")
        command = manifest.get("command")
        swept = manifest.get("swept_keys", [])
        if command == "size":
            for r in rows:
                pdir = os.path.join(d, "points", r["id"])
                series, b, xlabel = error_series_from_size_csv(os.path.join(pdir, "size.csv"))
                label = " ".join(f"{k}={r[k]}" for k in swept)
                groups.append((label, series))
                budget = budget if budget is not None else b
                adc_bits = read_json(os.path.join(pdir, "result.json")).get("sweep", {}).get("adc_bits")
        elif command == "calibrate":
            fixed = manifest.get("definition", {}).get("fixed", {})
            for r in rows:
                for k in ("rows", "cols"):
                    if k not in r:
                        r[k] = fixed.get(k, "")
            if not any(k in swept for k in ("rows", "cols")):
                raise BadInput(f"{d}: this calibrate sweep does not vary rows or cols (swept: {', '.join(swept) or 'nothing'})")
            xs, xlabel = size_axis(rows)
            others = [k for k in swept if k not in ("rows", "cols")]
            by_group = {}
            for x, r in zip(xs, rows):
                label = " ".join(f"{k}={r[k]}" for k in others)
                g = by_group.setdefault(label, {})
                for key, _, _, _ in CRITERIA:
                    v = num(r.get(f"{key}_max_lsb"))
                    if not math.isnan(v):
                        # worst case over seeds (and anything else not in the label)
                        g.setdefault(key, {})
                        g[key][x] = max(v, g[key].get(x, -math.inf))
            for label, g in sorted(by_group.items()):
                groups.append((label, {k: sorted(v.items()) for k, v in g.items()}))
            adc_bits = rows[0].get("adc_bits")
        else:
            raise BadInput(f"{d}: a sweep of `{command}`; error-vs-size needs a sweep of calibrate or size")
    if budget is None or math.isnan(budget):
        budget = 1.0
    fig, ax = figure(figsize=(7, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for gi, (label, series) in enumerate(groups):
        color = colors[gi % len(colors)]
        for key, name, style, marker in CRITERIA:
            if key not in series:
                continue
            xs = [p[0] for p in series[key]]
            ys = [max(p[1], LOG_FLOOR_LSB) for p in series[key]]
            ax.plot(xs, ys, style, marker=marker, color=color, label=f"{name}{', ' + label if label else ''}")
    ax.axhline(budget, color="k", lw=1.2, label=f"{budget:g} LSB budget")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    bits = f" of the {int(float(adc_bits))}-bit error ADC" if adc_bits not in (None, "") else ""
    ax.set_ylabel(f"max |I - I_ideal| over held-out inputs [LSB{bits}]")
    ax.set_title("Column-current error vs array size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    save(fig, a.out or "error_vs_size.png")


def plot_accuracy_vs_r(a):
    path = os.path.join(a.path, "sweep.csv") if os.path.isdir(a.path) else a.path
    rows = [r for r in read_csv(path) if r.get("status", "ok") == "ok"]
    if not rows:
        raise BadInput(f"{path}: no finished rows")
    if a.x not in rows[0]:
        raise BadInput(f"{path}: no column '{a.x}' (the swept wire resistance; choose it with --x)")
    series = [("uncompensated", "uncompensated", "-", "o"),
              ("compensated", "IR-drop compensated", "--", "s"),
              ("hat", "compensated + hardware-aware training", "-.", "^")]
    xs = sorted({num(r[a.x]) for r in rows})
    fig, ax = figure(figsize=(7, 4.8))
    drawn = 0
    for col, label, style, marker in series + [("software", "software (reference)", ":", None)]:
        if col not in rows[0]:
            continue
        means, lo, hi, xv = [], [], [], []
        for x in xs:
            vals = [num(r[col]) for r in rows if num(r[a.x]) == x]
            vals = [v for v in vals if not math.isnan(v)]
            if vals:
                xv.append(x)
                means.append(100 * sum(vals) / len(vals))
                lo.append(100 * min(vals))
                hi.append(100 * max(vals))
        if not xv:
            continue
        m = np.array(means)
        ax.errorbar(xv, m, yerr=[m - np.array(lo), np.array(hi) - m], fmt=style, marker=marker, capsize=3, label=label)
        drawn += 1
    if not drawn:
        raise BadInput(f"{path}: none of the columns uncompensated, compensated, hat, software")
    unit = "Ω" if a.x.startswith("r-") else ""
    ax.set_xlabel(f"wire resistance per segment ({a.x}) [{unit or 'as swept'}]")
    ax.set_ylabel("test accuracy [%]")
    ax.set_title("Inference accuracy vs wire resistance (mean over seeds, bars: min-max)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    save(fig, a.out or "accuracy_vs_r.png")


def plot_voltages(a):
    try:
        v = np.load(a.path)
    except (OSError, ValueError) as e:
        raise BadInput(f"cannot read {a.path}: {e}")
    if v.ndim == 4:
        if not 0 <= a.input < v.shape[0]:
            raise BadInput(f"{a.path}: --input {a.input} outside 0..{v.shape[0] - 1}")
        v = v[a.input]
    if v.ndim != 3 or v.shape[0] != 2:
        raise BadInput(f"{a.path}: shape {v.shape}, expected (2, M, N) or (K, 2, M, N)")
    m, n = v.shape[1], v.shape[2]
    title = f"{m} x {n} array"
    rj = os.path.join(os.path.dirname(os.path.abspath(a.path)), "result.json")
    if os.path.isfile(rj):
        arr = read_json(rj).get("array", {})
        if arr:
            title += f", r-row {arr.get('r_row_segment_ohm', '?'):g} Ω, r-col {arr.get('r_col_segment_ohm', '?'):g} Ω per segment"
    fig, axes = figure(1, 2, figsize=(11, 4.6))
    for ax, layer, name in ((axes[0], 0, "row (word-line) nodes r(i, j)"), (axes[1], 1, "column (bit-line) nodes c(i, j)")):
        im = ax.imshow(v[layer], origin="upper", aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("column j (bit line)")
        ax.set_ylabel("row i (word line)")
        fig.colorbar(im, ax=ax).set_label("node voltage [V]")
    fig.suptitle(title)
    save(fig, a.out or "voltages.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("error-vs-size", help="error vs array size with the 1-LSB line")
    p.add_argument("path", help="sweep DIR (calibrate or size) or a `xbar size` output DIR")
    p.add_argument("--budget-lsb", type=float, default=None, help="the budget line [LSB] (default: size.csv's, else 1)")
    p.add_argument("--out")
    p = sub.add_parser("accuracy-vs-r", help="accuracy vs wire resistance")
    p.add_argument("path", help="sweep DIR or CSV of an evaluate sweep")
    p.add_argument("--x", default="r-row", help="the swept resistance column (default r-row)")
    p.add_argument("--out")
    p = sub.add_parser("voltages", help="row/column node-voltage heat maps")
    p.add_argument("path", help="voltages.npy from xbar solve --save-voltages")
    p.add_argument("--input", type=int, default=0, help="input index for a (K, 2, M, N) batch")
    p.add_argument("--out")
    a = ap.parse_args(argv)
    try:
        {"error-vs-size": plot_error_vs_size, "accuracy-vs-r": plot_accuracy_vs_r, "voltages": plot_voltages}[a.what](a)
    except BadInput as e:
        print(f"plot_sweep {a.what}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
