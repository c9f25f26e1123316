#!/usr/bin/python3
"""Regression check of two `xbar sweep` results: which rows got worse from OLD to NEW.

usage: scripts/nightly_compare.py OLD NEW [--manifest SWEEP.json]

OLD and NEW are sweep directories (holding sweep.csv and sweep.json) or sweep.csv files. The
tolerances are the sweep INI's `max-increase.METRIC = X` / `max-decrease.METRIC = X` lines
(`X%`: percent of the old value), which `xbar sweep` checks and copies into DIR/sweep.json;
they are read from NEW's sweep.json, or from --manifest.

Rows are matched on command, seed and the swept keys (not on the id, so a reordered INI still
compares). A row is worse when
  - a metric with a tolerance rose (max-increase) or fell (max-decrease) by more than allowed,
    or was a number before and is empty or not a number now;
  - it failed now (status `failed`) and did not before;
  - it is in OLD and missing from NEW.
Timing columns (time_s, finished_utc) are never compared.

Exit status: 0 no row worse, 1 some rows worse (printed), 2 bad input.
Python 3 standard library only (csv, json).
"""
import argparse
import csv
import json
import math
import os
import sys

TIMING = {"time_s", "finished_utc"}
FIXED_COLUMNS = {"id", "command", "seed", "status", "exit_code", "error", "version"} | TIMING


class BadInput(Exception):
    pass


def csv_path(p):
    return os.path.join(p, "sweep.csv") if os.path.isdir(p) else p


def read_rows(path):
    p = csv_path(path)
    try:
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise BadInput(f"cannot read {p}: {e.strerror}")
    if rows and "id" not in rows[0]:
        raise BadInput(f"{p}: not a sweep.csv (no `id` column)")
    return rows


def read_manifest(path):
    try:
        with open(path) as f:
            m = json.load(f)
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not JSON ({e})")
    if m.get("record") != "sweep":
        raise BadInput(f"{path}: not a sweep.json written by xbar sweep")
    return m


def number(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v


def match_key(row, swept):
    return (row.get("command", ""), row.get("seed", "")) + tuple((k, row.get(k, "")) for k in swept)


def describe(row, swept):
    keys = " ".join(f"{k}={row.get(k, '')}" for k in swept)
    return f"{row.get('id', '?')} ({keys}{' ' if keys else ''}seed={row.get('seed', '')})"


def allowed_change(tol, old):
    amount = float(tol["amount"])
    return amount / 100.0 * abs(old) if tol.get("relative") else amount


def compare(old_rows, new_rows, tolerances, swept):
    """Returns (worse, notes): lists of (row description, message)."""
    worse, notes = [], []
    new_by_key = {}
    for r in new_rows:
        new_by_key[match_key(r, swept)] = r
    old_keys = set()
    for o in old_rows:
        k = match_key(o, swept)
        old_keys.add(k)
        n = new_by_key.get(k)
        if n is None:
            worse.append((describe(o, swept), "missing from the new sweep"))
            continue
        if n.get("status") != "ok" and o.get("status") == "ok":
            worse.append((describe(n, swept), f"failed now (exit {n.get('exit_code')}): {n.get('error', '')}"))
            continue
        if n.get("status") != "ok":
            notes.append((describe(n, swept), f"still failing (exit {n.get('exit_code')}): {n.get('error', '')}"))
            continue
        for t in tolerances:
            m = t["metric"]
            ov, nv = number(o.get(m)), number(n.get(m))
            if ov is None or math.isnan(ov):
                continue  # nothing to compare against
            if nv is None or math.isnan(nv):
                worse.append((describe(n, swept), f"{m}: {o.get(m)} -> '{n.get(m, '')}' (no longer a number)"))
                continue
            allowed = allowed_change(t, ov)
            rise = nv - ov
            if t["worse_when"] == "higher" and rise > allowed:
                worse.append((describe(n, swept), f"{m}: {o[m]} -> {n[m]} (+{rise:.6g}; allowed +{allowed:.6g})"))
            elif t["worse_when"] == "lower" and -rise > allowed:
                worse.append((describe(n, swept), f"{m}: {o[m]} -> {n[m]} ({rise:.6g}; allowed -{allowed:.6g})"))
    for k, n in new_by_key.items():
        if k not in old_keys:
            notes.append((describe(n, swept), "new row (no baseline)"))
    return worse, notes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("old", help="baseline: sweep DIR or sweep.csv")
    ap.add_argument("new", help="new run: sweep DIR or sweep.csv")
    ap.add_argument("--manifest", help="sweep.json with the tolerances (default: NEW/sweep.json)")
    ap.add_argument("--quiet", action="store_true", help="print only the worse rows")
    a = ap.parse_args(argv)
    try:
        mpath = a.manifest or os.path.join(a.new if os.path.isdir(a.new) else os.path.dirname(a.new) or ".", "sweep.json")
        manifest = read_manifest(mpath)
        tolerances = manifest.get("tolerances", [])
        swept = manifest.get("swept_keys", [])
        old_rows, new_rows = read_rows(a.old), read_rows(a.new)
        for name, rows in (("old", old_rows), ("new", new_rows)):
            if rows:
                missing = [c for c in swept + [t["metric"] for t in tolerances] if c not in rows[0]]
                if missing:
                    raise BadInput(f"{csv_path(getattr(a, name))}: no column(s) {', '.join(missing)} "
                                   f"(a different sweep than {mpath}?)")
    except BadInput as e:
        print(f"nightly_compare: error: {e}", file=sys.stderr)
        return 2
    worse, notes = compare(old_rows, new_rows, tolerances, swept)
    if not tolerances:
        print("nightly_compare: the sweep INI has no max-increase./max-decrease. lines: only failures and missing rows are checked")
    if not a.quiet:
        for d, msg in notes:
            print(f"  note  {d}: {msg}")
    for d, msg in worse:
        print(f"  WORSE {d}: {msg}")
    print(f"nightly_compare: {len(new_rows)} rows against {len(old_rows)} in the baseline, "
          f"{len(tolerances)} tolerance(s): {len(worse)} worse")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
