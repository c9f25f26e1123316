"""xbar from Python: exact IR-drop analysis of analog compute-in-memory crossbar arrays.

The C++ engine of the ``xbar`` command line, with NumPy arrays in and out (no second
implementation: every call parses its keys with the command line's own tables and runs the same
engine functions, so names, defaults, checks and error messages are the CLI's)::

    import numpy as np, xbar
    a = xbar.Array(rows=64, cols=64, r_row=2.5, r_col=2.5, seed=1)   # any key of `xbar solve`
    i = a.solve(np.full((10, 64), 0.2))        # K x M volts -> K x N amperes (an ndarray)
    i.metadata["ir_drop"]                       # what result.json holds, as a dict
    t = a.effective_matrix()                    # M x N: I = T^T v for every input
    a.check()["pass"]                           # native against ngspice (check.json)
    p = a.program(levels=16, variation="gaussian", variation_sigma=0.05)  # programmed G
    g = a.compensate(scale="auto")              # IR-drop compensation map (xbar calibrate)
    c = a.calibrate()                           # ... with its calibration table and errors

Every key of a subcommand is a keyword argument, with ``_`` for ``-`` (``r_row=2.5`` is
``--r-row 2.5``); a NumPy array given for a file key (``g``, ``v``, ``stuck_mask``, ...) is
passed as a ``.npy`` file; a list becomes a comma-separated value. Bad input raises
:class:`InputError` (a ``ValueError``), numerical failure :class:`NumericalError` (a
``RuntimeError``), each with the message ``xbar`` prints. ``xbar.run("solve", out="dir", ...)``
runs any subcommand as the command line does; ``xbar.torch`` maps PyTorch models onto tiles.
"""

import json
import os
import shutil
import tempfile

import numpy as np

import _xbar

__all__ = ["Array", "InputError", "NumericalError", "Result", "keys", "run", "__version__"]

__version__ = _xbar.__version__
InputError = _xbar.InputError
NumericalError = _xbar.NumericalError
InputError.__module__ = NumericalError.__module__ = "xbar"

_KEY_TABLES = {}


def keys(subcommand):
    """The keys of `subcommand` as ``{name: (takes_value, default text, help)}``, names with
    ``-`` as the command line spells them (``xbar SUBCOMMAND --help`` lists the same)."""
    if subcommand not in _KEY_TABLES:
        _KEY_TABLES[subcommand] = {n: (tv, d, h) for n, tv, d, h in _xbar.keys(subcommand)}
    return _KEY_TABLES[subcommand]


class _Workspace:
    """A private temporary directory for one call: arrays handed over as .npy files (in/) and
    the subcommand's outputs (out/); its paths are replaced in messages and metadata."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="xbar-py-")
        self.inputs = {}  # path -> what the user gave

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def array_file(self, key, value):
        path = os.path.join(self.root, "in", key + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, np.ascontiguousarray(value))
        self.inputs[path] = "<ndarray " + key + ">"
        return path

    def out_dir(self):
        return os.path.join(self.root, "out")

    def scrub(self, text):
        for path, name in self.inputs.items():
            text = text.replace(path, name)
        return text.replace(self.out_dir(), "<memory>").replace(self.root, "<memory>")

    def scrub_json(self, value):
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_json(v) for k, v in value.items()}
        return value


def _value_text(value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_value_text(v) for v in value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _arguments(subcommand, key_values, ws):
    """The command-line arguments of `key_values` (Python names), arrays through `ws`."""
    table = keys(subcommand)
    args = []
    for key, value in key_values.items():
        if value is None:
            continue
        name = key.replace("_", "-")
        if isinstance(value, np.ndarray):
            value = ws.array_file(key, value)
        if name in table and not table[name][0]:  # a switch: present or absent
            if value:
                args.append("--" + name)
            continue
        args += ["--" + name, _value_text(value)]
    return args


def _call(ws, fn, *args):
    """fn(*args) with the workspace's paths replaced in any error message."""
    try:
        return fn(*args)
    except (InputError, NumericalError) as e:
        raise type(e)(ws.scrub(str(e))) from None


def run(subcommand, **key_values):
    """Runs ``xbar SUBCOMMAND --key value ...`` in this process, as the command line does
    (give ``out``); returns its exit status (0, or 3 for a check above its tolerance, 5 for a
    sweep with failed points). Input errors raise InputError."""
    with _Workspace() as ws:
        return _call(ws, _xbar.run, [subcommand] + _arguments(subcommand, key_values, ws))


class Result(np.ndarray):
    """The main array of a run, with ``metadata`` (the run's result.json as a dict) and the
    run's other outputs as attributes (``voltages``, ``stuck_mask``, ``unreachable``, ...)."""

    def __new__(cls, array, metadata, **outputs):
        obj = np.asarray(array).view(cls)
        obj.metadata = metadata
        obj._outputs = tuple(outputs)
        for k, v in outputs.items():
            setattr(obj, k, v)
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.metadata = getattr(obj, "metadata", None)
        self._outputs = getattr(obj, "_outputs", ())
        for k in self._outputs:
            setattr(self, k, getattr(obj, k, None))


def _load(path):
    return np.load(path) if os.path.exists(path) else None


def _read_csv(path):
    """calibration.csv as {column: ndarray} (the header row names the columns)."""
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    cols = {}
    for j, name in enumerate(header):
        vals = [r[j] for r in rows]
        try:
            cols[name] = np.array([float(v) for v in vals])
        except ValueError:
            cols[name] = np.array(vals)
    return cols


_RANDOM_ARRAY_KEYS = ("rows", "cols", "g_on", "g_off", "seed")


class Array:
    """A crossbar array: ``Array(g=G, **keys)`` (G: M x N siemens) or a random one
    (``rows``, ``cols``, ``g_on``, ``g_off``, ``seed``), with any key of ``xbar solve`` (wires,
    drivers, sensing, cell model, solver). The keys are checked now, as the command line
    checks them; ``a.g`` holds the conductances. Methods take further keys of their subcommand;
    each returns what the subcommand writes, in memory."""

    def __init__(self, g=None, **key_values):
        self._keys = dict(key_values)
        if g is not None:
            self._keys["g"] = np.asarray(g, dtype=np.float64)
        with _Workspace() as ws:
            g_arr, desc = _call(ws, _xbar.load_array, _arguments("solve", self._keys, ws))
            self.description = ws.scrub_json(json.loads(desc))
        self.g = g_arr

    @property
    def shape(self):
        return self.g.shape

    @property
    def keys(self):
        """The keys this array was made with (a copy)."""
        return dict(self._keys)

    def with_conductances(self, g):
        """The same array (wires, cells, solver keys) holding conductances `g`."""
        k = {key: v for key, v in self._keys.items() if key not in _RANDOM_ARRAY_KEYS + ("g",)}
        return Array(g=g, **k)

    def __repr__(self):
        return "xbar.Array(%d x %d, %s)" % (self.g.shape[0], self.g.shape[1],
                                            ", ".join("%s=%s" % (k, "<ndarray>" if isinstance(v, np.ndarray) else v)
                                                      for k, v in self._keys.items()))

    def _merged(self, extra):
        k = dict(self._keys)
        # A method's seed is its own draws' (read noise, programming, held-out inputs): a random
        # array stays the one this object holds.
        if "g" not in k and any(key in extra for key in _RANDOM_ARRAY_KEYS):
            for key in _RANDOM_ARRAY_KEYS:
                k.pop(key, None)
            k["g"] = self.g
        k.update(extra)
        return k

    def _run(self, subcommand, extra, outputs):
        """Runs `subcommand` with this array's keys and `extra`, into a private directory;
        returns (exit status, metadata dict, {name: loaded output}, workspace root)."""
        with _Workspace() as ws:
            k = self._merged(extra)
            k["quiet"] = k.get("quiet", True)
            out = k.pop("out", None)
            target = out if out is not None else ws.out_dir()
            status = _call(ws, _xbar.run, [subcommand] + _arguments(subcommand, k, ws) + ["--out", target])
            files = {}
            for name, fname in outputs.items():
                path = os.path.join(target, fname)
                files[name] = _read_csv(path) if fname.endswith(".csv") and os.path.exists(path) else _load(path)
            meta_file = "check.json" if subcommand == "check" else "result.json"
            with open(os.path.join(target, meta_file)) as f:
                meta = ws.scrub_json(json.load(f)) if out is None else json.load(f)
            return status, meta, files

    def solve(self, v=None, **key_values):
        """Column currents for row voltages `v` ((M,) or (K, M) volts; default every row at
        ``v_read``): (N,) or (K, N) amperes, as ``xbar solve`` computes them (read-time DAC,
        ADC and read noise keys included). ``save_voltages=True`` adds ``.voltages``."""
        if v is not None:
            key_values["v"] = np.asarray(v, dtype=np.float64)
        _, meta, f = self._run("solve", key_values, {"currents": "currents.npy", "voltages": "voltages.npy"})
        return Result(f["currents"], meta, voltages=f["voltages"])

    def effective_matrix(self, **key_values):
        """The exact effective matrix T (M x N siemens, every wire, driver and sense resistance
        included): the column currents are T^T v for any row voltages v. Linear cells."""
        with _Workspace() as ws:
            t, meta = _call(ws, _xbar.effective_matrix, _arguments("solve", self._merged(key_values), ws))
            return Result(t, ws.scrub_json(json.loads(meta)))

    def check(self, v=None, **key_values):
        """Solves natively and with ngspice and compares them (``xbar check``): check.json as
        a dict; ``["pass"]`` says whether every difference is within ``tol``."""
        if v is not None:
            key_values["v"] = np.asarray(v, dtype=np.float64)
        _, meta, _ = self._run("check", key_values, {})
        return meta

    def program(self, **key_values):
        """Programs the conductances as targets with the device non-idealities of ``xbar
        program`` (levels, variation, stuck-at, drift): the programmed M x N conductances, with
        ``.stuck_mask`` (0 healthy, 1 stuck-on, 2 stuck-off). ``with_conductances(p)`` gives the
        programmed array."""
        _, meta, f = self._run("program", key_values, {"g_programmed": "g_programmed.npy", "stuck_mask": "stuck_mask.npy"})
        return Result(f["g_programmed"], meta, stuck_mask=f["stuck_mask"])

    def compensate(self, **key_values):
        """The IR-drop compensation map of ``xbar calibrate``: the M x N conductances G' in
        [g_min, g_max] for which the array computes s G, with ``.unreachable`` (the cells'
        status), ``.t_effective`` (T of the uncompensated array) and ``.scale`` (s)."""
        r = self.calibrate(**key_values)
        return Result(r.g_compensated, r.metadata, unreachable=r.unreachable, t_effective=r.t_effective,
                      scale=r.metadata["compensation"]["scale"] if "compensation" in r.metadata else None)

    def calibrate(self, **key_values):
        """``xbar calibrate``: its calibration table (calibration.csv, {column: array}) as the
        main result's ``.table``, with the compensation map (``.g_compensated``,
        ``.unreachable``, ``.t_effective``) and the errors before and after in ``metadata``.
        The result's array is the map."""
        _, meta, f = self._run("calibrate", key_values, {
            "t_effective": "t_effective.npy", "g_compensated": "g_compensated.npy",
            "unreachable": "unreachable.npy", "table": "calibration.csv"})
        return Result(f["g_compensated"], meta, g_compensated=f["g_compensated"], unreachable=f["unreachable"],
                      t_effective=f["t_effective"], table=f["table"])
