# Longer than the project's ~600-line guide (about 1,400 lines): the study reader, the search
# space, the trial runner, the Pareto filter and the outputs are sections of one module so that
# `python3 -m xbar.optimize` stays one importable unit with one private state (the study, its
# storage and the run directory). Its sections are marked; splitting them into a package
# (xbar/optimize/) is the natural next step when any of them grows.
"""Multi-objective design-space search over xbar's subcommands with Optuna (``xbar optimize``).

A study is an INI file: the keys searched (ranges and lists), the keys held fixed, the
objectives and the constraints. Every trial runs, in this process through the ``xbar``
package, the subcommands its metrics need -- ``calibrate`` (the array's error in LSB),
``ppa`` (energy, latency, area) and ``evaluate`` (a network's accuracy) -- and Optuna chooses
the next trial (NSGA-II for several objectives, TPE for one, or a grid, or random draws)::

    # largest.ini: the largest array within 1 LSB and 20 ns
    rows = 16..256 log            # an integer range, sampled on a log scale
    cols = rows                   # a key named after a searched key: the same value
    r-row = 0.5, 1, 2.5           # a list of choices
    r-col = r-row
    adc-bits = 8                  # one value: every trial
    compensate = true, false      # the IR-drop compensation map on or off
    objective = maximize cells
    constraint = max_lsb <= 1
    constraint = latency_s <= 20e-9

    xbar optimize --config largest.ini --trials 40 --seed 1 --out opt
    python3 -m xbar.optimize --config largest.ini --trials 40 --seed 1 --out opt   # the same

writes ``opt/trials.csv`` (every trial), ``opt/pareto.csv`` (the feasible non-dominated
trials), ``opt/pareto.png`` and ``opt/result.json``; the study itself lives in
``opt/study.db`` (``--storage``), so running the same command again continues it up to
``--trials`` finished trials. ``xbar optimize --help`` describes every key.

From Python: ``xbar.optimize.main(["--config", "s.ini", "--out", "d"])`` returns the exit
status; bad input raises :class:`xbar.InputError` before any trial runs.
"""

import argparse
import csv
import datetime
import io
import json
import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

import _xbar
from . import InputError, NumericalError, __version__, keys as _xbar_keys

PROG = "xbar optimize"
DEFAULT_STUDY_NAME = "xbar-optimize"

# The subcommands a trial may run, in the order it runs them: calibrate first, so that ppa can
# cost the compensated conductances calibrate found.
COMMANDS = ("calibrate", "ppa", "evaluate")

# The limits of the CLI's INI reader (engine/cli/cli_ini.cc): a study file is an INI file too.
MAX_INI_LINE_BYTES = 4 << 20
MAX_INI_FILE_BYTES = 64 << 20
# A grid of more points than this is a mistake, as it is for xbar sweep.
MAX_GRID_POINTS = 1000000

# A stepped range's stop is included when it lies within this fraction of a step of the grid
# (xbar sweep's rule, so that 0.1:0.1:0.3 ends at 0.3).
RANGE_STOP_SLACK_STEPS = 1e-9

# Keys the study file may not set: optimize sets them for every run.
SET_BY_OPTIMIZE = ("out", "quiet", "config", "help")

# Metrics that are not columns of a subcommand's result (xbar sweep's columns are: see
# metric_catalog), each with the subcommand it needs and what it is.
DERIVED_METRICS = {
    "cells": (None, "rows x cols of the array (from the keys, or the subcommands' defaults)"),
    "max_lsb": ("calibrate", "largest column-current error over held-out inputs in LSB of an adc-bits ADC: "
                "comp_max_lsb with compensate = true, else uncomp_max_lsb"),
    "rms_lsb": ("calibrate", "RMS of that error in LSB: comp_rms_lsb or uncomp_rms_lsb"),
    "max_pct_fs": ("calibrate", "largest error in % of full scale: comp_max_pct_fs or uncomp_max_pct_fs"),
    "accuracy": ("evaluate", "test accuracy (fraction) of the network on the tiles: compensated with compensate = "
                 "true, else uncompensated"),
}

# Keys that describe a random array; ppa of a compensated array takes calibrate's map instead.
RANDOM_ARRAY_KEYS = ("rows", "cols", "g-on", "g-off", "g")

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


# ---------------------------------------------------------------------------------------------
# Units: from the metric's name, as xbar names every quantity (STYLE.md: units in names).

UNIT_SUFFIXES = (("_m2", "m²"), ("_s", "s"), ("_j", "J"), ("_a", "A"), ("_w", "W"), ("_lsb", "LSB"),
                 ("_pct_fs", "% of full scale"), ("_v", "V"), ("_ohm", "Ω"), ("_f", "F"))
KEY_UNITS = {"r-row": "Ω", "r-col": "Ω", "r-driver": "Ω", "r-sense": "Ω", "v-read": "V", "g-on": "S",
             "g-off": "S", "g-min": "S", "g-max": "S", "c-row": "F", "c-col": "F", "t-stop": "s",
             "read-time": "s", "rows": "rows", "cols": "columns", "adc-bits": "bits", "dac-bits": "bits",
             "tile-rows": "rows", "tile-cols": "columns", "columns-per-adc": "columns"}
FRACTION_METRICS = ("accuracy", "software", "ideal", "uncompensated", "compensated", "hat")


def unit_of(name):
    """The unit of a metric or key from its name: 's' for latency_s, 'J' for *_j, ..."""
    if name in KEY_UNITS:
        return KEY_UNITS[name]
    if name in FRACTION_METRICS:
        return "fraction"
    if name == "cells":
        return "cells"
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


# ---------------------------------------------------------------------------------------------
# The study file.

def trim_ini(raw):
    """An INI line without its inline comment ('#' or ';' after whitespace), trimmed: the rule of
    the CLI's INI reader (support/text.h)."""
    for p in range(1, len(raw)):
        if raw[p] in "#;" and raw[p - 1] in " \t":
            raw = raw[:p]
            break
    return raw.strip(" \t\r")


def message_names_key(message, key):
    """True when an xbar message blames `key` by name (support/text.h's rule)."""
    for lead in ("key " + key, "keys " + key, "--" + key, ", " + key + " ="):
        for m in re.finditer(re.escape(lead), message):
            end = m.end()
            if end == len(message) or not (message[end].isalnum() or message[end] in "-_"):
                return True
    return False


def read_ini_lines(path):
    """[(line number, text without comment)] of the non-empty, non-comment lines of `path`,
    refused as the CLI's INI reader refuses a file (a directory or device, too long a line or
    file, a NUL byte, invalid UTF-8), naming the file and line."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError("key config = '%s': cannot read it: %s" % (path, e.strerror)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("key config = '%s': a directory, expected a study INI file" % path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise InputError("key config = '%s': not a regular file or a pipe (a device?), expected a study INI file" % path)
    if st.st_size > MAX_INI_FILE_BYTES:
        raise InputError("%s: %d bytes, more than an INI file may hold (%d)" % (path, st.st_size, MAX_INI_FILE_BYTES))
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_INI_FILE_BYTES + 1)
    except OSError as e:
        raise InputError("key config = '%s': cannot read it: %s" % (path, e.strerror)) from None
    if len(data) > MAX_INI_FILE_BYTES:
        raise InputError("%s: more than %d bytes, more than an INI file may hold" % (path, MAX_INI_FILE_BYTES))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if len(raw) > MAX_INI_LINE_BYTES:
            raise InputError("%s:%d: line longer than %d bytes" % (path, n, MAX_INI_LINE_BYTES))
        if b"\0" in raw:
            raise InputError("%s:%d: a NUL byte (a binary file?)" % (path, n))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError("%s:%d: invalid UTF-8 at byte %d of the line" % (path, n, e.start + 1)) from None
        text = trim_ini(text)
        if text and text[0] not in "#;":
            lines.append((n, text))
    return lines


def split_items(value, where):
    """A value split at commas outside double quotes: [(text, quoted)]."""
    items, cur, quoted = [], "", False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if quoted:
        raise InputError(where + "unterminated '\"'")
    items.append(cur.strip())
    out = []
    for item in items:
        if not item:
            raise InputError(where + "empty item in the list (expected values separated by commas)")
        if item.startswith('"'):
            if len(item) < 2 or not item.endswith('"') or '"' in item[1:-1]:
                raise InputError(where + "a quoted value must be one \"...\" item")
            if len(item) == 2:
                raise InputError(where + "empty quoted value")
            out.append((item[1:-1], True))
        else:
            out.append((item, False))
    return out


INT_RE = re.compile(r"[+-]?[0-9]+")


def number(text):
    """int for an integer literal, float for another finite number, None otherwise."""
    if INT_RE.fullmatch(text):
        return int(text)
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) and not text.strip().lower().startswith(("nan", "inf", "+inf", "-inf")) else None


def value_text(v):
    """The text xbar receives for a value: integers in decimal, floats with 15 significant
    digits when that reads back as the same double (0.1 + 0.2 stays 0.3 on a stepped grid's
    points, which are snapped to that text), else exactly."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        short = "%.15g" % v
        return short if float(short) == v else repr(float(v))
    return str(v)


class Param:
    """One searched key: an integer or float interval (optionally log-scaled or stepped), or a
    list of choices."""

    def __init__(self, key, line, kind, low=None, high=None, step=None, log=False, choices=None, texts=None):
        self.key, self.line, self.kind = key, line, kind
        self.low, self.high, self.step, self.log = low, high, step, log
        self.choices = choices or []
        self.texts = texts or {}  # choice -> the text the file gave

    def suggest(self, trial):
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        if self.kind == "float":
            v = trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)
            return float(value_text(v)) if self.step else v
        return trial.suggest_categorical(self.key, self.choices)

    def text(self, v):
        return self.texts.get(v, value_text(v)) if self.kind == "categorical" else value_text(v)

    def extremes(self):
        """The values the preflight checks: both ends of a range, every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def grid_values(self):
        """Every value (a grid sampler's axis), or None for a continuous interval."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.step:
            n = int(round((self.high - self.low) / self.step))
            return [float(value_text(self.low + k * self.step)) for k in range(n + 1)]
        return None

    def size(self):
        if self.kind == "categorical":
            return len(self.choices)
        if self.kind == "int":
            return (self.high - self.low) // (self.step or 1) + 1
        return int(round((self.high - self.low) / self.step)) + 1 if self.step else None

    def describe(self):
        d = {"key": self.key, "line": self.line, "kind": self.kind}
        if self.kind == "categorical":
            d["choices"] = [self.text(c) for c in self.choices]
        else:
            d.update(low=self.low, high=self.high, log=self.log, step=self.step)
        unit = unit_of(self.key)
        if unit:
            d["unit"] = unit
        return d


def parse_range(key, item, where):
    """`a..b [log]` or `start:step:stop` as a Param, or None when `item` is neither."""
    m = re.fullmatch(r"(\S+?)\s*\.\.\s*(\S+?)(\s+log)?", item)
    if m and number(m.group(1)) is not None:
        a, b, log = number(m.group(1)), number(m.group(2)), bool(m.group(3))
        if b is None:
            raise InputError(where + "bad range: expected a..b with two finite numbers, e.g. 0.5..5 or 16..512 log")
        if not a < b:
            raise InputError(where + "bad range: %s is not below %s (expected a..b with a < b; one value is "
                             "written as itself)" % (m.group(1), m.group(2)))
        if log and a <= 0:
            raise InputError(where + "bad range: a log range needs a start > 0, got %s" % m.group(1))
        if isinstance(a, int) and isinstance(b, int):
            return Param(key, None, "int", a, b, None, log)
        return Param(key, None, "float", float(a), float(b), None, log)
    if re.fullmatch(r"\s*\.\..*|.*\.\.\s*", item) or (m is None and ".." in item and number(item.split("..")[0]) is not None):
        raise InputError(where + "bad range: expected a..b with two finite numbers, e.g. 0.5..5 or 16..512 log")
    parts = item.split(":")
    if len(parts) == 3 and number(parts[0].strip()) is not None:
        start, step, stop = (number(p.strip()) for p in parts)
        if step is None or stop is None:
            raise InputError(where + "bad range: expected start:step:stop with three finite numbers, e.g. 0.5:0.5:3")
        if not (step > 0 and start < stop):
            raise InputError(where + "bad range: expected start < stop and a step > 0, e.g. 0.5:0.5:3")
        n = round((stop - start) / step)
        if abs(start + n * step - stop) > RANGE_STOP_SLACK_STEPS * step:
            raise InputError(where + "bad range: stop %s is not start plus a whole number of steps" % parts[2].strip())
        if all(isinstance(x, int) for x in (start, step, stop)):
            return Param(key, None, "int", start, stop, step, False)
        return Param(key, None, "float", float(start), float(stop), float(step), False)
    return None


class Objective:
    def __init__(self, direction, metric, line, text):
        self.direction, self.metric, self.line, self.text = direction, metric, line, text


class Constraint:
    """`metric <= bound` or `metric >= bound`; bound a number, a metric, or number * metric.
    Its value for Optuna (<= 0: satisfied) is the violation relative to |bound| (a plain
    difference when the bound is 0), so that constraints in different units weigh alike."""

    def __init__(self, metric, op, factor, ref, line, text):
        self.metric, self.op, self.factor, self.ref, self.line, self.text = metric, op, factor, ref, line, text

    def metrics(self):
        return [self.metric] + ([self.ref] if self.ref else [])

    def bound(self, metrics):
        return self.factor * (float(metrics[self.ref]) if self.ref else 1.0)

    def violation(self, metrics):
        lhs, bound = float(metrics[self.metric]), self.bound(metrics)
        d = lhs - bound if self.op == "<=" else bound - lhs
        return d / abs(bound) if bound != 0 else d


def parse_objective(value, where, line):
    m = re.fullmatch(r"(maximize|minimize|max|min)\s+(\S+)", value)
    if not m:
        raise InputError(where + "objective = '%s': expected `maximize METRIC` or `minimize METRIC`" % value)
    return Objective("maximize" if m.group(1).startswith("max") else "minimize", m.group(2), line, value)


def parse_constraint(value, where, line):
    m = re.fullmatch(r"(\S+?)\s*(<=|>=|<|>|==|=)\s*(.+)", value)
    if not m or m.group(2) not in ("<=", ">="):
        raise InputError(where + "constraint = '%s': expected `METRIC <= BOUND` or `METRIC >= BOUND` (BOUND: a "
                         "number, a metric, or NUMBER * METRIC, e.g. accuracy >= 0.99 * software)" % value)
    rhs = m.group(3).strip()
    factor, ref = None, None
    prod = re.fullmatch(r"(\S+)\s*\*\s*(\S+)", rhs)
    if prod:
        a, b = prod.group(1), prod.group(2)
        if number(a) is not None and number(b) is None:
            factor, ref = float(number(a)), b
        elif number(b) is not None and number(a) is None:
            factor, ref = float(number(b)), a
    elif number(rhs) is not None:
        factor = float(number(rhs))
    elif re.fullmatch(r"[A-Za-z_][\w.-]*", rhs):
        factor, ref = 1.0, rhs
    if factor is None:
        raise InputError(where + "constraint = '%s': the bound '%s' is not a number, a metric or NUMBER * METRIC"
                         % (value, rhs))
    return Constraint(m.group(1), m.group(2), factor, ref, line, value)


class Definition:
    """A study file, parsed: searched keys (params), fixed keys, linked keys (`cols = rows`),
    objectives and constraints, each with its line."""

    def __init__(self, path):
        self.path = path
        self.params = {}     # key -> Param
        self.fixed = {}      # key -> text
        self.links = {}      # key -> searched key it copies
        self.lines = {}      # key -> line number
        self.objectives = []
        self.constraints = []

    def at(self, line):
        return "%s:%d: " % (self.path, line)

    def keys(self):
        """Every xbar key the file sets, in file order."""
        return sorted(self.lines, key=self.lines.get)

    def definition_json(self):
        """What a resumed study must share with the stored one."""
        space = [{k: v for k, v in p.describe().items() if k != "line"} for p in self.params.values()]
        return {"space": space,
                "fixed": dict(self.fixed),
                "linked": dict(self.links),
                "objectives": [{"direction": o.direction, "metric": o.metric} for o in self.objectives],
                "constraints": [c.text for c in self.constraints]}


def read_definition(path):
    d = Definition(path)
    for n, text in read_ini_lines(path):
        where = d.at(n)
        if text.startswith("["):
            if not text.endswith("]"):
                raise InputError(where + "section header '%s' lacks ']'" % text)
            continue
        if "=" not in text:
            raise InputError(where + "expected `key = value`, got '%s'" % text)
        key, value = (s.strip(" \t") for s in text.split("=", 1))
        if not key:
            raise InputError(where + "missing key before '='")
        if not value:
            raise InputError(where + "key '%s' has no value after '='" % key)
        if key == "objective":
            d.objectives.append(parse_objective(value, where, n))
            continue
        if key == "constraint":
            d.constraints.append(parse_constraint(value, where, n))
            continue
        if key in d.lines:
            raise InputError(where + "key '%s' given twice (first at line %d); put every choice of a key in one "
                             "list: key = a, b, c" % (key, d.lines[key]))
        if key in SET_BY_OPTIMIZE:
            raise InputError(where + "key '%s' is set by xbar optimize itself (every trial writes under --out "
                             "DIR/trials/NUMBER/SUBCOMMAND, quietly)" % key)
        d.lines[key] = n
        kwhere = where + "key %s = '%s': " % (key, value)
        items = split_items(value, kwhere)
        if len(items) > 1:
            choices, texts = [], {}
            for text_, quoted in items:
                v = text_ if quoted else number(text_)
                v = text_ if v is None else v
                if v in texts:
                    raise InputError(kwhere + "the value '%s' is listed twice (from '%s')" % (text_, texts[v]))
                choices.append(v)
                texts[v] = text_
            d.params[key] = Param(key, n, "categorical", choices=choices, texts=texts)
            continue
        text_, quoted = items[0]
        p = None if quoted else parse_range(key, text_, kwhere)
        if p is not None:
            p.line = n
            d.params[key] = p
        else:
            d.fixed[key] = text_
    for key, text_ in list(d.fixed.items()):
        if text_ in d.params:
            d.links[key] = text_
            del d.fixed[key]
    if not d.objectives:
        raise InputError(path + ": no `objective = maximize|minimize METRIC` line: say what the search optimizes")
    seen = {}
    for o in d.objectives:
        if o.metric in seen:
            raise InputError(d.at(o.line) + "objective '%s': metric %s is already an objective (line %d)"
                             % (o.text, o.metric, seen[o.metric]))
        seen[o.metric] = o.line
    if "compensate" in d.fixed:
        compensate_value(d.fixed["compensate"], d.at(d.lines["compensate"]) + "key compensate: ")
    if "compensate" in d.params:
        p = d.params["compensate"]
        if p.kind != "categorical":
            raise InputError(d.at(p.line) + "key compensate: expected true, false or the list true, false")
        for c in p.choices:
            compensate_value(p.text(c), d.at(p.line) + "key compensate: ")
    return d


def compensate_value(text, where):
    t = str(text).strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise InputError(where + "'%s' is not true or false" % text)


# ---------------------------------------------------------------------------------------------
# What the trials run: the subcommands the metrics need, and which keys each one takes.

def metric_catalog():
    """{metric: (subcommand or None, result file, JSON pointer or None)}: xbar sweep's columns of
    calibrate, ppa and evaluate (engine/sweep/sweep_commands.cc, one table for both) and the
    derived metrics."""
    table = _xbar.sweep_metrics()
    catalog = {}
    for cmd in COMMANDS:
        result_file, metrics = table[cmd]
        for column, pointer in metrics:
            if column in catalog:  # would make a trial's metric ambiguous
                raise RuntimeError("metric %s is a column of both %s and %s" % (column, catalog[column][0], cmd))
            catalog[column] = (cmd, result_file, pointer)
    for name, (cmd, _) in DERIVED_METRICS.items():
        catalog[name] = (cmd, None, None)
    return catalog


class Plan:
    """The subcommands a trial runs and the keys each of them takes."""

    def __init__(self, definition):
        d = self.definition = definition
        catalog = self.catalog = metric_catalog()
        self.model = "model" in d.fixed or "model" in d.params
        needed, self.key_metrics = set(), set()
        refs = [(o.metric, o.line, "objective '%s'" % o.text) for o in d.objectives]
        refs += [(m, c.line, "constraint '%s'" % c.text) for c in d.constraints for m in c.metrics()]
        for metric, line, what in refs:
            if metric in d.params or metric in d.fixed or metric in d.links:
                self.key_metrics.add(metric)
                continue
            if metric not in catalog:
                raise InputError(d.at(line) + "%s: unknown metric '%s' (expected a key of the study, or one of: %s)"
                                 % (what, metric, ", ".join(sorted(catalog))))
            cmd = catalog[metric][0]
            if cmd == "evaluate" and not self.model:
                raise InputError(d.at(line) + "%s: metric %s comes from xbar evaluate, which needs a network: "
                                 "add `model = FILE.pt` to %s" % (what, metric, d.path))
            if cmd:
                needed.add(cmd)
        for key in self.key_metrics:
            texts = [d.fixed[key]] if key in d.fixed else \
                [d.params[d.links.get(key, key)].text(c) for c in d.params[d.links.get(key, key)].extremes()]
            bad = [t for t in texts if number(t) is None]
            if bad:
                raise InputError(d.at(d.lines[key]) + "key %s = '%s': not a number, so not a metric an objective or "
                                 "constraint can use" % (key, bad[0]))
        if "ppa" in needed and not self.model and self.may_compensate():
            needed.add("calibrate")  # ppa of the compensated array costs calibrate's map
        self.commands = [c for c in COMMANDS if c in needed]
        self.tables = {c: _xbar_keys(c) for c in self.commands}
        # The design's ADC is the one whose LSB measures the error and bounds the settling band.
        if "adc-bits" in d.lines and "error-adc-bits" not in d.lines:
            self.alias = {c: "error-adc-bits" for c in self.commands if "error-adc-bits" in self.tables[c]}
        else:
            self.alias = {}
        self.takers = {}  # key -> [subcommand]
        for key in d.keys():
            if key == "compensate" and self.commands:
                self.takers[key] = [c for c in self.commands if "compensate" in self.tables[c]]
                continue
            takers = [c for c in self.commands if key in self.tables[c]]
            used = key in self.key_metrics or (key in ("rows", "cols") and "cells" in referenced_metrics(d)) or \
                (key == "adc-bits" and bool(self.alias))
            if not takers and not used:
                known = [c for c in COMMANDS if key in _xbar_keys(c)]
                if not known:
                    raise InputError(d.at(d.lines[key]) + "unknown key '%s' (not a key of xbar %s; see xbar "
                                     "SUBCOMMAND --help)" % (key, ", ".join(COMMANDS)))
                runs = ("runs only " + " and ".join(self.commands)) if self.commands else "runs no subcommand"
                raise InputError(d.at(d.lines[key]) + "key %s: a key of xbar %s, but this study %s (what its "
                                 "objectives and constraints need)" % (key, " and ".join(known), runs))
            self.takers[key] = takers
        # A transient that ended before the array settled gives only a lower bound of latency.
        self.settled_metric = None
        if "ppa" in self.commands:
            self.settled_metric = "network_settled" if self.model else "settled"

    def may_compensate(self):
        d = self.definition
        if "compensate" in d.params:
            return any(compensate_value(d.params["compensate"].text(c), "") for c in d.params["compensate"].choices)
        return "compensate" in d.fixed and compensate_value(d.fixed["compensate"], "")

    def arguments(self, cmd, values, out_dir, g_file=None):
        """The command line of `cmd` (without `xbar`) for key values {key: text}."""
        args = [cmd]
        for key, text in values.items():
            if key == "compensate" and cmd != "evaluate":
                continue
            if g_file and key in RANDOM_ARRAY_KEYS:
                continue
            names = ([key] if cmd in self.takers.get(key, []) else []) + \
                ([self.alias[cmd]] if key == "adc-bits" and cmd in self.alias else [])
            for name in names:
                if self.tables[cmd][name][0]:
                    args += ["--" + name, text]
                elif compensate_value(text, ""):  # a switch: present or absent
                    args.append("--" + name)
        if g_file:
            args += ["--g", g_file]
        return args + ["--out", out_dir, "--quiet"]


def trial_values(definition, chosen):
    """{key: text} of every key of a trial (file order): searched values, fixed, linked."""
    d = definition
    values = {}
    for key in d.keys():
        if key in d.params:
            values[key] = d.params[key].text(chosen[key])
        elif key in d.links:
            values[key] = d.params[d.links[key]].text(chosen[d.links[key]])
        else:
            values[key] = d.fixed[key]
    return values


def preflight(plan, scratch):
    """Every subcommand's own checks (xbar sweep's dry run: values, input files, memory) on the
    corners of the space -- every searched key at its first value, then each at each of its
    extremes -- before any trial runs. A refusal names the line of the key it blames."""
    d = plan.definition
    base = {k: p.extremes()[0] for k, p in d.params.items()}
    corners = [(None, base)]
    for key, p in d.params.items():
        for v in p.extremes()[1:]:
            corners.append((key, dict(base, **{key: v})))
    for varied, chosen in corners:
        values = trial_values(d, chosen)
        for cmd in plan.commands:
            args = plan.arguments(cmd, values, os.path.join(scratch, cmd))
            try:
                _xbar.run(args, True)
            except InputError as e:
                msg = str(e)
                blamed = [k for k in d.keys() if message_names_key(msg, k)]
                line = d.lines[blamed[0]] if blamed else (d.lines[varied] if varied else None)
                at = d.at(line) if line else d.path + ": "
                where = " (xbar %s with %s)" % (cmd, ", ".join("%s = %s" % (k, values[k]) for k in d.params)) \
                    if d.params else " (xbar %s)" % cmd
                raise InputError(at + msg + where) from None


# ---------------------------------------------------------------------------------------------
# One trial.

class TrialFailed(Exception):
    """A trial's run failed: the trial is recorded as failed with this message."""


class MissingDependency(Exception):
    """A library the search needs is not installed (exit status 1)."""


def json_pointer(doc, pointer):
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def metric_value(v):
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return json.dumps(v)


def key_number(plan, values, key):
    """A key's numeric value in a trial, or its default in the first subcommand that has one."""
    text = values.get(key)
    if text is None:
        for cmd in plan.commands or ("calibrate",):
            table = plan.tables.get(cmd) or _xbar_keys(cmd)
            if key in table and table[key][1]:
                text = table[key][1]
                break
    v = number(text) if text is not None else None
    if v is None:
        raise TrialFailed("metric %s: key %s has no numeric value in this trial (%r)" % (key, key, text))
    return v


def xbar_executable():
    """The `xbar` executable of this package's build: XBAR_BINARY (`xbar optimize` sets it to
    itself), else the one next to the extension's folder (build/python/_xbar... -> build/xbar),
    else the first on PATH."""
    candidates = [os.environ.get("XBAR_BINARY"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(_xbar.__file__))), "xbar"),
                  shutil.which("xbar")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise TrialFailed("xbar evaluate: no xbar executable found (set XBAR_BINARY)")


def run_subcommand(args):
    """`xbar ARGS` for one trial; TrialFailed with xbar's message when it fails. calibrate and
    ppa run in this process (the package's _xbar.run); evaluate runs the xbar executable,
    because the libtorch module it opens takes the engine's symbols from the executable
    (ENABLE_EXPORTS), which a Python extension cannot provide."""
    cmd = args[0]
    if cmd != "evaluate":
        try:
            status = _xbar.run(args)
        except (InputError, NumericalError) as e:
            raise TrialFailed("xbar %s: %s" % (cmd, e)) from None
        if status != 0:
            raise TrialFailed("xbar %s exited with status %d" % (cmd, status))
        return
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")  # libtorch's threads otherwise spin between runs
    p = subprocess.run([xbar_executable()] + args, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        lines = [line for line in p.stderr.splitlines() if line.startswith("xbar " + cmd + ":")]
        why = lines[-1][len("xbar " + cmd + ": "):] if lines else "exit status %d" % p.returncode
        raise TrialFailed("xbar %s: %s" % (cmd, why))


def run_trial(plan, values, trial_dir):
    """Runs the plan's subcommands for key values {key: text}; returns the trial's metrics."""
    d = plan.definition
    metrics = {}
    compensate = compensate_value(values.get("compensate", "false"), "")
    g_file = None
    for cmd in plan.commands:
        out_dir = os.path.join(trial_dir, cmd)
        args = plan.arguments(cmd, values, out_dir, g_file if cmd == "ppa" else None)
        run_subcommand(args)
        result_file = _xbar.sweep_metrics()[cmd][0]
        with open(os.path.join(out_dir, result_file)) as f:
            doc = json.load(f)
        for name, (c, _, pointer) in plan.catalog.items():
            if c == cmd and pointer:
                metrics[name] = metric_value(json_pointer(doc, pointer))
        if cmd == "calibrate" and compensate and not plan.model:
            g_file = os.path.join(out_dir, "g_compensated.npy")
    if "calibrate" in plan.commands:
        prefix = "comp_" if compensate else "uncomp_"
        for name in ("max_lsb", "rms_lsb", "max_pct_fs"):
            metrics[name] = metrics.get(prefix + name)
    if "evaluate" in plan.commands:
        metrics["accuracy"] = metrics.get("compensated" if compensate else "uncompensated")
    needs_cells = any(m == "cells" for m in referenced_metrics(d))
    if needs_cells:
        metrics["cells"] = key_number(plan, values, "rows") * key_number(plan, values, "cols")
    for key in plan.key_metrics:
        metrics[key] = key_number(plan, values, key)
    return metrics


def referenced_metrics(d):
    return [o.metric for o in d.objectives] + [m for c in d.constraints for m in c.metrics()]


def numeric(metrics, name, cmd_hint=""):
    v = metrics.get(name)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    raise TrialFailed("metric %s is %s in this trial's results%s" % (name, "missing" if v is None else repr(v), cmd_hint))


# ---------------------------------------------------------------------------------------------
# Samplers, storage and the study.

def derive_seed(seed, trial_number):
    """The sampler seed of the trial after `trial_number` earlier ones: a study is a function of
    --seed and its own history, so stopping and continuing it draws what one run would."""
    return int(np.random.SeedSequence([seed, trial_number]).generate_state(1, np.uint32)[0])


def constraints_of(frozen):
    return frozen.user_attrs.get("xbar", {}).get("constraints", [])


def make_sampler(optuna, name, seed, args, plan):
    cf = constraints_of if plan.definition.constraints or plan.settled_metric else None
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=args.startup_trials, constraints_func=cf)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=args.population_size, constraints_func=cf)
    if name == "grid":
        space = {k: p.grid_values() for k, p in plan.definition.params.items()}
        return optuna.samplers.GridSampler(space, seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def sampler_name(args, definition):
    if args.sampler != "auto":
        return args.sampler
    return "tpe" if len(definition.objectives) == 1 else "nsga2"


def masked_url(url):
    """A storage URL without its password, for result.json and messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_storage(optuna, url):
    """Optuna's RDB storage with a heartbeat: a trial of a killed run is failed (and counted)
    once its heartbeat is older than the grace period, when the next trial starts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            kwargs = {}
            if url.startswith("sqlite:"):
                # One kept connection instead of one per storage call (SQLAlchemy's NullPool for
                # SQLite files): each close checkpointed the write-ahead log below.
                import sqlalchemy.pool
                kwargs = {"poolclass": sqlalchemy.pool.QueuePool, "pool_size": 1, "max_overflow": 2,
                          "connect_args": {"check_same_thread": False}}
            storage = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180, engine_kwargs=kwargs)
        except Exception as e:  # SQLAlchemy's errors for a bad URL, a missing driver, ...
            raise InputError("key storage = '%s': cannot open it: %s" % (masked_url(url), str(e).splitlines()[0])) from None
    if url.startswith("sqlite:"):
        # Optuna commits a dozen times per trial; SQLite's default journal syncs the disk at
        # each (25 ms on a busy disk: more than a small trial's own run). A write-ahead log
        # with synchronous=NORMAL syncs only at checkpoints and still never loses a committed
        # trial to a killed process (an OS crash may lose the last few, which then run again).
        import sqlalchemy

        def pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        sqlalchemy.event.listen(storage.engine, "connect", pragmas)
        storage.engine.dispose()  # the connection opened before the listener reconnects with it
    return storage


def same_point(study, values, optuna):
    """The first finished trial of `study` run at the same key values, or None."""
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                      optuna.trial.TrialState.FAIL)):
        a = t.user_attrs.get("xbar", {})
        if a.get("values") == values and "reused_from" not in a and ("constraints" in a or "error" in a):
            return t
    return None


def finished(trials, optuna):
    return [t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)]


# ---------------------------------------------------------------------------------------------
# Outputs.

def write_atomic(path, text):
    """`text` into `path` through a temporary in the same directory renamed into place, so a
    killed run leaves the previous file or the new one, never half of one. Not synced to disk:
    every file written here is derived from the study's storage (which commits each trial) and
    rebuilt by the next run, and a sync per file per trial cost more than a small trial's run."""
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cell_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def trial_rows(study, plan, optuna):
    """One dict per finished trial: number, state, feasible, keys, metrics, constraint values."""
    d = plan.definition
    rows = []
    for t in sorted(finished(study.get_trials(deepcopy=False), optuna), key=lambda t: t.number):
        a = t.user_attrs.get("xbar", {})
        metrics = a.get("metrics", {})
        # A trial of a stopped run has only its params (failed by the storage's heartbeat).
        values = a.get("values") or {k: d.params[k].text(v) if k in d.params else str(v) for k, v in t.params.items()}
        cons = a.get("constraints")
        complete = t.state == optuna.trial.TrialState.COMPLETE
        row = {"number": t.number, "state": "complete" if complete else "failed",
               "feasible": (1 if all(c <= 0 for c in cons) else 0) if complete and cons is not None else "",
               "values": values, "metrics": metrics,
               "objectives": list(t.values) if complete else None, "constraints": cons or [],
               "error": a.get("error", "" if complete else "failed (no message: its run was stopped)"),
               "time_s": a.get("time_s"), "sampler": a.get("sampler", ""), "sampler_seed": a.get("sampler_seed", ""),
               "reused_from": a.get("reused_from")}
        rows.append(row)
    return rows


def pareto_rows(rows, definition):
    """The feasible complete trials no other feasible trial dominates (at least as good in every
    objective, better in one), sorted by the first objective, best first."""
    sign = [(-1.0 if o.direction == "maximize" else 1.0) for o in definition.objectives]
    cand = [r for r in rows if r["state"] == "complete" and r["feasible"] in (1, "")]
    pts = [[s * v for s, v in zip(sign, r["objectives"])] for r in cand]
    front = []
    for i, p in enumerate(pts):
        dominated = any(all(q[k] <= p[k] for k in range(len(p))) and any(q[k] < p[k] for k in range(len(p)))
                        for j, q in enumerate(pts) if j != i)
        if not dominated:
            front.append((p, cand[i]))
    front.sort(key=lambda x: (x[0], x[1]["number"]))
    seen, out = [], []
    for _, r in front:  # a point sampled more than once: its first trial
        if r["values"] not in seen:
            seen.append(r["values"])
            out.append(r)
    return out


def csv_text(rows, plan):
    d = plan.definition
    keys = d.keys()
    objective_metrics = [o.metric for o in d.objectives]
    seen = []
    for name in list(plan.catalog) + sorted(plan.key_metrics):
        if any(name in r["metrics"] for r in rows) and name not in seen and name not in keys:
            seen.append(name)
    metric_cols = [m for m in objective_metrics if m in seen] + [m for m in seen if m not in objective_metrics]
    n_cons = max([len(r["constraints"]) for r in rows] + [len(constraint_names(plan))])
    cons_cols = ["constraint_%d" % (k + 1) for k in range(n_cons)]
    header = ["number", "state", "feasible"] + keys + metric_cols + cons_cols + \
        ["reused_from", "sampler", "sampler_seed", "time_s", "error"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r["number"], r["state"], r["feasible"]] + [r["values"].get(k, "") for k in keys] +
                   [cell_text(r["metrics"].get(m)) for m in metric_cols] +
                   [cell_text(r["constraints"][k]) if k < len(r["constraints"]) else "" for k in range(n_cons)] +
                   [cell_text(r["reused_from"]), r["sampler"], r["sampler_seed"], cell_text(r["time_s"]), r["error"]])
    return buf.getvalue()


def constraint_names(plan):
    names = [c.text for c in plan.definition.constraints]
    if plan.settled_metric:
        names.append("%s >= 1 (automatic: the transient settled before t-stop, so latency is measured, not a lower "
                     "bound)" % plan.settled_metric)
    return names


SI_PREFIXES = ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""), (1e3, "k"),
               (1e6, "M"), (1e9, "G"))


def axis_scale(name, values):
    """(factor, label) for an axis: SI prefixes for s, J, A, W, V, F, Ω, S; mm² or µm² for areas."""
    unit = unit_of(name)
    vmax = max([abs(v) for v in values if v is not None and math.isfinite(v)] + [0.0])
    if unit == "m²":
        for f, u in ((1e-12, "µm²"), (1e-6, "mm²"), (1.0, "m²")):
            if vmax < 1e3 * f or f == 1.0:
                return f, "%s [%s]" % (name, u)
    if unit in ("s", "J", "A", "W", "V", "F", "Ω", "S") and vmax > 0:
        f, p = SI_PREFIXES[0]
        for f_, p_ in SI_PREFIXES:
            if vmax >= f_:
                f, p = f_, p_
        return f, "%s [%s%s]" % (name, p, unit)
    return 1.0, "%s [%s]" % (name, unit) if unit else name


def plot(rows, front, plan, path):
    """pareto.png. With two or more objectives, the first two against each other: every
    feasible trial, the infeasible ones, the Pareto front; with one, its value against the
    trial number and the best feasible so far. Then each constraint's metric (not already on
    an axis) against the first objective, with its bound. Returns None, or why there is none."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no pareto.png: matplotlib is not installed (Debian: apt-get install python3-matplotlib)"
    d = plan.definition
    done = [r for r in rows if r["state"] == "complete"]
    feas = [r for r in done if r["feasible"] in (1, "")]
    infeas = [r for r in done if r["feasible"] == 0]
    front_ids = {r["number"] for r in front}
    multi = len(d.objectives) >= 2
    o1 = d.objectives[0].metric

    def val(r, m):
        v = r["metrics"].get(m)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")

    panels = [("front", o1, d.objectives[1].metric)] if multi else [("history", "trial", o1)]
    on_axes = set(panels[0][1:])
    for c in d.constraints:
        if c.metric not in on_axes:
            panels.append(("constraint", o1, c.metric))
            on_axes.add(c.metric)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.7), squeeze=False)
    for ax, (kind, xm, ym) in zip(axes[0], panels):
        fy, ly = axis_scale(ym, [val(r, ym) for r in done])
        if kind == "history":
            fx, lx = 1.0, "trial [number]"
            x = lambda r: r["number"]  # noqa: E731
        else:
            fx, lx = axis_scale(xm, [val(r, xm) for r in done])
            x = lambda r: val(r, xm) / fx  # noqa: E731
        others = [r for r in feas if r["number"] not in front_ids or kind == "history"]
        ax.scatter([x(r) for r in others], [val(r, ym) / fy for r in others], s=14, c="tab:blue",
                   label="feasible")
        ax.scatter([x(r) for r in infeas], [val(r, ym) / fy for r in infeas], s=14, marker="x", c="0.6",
                   label="infeasible")
        if kind == "history":
            sign = 1 if d.objectives[0].direction == "maximize" else -1
            best, xs, ys = None, [], []
            for r in sorted(feas, key=lambda r: r["number"]):
                if best is None or sign * val(r, ym) > sign * best:
                    best = val(r, ym)
                xs.append(r["number"])
                ys.append(best / fy)
            if xs:
                ax.step(xs, ys, where="post", c="tab:red", label="best feasible so far")
        else:
            fr = sorted(front, key=lambda r: val(r, xm))
            ax.plot([x(r) for r in fr], [val(r, ym) / fy for r in fr], "o-" if kind == "front" else "o",
                    c="tab:red", ms=6, lw=1, label="Pareto front" if multi else "best")
        for c in d.constraints:  # the bounds that are a number, where their metric is an axis
            if c.ref is not None:
                continue
            if c.metric == ym:
                ax.axhline(c.factor / fy, c="k", ls="--", lw=1, label=c.text)
            elif c.metric == xm and kind != "history":
                ax.axvline(c.factor / fx, c="k", ls=":", lw=1, label=c.text)
        ax.set_xlabel(lx)
        ax.set_ylabel(ly)
        if kind != "history" and (xm == "cells" or (xm in d.params and d.params[xm].log)):
            ax.set_xscale("log")
        ys = [val(r, ym) for r in done if val(r, ym) == val(r, ym)]
        # Figures spanning decades (errors of compensated and raw arrays) on a log axis.
        if ym == "cells" or (ym in d.params and d.params[ym].log) or \
                (ys and min(ys) > 0 and max(ys) > 100 * min(ys)):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("%s: %d trials, %d feasible" % (os.path.basename(d.path), len(rows), len(feas)), fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)
    return None


def write_tables(out, rows, front, plan):
    write_atomic(os.path.join(out, "trials.csv"), csv_text(rows, plan))
    write_atomic(os.path.join(out, "pareto.csv"), csv_text(front, plan))


def result_json(args, plan, rows, front, sampler, run_info, plot_note, optuna):
    d = plan.definition
    complete = [r for r in rows if r["state"] == "complete"]
    feasible = [r for r in complete if r["feasible"] in (1, "")]

    def brief(r):
        return {"number": r["number"], "values": r["values"],
                "objectives": dict(zip([o.metric for o in d.objectives], r["objectives"])),
                "metrics": r["metrics"], "constraints": r["constraints"]}

    return {
        "tool": "xbar optimize",
        "version": __version__,
        "optuna_version": optuna.__version__,
        "python": sys.version.split()[0],
        "config": os.path.abspath(args.config),
        "study": {"name": args.study_name, "storage": masked_url(args.storage)},
        "sampler": {"name": sampler, "seed": args.seed,
                    "seed_rule": "trial k (k earlier trials in the study) samples with seed "
                                 "SeedSequence([seed, k]).generate_state(1, uint32)[0] (trials.csv: sampler_seed)",
                    "population_size": args.population_size if sampler == "nsga2" else None,
                    "startup_trials": args.startup_trials if sampler == "tpe" else None},
        "space": [p.describe() for p in d.params.values()],
        "fixed": d.fixed,
        "linked": d.links,
        "objectives": [{"metric": o.metric, "direction": o.direction, "unit": unit_of(o.metric), "line": o.line}
                       for o in d.objectives],
        "constraints": [{"expression": text, "column": "constraint_%d" % (k + 1),
                         "value": "(metric - bound) / |bound| for <=, (bound - metric) / |bound| for >= "
                                  "(the plain difference when the bound is 0): <= 0 is satisfied"}
                        for k, text in enumerate(constraint_names(plan))],
        "commands": plan.commands,
        "key_aliases": {c: {"adc-bits": a} for c, a in plan.alias.items()},
        "metrics": {m: {"unit": unit_of(m), "from": (plan.catalog[m][0] or "keys") if m in plan.catalog else "keys",
                        **({"definition": DERIVED_METRICS[m][1]} if m in DERIVED_METRICS else {})}
                    for m in dict.fromkeys(referenced_metrics(d))},
        "n_trials": {"requested": args.trials, "target": run_info["target"], "finished": len(rows),
                     "complete": len(complete), "failed": len(rows) - len(complete), "feasible": len(feasible),
                     "run_now": run_info["run_now"]},
        "pareto": [brief(r) for r in front],
        "outputs": {"trials_csv": "trials.csv", "pareto_csv": "pareto.csv",
                    "pareto_png": None if plot_note else "pareto.png", "trial_dirs": "trials/NUMBER/SUBCOMMAND"},
        "plot_note": plot_note,
        "total_s": run_info["total_s"],
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


# ---------------------------------------------------------------------------------------------
# The command line.

class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(message + " (see %s --help)" % PROG)


HELP_EPILOG = """\
The study file (--config, an INI file; comments start with # or ;, [sections] are ignored):
  KEY = A..B             search an interval: integers when A and B are, else real numbers
  KEY = A..B log         ... sampled on a log scale (A > 0)
  KEY = START:STEP:STOP  search a stepped range (STOP included), e.g. 0.5:0.5:3
  KEY = X, Y, Z          search these choices ("..." quotes a value holding commas)
  KEY = VALUE            every trial; VALUE the name of a searched key: that key's value
  objective = maximize|minimize METRIC      one line per objective (several: a Pareto front)
  constraint = METRIC <= BOUND              or >=; BOUND a number, a metric or NUMBER * METRIC
KEY is any key of the subcommands the metrics need (xbar calibrate|ppa|evaluate --help;
units as listed there: ohm, siemens, volt, ampere, farad, second), plus compensate = true|false
(the IR-drop compensation map: the compensated error, the compensated conductances in ppa,
evaluate's compensated accuracy). adc-bits is also calibrate's and the settling band's
error-adc-bits unless that key is given. Every trial runs with the same seed key (default 1).

Metrics (units from their names), from xbar sweep's columns of the subcommand that makes them:
  cells                     rows x cols [cells] (no subcommand)
  max_lsb, rms_lsb          error over held-out inputs [LSB of an adc-bits ADC] (calibrate;
                            compensated with compensate = true), max_pct_fs [% of full scale];
                            also uncomp_/comp_/calib_max_lsb, _rms_lsb, _max_pct_fs, comp_scale, ...
  energy_per_read_j [J], latency_s [s] (settling + conversion), read_s [s], area_m2 [m^2],
  adc_j [J], line_charging_j [J] (ppa of the array); with model = FILE.pt:
  energy_per_inference_j [J], latency_per_inference_s [s], network_area_m2 [m^2], tiles (ppa --model)
  accuracy [fraction] (evaluate; compensated with compensate = true), software, ideal,
  uncompensated, compensated, hat [fraction] (needs model = FILE.pt)
  any numeric key of the study (rows, r-row, ...)
A trial that runs ppa is infeasible when its transient has not settled by t-stop (its latency
is then only a lower bound): raise t-stop.

Outputs in --out DIR: trials.csv (every finished trial: keys, metrics, constraint values
(<= 0: satisfied, relative to the bound), feasible, error), pareto.csv (the feasible
non-dominated trials; with one objective, the best), pareto.png, result.json (seed, sampler,
space, objectives, constraints, trial counts, versions), trials/NUMBER/SUBCOMMAND/ (each run's
own files) and study.db (the default storage). Exit codes: 0 ok, 2 bad input (nothing run or
written), 5 the study holds failed trials (trials.csv says why), 1 internal error or Optuna missing.
"""


def make_parser():
    # A fixed width: the help is a golden file (tests/data/help/optimize.txt), whatever the terminal.
    p = _Parser(prog=PROG, epilog=HELP_EPILOG, add_help=False, allow_abbrev=False,
                formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100, max_help_position=26),
                description="Multi-objective design-space search (Optuna: NSGA-II, TPE, grid, random) over\n"
                            "xbar calibrate, ppa and evaluate runs.")
    p.add_argument("--help", action="help", help="print this help and exit")
    p.add_argument("--config", required=True, metavar="FILE.ini",
                   help="the study: searched and fixed keys, objectives, constraints (format below; required)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory: trials.csv, pareto.csv, pareto.png, result.json (required)")
    p.add_argument("--trials", type=int, default=50, metavar="N",
                   help="finished trials (complete or failed) the study should hold, >= 1; running again "
                        "continues up to N (default 50; grid: at most the grid's size)")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="sampler seed, >= 0; each trial's seed is derived from it and the trial's number "
                        "(result.json, trials.csv) (default 1)")
    p.add_argument("--sampler", default="auto", choices=("auto", "tpe", "nsga2", "grid", "random"),
                   help="auto: tpe for one objective, nsga2 for several; grid: every point of a space of "
                        "lists, integer and stepped ranges (default auto)")
    p.add_argument("--population-size", type=int, default=20, metavar="N",
                   help="nsga2: trials per generation, >= 2 (default 20: a few generations within ~100 trials; "
                        "Optuna's own default is 50)")
    p.add_argument("--startup-trials", type=int, default=10, metavar="N",
                   help="tpe: random trials before the model guides the search, >= 1 (default 10)")
    p.add_argument("--storage", metavar="URL",
                   help="Optuna storage URL (default sqlite:///DIR/study.db); a database server's URL (e.g. "
                        "postgresql://user:pw@host/db) lets processes on several machines share one study")
    p.add_argument("--study-name", default=DEFAULT_STUDY_NAME, metavar="NAME",
                   help="the study's name in the storage (default %s)" % DEFAULT_STUDY_NAME)
    p.add_argument("--dry-run", action="store_true",
                   help="check the study and print its space and subcommands; run and write nothing")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr and no summary on stdout")
    return p


def check_args(args):
    if args.trials < 1:
        raise InputError("key trials = %d: must be >= 1" % args.trials)
    if args.seed < 0 or args.seed >= 2 ** 63:
        raise InputError("key seed = %d: must be in [0, 2^63)" % args.seed)
    if args.population_size < 2:
        raise InputError("key population-size = %d: must be >= 2" % args.population_size)
    if args.startup_trials < 1:
        raise InputError("key startup-trials = %d: must be >= 1" % args.startup_trials)
    if not args.study_name.strip():
        raise InputError("key study-name: must not be empty")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError("key out = '%s': exists and is not a directory" % args.out)
    args.default_storage = args.storage is None
    if args.storage is None:
        args.storage = "sqlite:///" + os.path.abspath(os.path.join(args.out, "study.db"))
    elif "://" not in args.storage:
        raise InputError("key storage = '%s': expected a database URL such as sqlite:///path/study.db or "
                         "postgresql://user:pw@host/db" % args.storage)
    for name in ("trials.csv", "pareto.csv", "pareto.png", "result.json", "trials"):
        path = os.path.join(args.out, name)
        if name != "trials" and os.path.isdir(path):
            raise InputError("key out = '%s': %s is a directory, where the output file goes" % (args.out, path))
        if name == "trials" and os.path.exists(path) and not os.path.isdir(path):
            raise InputError("key out = '%s': %s is a file, where the trials' directories go" % (args.out, path))


def check_out_dir(args):
    """DIR holds one study's outputs: its trial directories are numbered by that study's trials."""
    path = os.path.join(args.out, "result.json")
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            study = json.load(f)["study"]
        theirs = (study["name"], study["storage"])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError("key out = '%s': holds a result.json that is not xbar optimize's; use another --out"
                         % args.out) from None
    if theirs != (args.study_name, masked_url(args.storage)):
        raise InputError("key out = '%s': holds the outputs of study '%s' in %s; use another --out for study '%s' "
                         "in %s" % (args.out, theirs[0], theirs[1], args.study_name, masked_url(args.storage)))


def log(args, text):
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def run(argv):
    """The whole `xbar optimize` run; returns the exit status. Bad input raises InputError
    before any trial runs or any file is written."""
    t_start = time.time()
    args = make_parser().parse_args(argv)
    check_args(args)
    d = read_definition(args.config)
    plan = Plan(d)
    sampler = sampler_name(args, d)
    target = args.trials
    if sampler == "grid":
        sizes = {k: p.size() for k, p in d.params.items()}
        continuous = [k for k, s in sizes.items() if s is None]
        if continuous:
            k = continuous[0]
            raise InputError(d.at(d.params[k].line) + "key %s: an interval of real numbers has no grid; give a "
                             "stepped range START:STEP:STOP or a list (sampler grid)" % k)
        n = int(np.prod([s for s in sizes.values()], dtype=object)) if sizes else 1
        if n > MAX_GRID_POINTS:
            raise InputError("key sampler = grid: %d points, more than %d" % (n, MAX_GRID_POINTS))
        target = min(target, n)
    with tempfile.TemporaryDirectory(prefix="xbar-optimize-preflight-") as scratch:
        preflight(plan, scratch)
    if args.dry_run:
        print("study %s: %d searched keys, %d fixed, %d linked; subcommands per trial: %s; sampler %s"
              % (d.path, len(d.params), len(d.fixed), len(d.links), ", ".join(plan.commands) or "none", sampler))
        for p in d.params.values():
            print("  " + json.dumps(p.describe(), ensure_ascii=False))
        print("objectives: " + "; ".join(o.text for o in d.objectives))
        print("constraints: " + "; ".join(constraint_names(plan)) if constraint_names(plan) else "constraints: none")
        return 0

    try:
        import optuna  # after the checks: its import costs seconds and bad input should not wait
    except ImportError as e:
        raise MissingDependency("needs Optuna (Debian: apt-get install python3-optuna; scripts/setup.sh installs "
                                "it): %s" % e) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    definition = d.definition_json()
    # The default storage is created with DIR, after every check; a given one is opened first
    # (a bad URL is bad input, before anything is written).
    storage, existing = None, None
    if not args.default_storage or os.path.exists(os.path.join(args.out, "study.db")):
        storage = open_storage(optuna, args.storage)
        try:
            existing = optuna.load_study(study_name=args.study_name, storage=storage)
        except KeyError:
            existing = None
    if existing is not None:
        stored = existing.user_attrs.get("xbar_definition")
        if stored != definition:
            differ = [k for k in definition if stored is None or stored.get(k) != definition[k]]
            raise InputError("key study-name = '%s': the storage %s holds a study of that name with a different "
                             "definition (%s differ from %s); use another --study-name or --out"
                             % (args.study_name, masked_url(args.storage), ", ".join(differ) or "all keys", d.path))
    check_out_dir(args)
    os.makedirs(os.path.join(args.out, "trials"), exist_ok=True)
    if storage is None:
        storage = open_storage(optuna, args.storage)
    study = optuna.create_study(storage=storage, study_name=args.study_name, load_if_exists=True,
                                directions=[o.direction for o in d.objectives])
    if existing is None:
        study.set_user_attr("xbar_definition", definition)

    try:
        return optimize_study(args, d, plan, study, sampler, target, t_start, optuna)
    finally:
        storage.engine.dispose()  # closes the database (SQLite: its log checkpointed into study.db)


def run_objective(trial, args, d, plan, sampler, sampler_seed, optuna):
    """One trial: its keys from the sampler, its runs (or an earlier trial's figures at the same
    point), its objectives; constraint values and figures in the trial's user attribute."""
    # One user attribute per trial, written once at its end: every attribute is a commit
    # of the storage (25 ms each into SQLite on a loaded disk), and the keys' values are
    # in the trial's params already should the run be stopped before.
    t0 = time.time()
    chosen = {k: p.suggest(trial) for k, p in d.params.items()}
    values = trial_values(d, chosen)
    attrs = {"values": values, "sampler": sampler, "sampler_seed": sampler_seed}
    trial_dir = os.path.join(args.out, "trials", "%05d" % trial.number)
    metrics = {}
    # A point sampled again (small discrete spaces: often) is not run again: its runs are
    # seeded, so they would repeat the earlier trial's figures to the last bit.
    earlier = same_point(trial.study, values, optuna)
    if earlier is not None:
        a = earlier.user_attrs["xbar"]
        attrs.update(metrics=a.get("metrics", {}), reused_from=earlier.number, time_s=time.time() - t0)
        if "error" in a:
            attrs["error"] = "as trial %d: %s" % (earlier.number, a["error"])
            trial.set_user_attr("xbar", attrs)
            raise TrialFailed(attrs["error"])
        attrs["constraints"] = a["constraints"]
        trial.set_user_attr("xbar", attrs)
        return list(earlier.values)
    try:
        metrics = run_trial(plan, values, trial_dir)
        objs = [numeric(metrics, o.metric) for o in d.objectives]
        env = dict(metrics)
        for c in d.constraints:
            for m in c.metrics():
                env[m] = numeric(metrics, m)
        cons = [c.violation(env) for c in d.constraints]
        if plan.settled_metric:
            cons.append(1.0 - numeric(metrics, plan.settled_metric))
    except TrialFailed as e:
        attrs.update(metrics=metrics, error=str(e), time_s=time.time() - t0)
        trial.set_user_attr("xbar", attrs)
        raise
    attrs.update(metrics=metrics, constraints=cons, time_s=time.time() - t0)
    trial.set_user_attr("xbar", attrs)
    return objs


def optimize_study(args, d, plan, study, sampler, target, t_start, optuna):
    """Runs trials until the study holds `target` finished ones, then writes the outputs."""

    def objective(trial):
        return run_objective(trial, args, d, plan, sampler, trial_seed[0], optuna)

    run_now = 0
    trial_seed = [None]
    while True:
        trials = study.get_trials(deepcopy=False)
        done = len(finished(trials, optuna))
        if done >= target:
            break
        trial_seed[0] = derive_seed(args.seed, len(trials))
        study.sampler = make_sampler(optuna, sampler, trial_seed[0], args, plan)
        study.optimize(objective, n_trials=1, catch=(TrialFailed,), gc_after_trial=False)
        run_now += 1
        rows = trial_rows(study, plan, optuna)
        front = pareto_rows(rows, d)
        write_tables(args.out, rows, front, plan)
        info = {"target": target, "run_now": run_now, "total_s": time.time() - t_start}
        r = result_json(args, plan, rows, front, sampler, info, "written when the run ends", optuna)
        write_atomic(os.path.join(args.out, "result.json"), json.dumps(r, indent=2, allow_nan=False) + "\n")
        last = max(rows, key=lambda r: r["number"]) if rows else None
        if last is not None:
            shown = ", ".join("%s=%s" % (k, last["values"].get(k)) for k in d.params)
            if last["state"] == "complete":
                res = ", ".join("%s=%s" % (o.metric, "%.4g" % v) for o, v in zip(d.objectives, last["objectives"]))
                res += "" if last["feasible"] in (1, "") else " (infeasible)"
            else:
                res = "failed: " + last["error"]
            log(args, "trial %d (%d/%d): %s -> %s (%.2f s)" % (last["number"], len(rows), target, shown, res,
                                                              last["time_s"] or 0.0))
    rows = trial_rows(study, plan, optuna)
    front = pareto_rows(rows, d)
    write_tables(args.out, rows, front, plan)
    plot_note = plot(rows, front, plan, os.path.join(args.out, "pareto.png")) if rows else "no trials"
    info = {"target": target, "run_now": run_now, "total_s": time.time() - t_start}
    r = result_json(args, plan, rows, front, sampler, info, plot_note, optuna)
    write_atomic(os.path.join(args.out, "result.json"), json.dumps(r, indent=2, allow_nan=False) + "\n")
    failed = sum(1 for x in rows if x["state"] == "failed")
    if not args.quiet:
        print("optimize %s: %d trials (%d run now, %d failed, %d feasible); Pareto front: %d trials\n  wrote %s "
              "(%.1f s)" % (d.path, len(rows), run_now, failed, r["n_trials"]["feasible"], len(front),
                            os.path.join(args.out, "trials.csv, pareto.csv, " +
                                         ("" if plot_note else "pareto.png, ") + "result.json"),
                            time.time() - t_start))
    return 5 if failed else 0


def main(argv=None):
    """`python3 -m xbar.optimize ARGS` and `xbar optimize ARGS`: the exit status, with one line on
    stderr for bad input (2) or a numerical failure outside a trial (4)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(argv)
    except InputError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except NumericalError as e:
        print("%s: numerical failure: %s" % (PROG, e), file=sys.stderr)
        return 4
    except MissingDependency as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted; run the same command again to continue the study" % PROG, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
