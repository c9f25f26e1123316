"""xbar optimize (xbar.optimize, Optuna): the search finds the optimum and the Pareto front that
brute force over the same small space finds with direct `xbar calibrate` runs; a stopped study
continues to what one run would have drawn; every trial's figures are those of the subcommands
run directly (ppa on the compensated conductances, evaluate's accuracy); bad input exits 2
naming the file, line or key, with nothing written."""

import csv
import os
import sqlite3

import numpy as np
import pytest

import xbar.optimize as xo
from conftest import load_json, run_cli

# SAME_RUN: a trial's in-process runs and the executable's runs of the same keys are the same
# code on the same inputs and seed, so their figures are compared for equality, bit for bit.

SIZES = list(range(4, 17))
WIRES = (1, 4)  # ohms per segment, rows and columns alike
HELDOUT = 100


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def write(path, text):
    path.write_text(text)
    return str(path)


def study(rows, *lines):
    """A square array of `rows` (a range or list) with wires of 1 or 4 ohm per segment."""
    return "\n".join(["rows = %s" % rows, "cols = rows", "r-row = %s" % ", ".join(map(str, WIRES)),
                      "r-col = r-row", "heldout = %d" % HELDOUT] + list(lines)) + "\n"


def optimize(tmp_path, ini_text, out, *args):
    ini = write(tmp_path / (out + ".ini"), ini_text)
    status = xo.main(["--config", ini, "--out", str(tmp_path / out), "--quiet"] + [str(a) for a in args])
    return status, tmp_path / out


@pytest.fixture(scope="module")
def brute_force(tmp_path_factory):
    """{(rows, r-row): uncompensated max error in LSB} of every point of the space, each from its
    own `xbar calibrate` run of the executable (not through xbar.optimize)."""
    d = tmp_path_factory.mktemp("brute")
    errors = {}
    for m in SIZES:
        for w in WIRES:
            out = "c_%d_%d" % (m, w)
            run_cli(["calibrate", "--rows", m, "--cols", m, "--r-row", w, "--r-col", w, "--heldout", HELDOUT,
                     "--quiet", "--out", out], d)
            errors[(m, w)] = load_json(d / out / "result.json")["errors"]["uncompensated"]["max_lsb"]
    return errors


def non_dominated(points):
    """The keys of `points` {key: (cells to maximize, error to minimize)} no other point beats."""
    front = set()
    for k, (c, e) in points.items():
        if not any(c2 >= c and e2 <= e and (c2 > c or e2 < e) for c2, e2 in points.values()):
            front.add(k)
    return front


def point(row):
    return int(row["rows"]), int(row["r-row"])


def test_a_grid_search_finds_the_pareto_front_brute_force_finds(tmp_path, brute_force):
    budget = 1.5
    status, out = optimize(tmp_path, study("4:4:16", "objective = maximize cells", "objective = minimize max_lsb",
                                           "constraint = max_lsb <= %g" % budget), "grid", "--sampler", "grid",
                           "--trials", 100)
    assert status == 0
    space = {(m, w): e for (m, w), e in brute_force.items() if m in (4, 8, 12, 16)}
    feasible = {k: (k[0] ** 2, e) for k, e in space.items() if e <= budget}
    expected = non_dominated(feasible)
    assert 2 <= len(expected) < len(space)  # the constraint and the trade-off both matter here

    trials = read_csv(out / "trials.csv")
    assert sorted(point(r) for r in trials) == sorted(space)  # every grid point once, --trials capped
    for r in trials:
        e = brute_force[point(r)]
        assert float(r["max_lsb"]) == e  # SAME_RUN
        assert float(r["cells"]) == point(r)[0] ** 2
        assert float(r["constraint_1"]) == pytest.approx((e - budget) / budget, rel=1e-15)
        assert r["feasible"] == ("1" if e <= budget else "0")
    pareto = read_csv(out / "pareto.csv")
    assert {point(r) for r in pareto} == expected
    assert len(pareto) == len(expected)

    meta = load_json(out / "result.json")
    assert meta["sampler"]["name"] == "grid" and meta["sampler"]["seed"] == 1
    assert meta["n_trials"] == dict(meta["n_trials"], finished=8, complete=8, failed=0, target=8,
                                    feasible=len(feasible))
    assert [o["metric"] for o in meta["objectives"]] == ["cells", "max_lsb"]
    assert meta["version"] and meta["commands"] == ["calibrate"]
    with open(out / "pareto.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_tpe_finds_the_largest_array_within_the_error_budget_that_brute_force_finds(tmp_path, brute_force):
    budget = 1.0
    feasible = {k: e for k, e in brute_force.items() if e <= budget}
    largest = max(m for m, _ in feasible)
    expected = {k for k in feasible if k[0] == largest}
    assert SIZES[0] < largest < SIZES[-1]  # the budget binds inside the space
    # 20 trials for 26 points: the search has to find the optimum, not enumerate the space.
    status, out = optimize(tmp_path, study("4..16", "objective = maximize cells",
                                           "constraint = max_lsb <= %g" % budget), "tpe", "--trials", 20)
    assert status == 0
    trials = read_csv(out / "trials.csv")
    assert len(trials) == 20 and len({point(r) for r in trials}) < len(brute_force)
    pareto = read_csv(out / "pareto.csv")
    assert {point(r) for r in pareto} == expected
    for r in pareto:
        assert float(r["max_lsb"]) == brute_force[point(r)]
    assert load_json(out / "result.json")["sampler"]["name"] == "tpe"


def test_a_stopped_study_continues_to_what_one_run_draws(tmp_path):
    text = study("4..16", "objective = maximize cells", "objective = minimize max_lsb", "constraint = max_lsb <= 1")
    args = ("--seed", 7, "--population-size", 4)
    assert optimize(tmp_path, text, "parts", "--trials", 5, *args)[0] == 0
    status, parts = optimize(tmp_path, text, "parts", "--trials", 10, *args)
    assert status == 0
    assert load_json(parts / "result.json")["n_trials"]["run_now"] == 5
    status, whole = optimize(tmp_path, text, "whole", "--trials", 10, *args)
    assert status == 0

    def drawn(path):  # everything but the wall times
        return [{k: v for k, v in r.items() if k != "time_s"} for r in read_csv(path / "trials.csv")]

    assert len(drawn(parts)) == 10
    assert drawn(parts) == drawn(whole)
    # Asking for no more trials than the study holds runs nothing.
    assert optimize(tmp_path, text, "whole", "--trials", 10, *args)[0] == 0
    assert load_json(whole / "result.json")["n_trials"]["run_now"] == 0


def test_ppa_costs_the_compensated_conductances_and_the_figures_are_the_subcommands(tmp_path):
    text = "\n".join(["rows = 8", "cols = 8", "r-row = 2.5", "r-col = 2.5", "c-row = 2e-15", "c-col = 2e-15",
                      "r-driver = 500", "seed = 3", "heldout = 50", "compensate = true, false",
                      "objective = minimize energy_per_read_j", "constraint = latency_s <= 1e-6"]) + "\n"
    status, out = optimize(tmp_path, text, "ppa", "--sampler", "grid")
    assert status == 0
    trials = {r["compensate"]: r for r in read_csv(out / "trials.csv")}
    assert set(trials) == {"true", "false"}

    array = ["--rows", 8, "--cols", 8, "--seed", 3]
    wires = ["--r-row", 2.5, "--r-col", 2.5, "--r-driver", 500]
    lines = ["--c-row", 2e-15, "--c-col", 2e-15]
    run_cli(["calibrate"] + array + wires + ["--heldout", 50, "--quiet", "--out", "cal"], tmp_path)
    run_cli(["ppa"] + array + wires + lines + ["--quiet", "--out", "plain"], tmp_path)
    run_cli(["ppa", "--g", "cal/g_compensated.npy", "--seed", 3] + wires + lines + ["--quiet", "--out", "comp"],
            tmp_path)
    cal = load_json(tmp_path / "cal" / "result.json")["errors"]
    for compensate, ppa_dir, errors in (("false", "plain", cal["uncompensated"]), ("true", "comp", cal["compensated"])):
        r = trials[compensate]
        ppa = load_json(tmp_path / ppa_dir / "ppa.json")["ppa"]
        assert float(r["energy_per_read_j"]) == ppa["energy_per_read_j"]["total_j"]
        assert float(r["latency_s"]) == ppa["latency_s"]["total_s"]
        assert float(r["area_m2"]) == ppa["area_m2"]["total_m2"]
        assert float(r["max_lsb"]) == errors["max_lsb"]
        assert r["settled"] == "1" and r["feasible"] == "1"
        # constraint_2: the automatic one, the transient settled before t-stop
        assert float(r["constraint_2"]) == 0.0
    # The map raises conductances the wires starve: the compensated read costs more energy.
    assert float(trials["true"]["energy_per_read_j"]) != float(trials["false"]["energy_per_read_j"])


def test_accuracy_comes_from_evaluate_compensated_or_not(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(12, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    torch.jit.save(torch.jit.script(model), str(tmp_path / "m.pt"))
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, size=(60, 12)).astype(np.float32)
    with torch.no_grad():  # labels the software model gets right: accuracy 1 in software
        labels = model(torch.from_numpy(x)).argmax(1).numpy().astype(np.int64)
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "test_inputs.npy", x)
    np.save(tmp_path / "data" / "test_labels.npy", labels)
    np.save(tmp_path / "data" / "calib_inputs.npy", rng.uniform(0, 1, size=(30, 12)).astype(np.float32))
    hw = ["tile-rows = 8", "tile-cols = 8", "r-row = 20", "r-col = 20", "adc-bits = 4", "seed = 2", "threads = 1"]
    text = "\n".join(["model = %s" % (tmp_path / "m.pt"), "data = %s" % (tmp_path / "data"), "input-shape = 12"] +
                     hw + ["compensate = true, false", "objective = maximize accuracy",
                           "constraint = accuracy >= 0.5 * software"]) + "\n"
    status, out = optimize(tmp_path, text, "acc", "--sampler", "grid")
    assert status == 0
    trials = {r["compensate"]: r for r in read_csv(out / "trials.csv")}

    args = []
    for line in hw:
        k, v = (s.strip() for s in line.split("="))
        args += ["--" + k, v]
    run_cli(["evaluate", "--model", "m.pt", "--data", "data", "--input-shape", 12, "--quiet", "--out", "ev"] + args,
            tmp_path)
    acc = load_json(tmp_path / "ev" / "accuracy.json")
    assert acc["software"] == 1.0
    for compensate, mode in (("true", "compensated"), ("false", "uncompensated")):
        r = trials[compensate]
        assert float(r["accuracy"]) == acc[mode]
        assert float(r["software"]) == acc["software"]
        bound = 0.5 * acc["software"]
        assert float(r["constraint_1"]) == pytest.approx((bound - acc[mode]) / bound, rel=1e-15)
    assert trials["false"]["compensated"] == ""  # evaluate ran without the compensated mode


# (line 5 of the study, the line blamed, what the message says)
BAD_STUDIES = [
    ("r-rwo = 1..2", 5, "unknown key 'r-rwo'"),
    ("rows2 = 1", 5, "unknown key 'rows2'"),
    ("rows = 16..4", 5, "key 'rows' given twice (first at line 1)"),
    ("r-driver = 8..4", 5, "bad range: 8 is not below 4"),
    ("r-driver = 0..x", 5, "bad range"),
    ("objective = minimize energy", 5, "unknown metric 'energy'"),
    ("constraint = latency <= 2e-8", 5, "unknown metric 'latency'"),
    ("objective = maximize accuracy", 5, "needs a network"),
    ("constraint = max_lsb < 1", 5, "expected `METRIC <= BOUND`"),
    ("objective = minimize max_lsb", 6, "metric max_lsb is already an objective (line 5)"),
    ("heldout = 0..10", 5, "key heldout = 0"),  # the subcommand's own check, at the range's end
    ("r-row = -1, 2", 5, "key r-row = -1"),  # ... at one of the choices, on its line
]


@pytest.mark.parametrize("line,line_no,what", BAD_STUDIES)
def test_a_bad_study_exits_2_naming_its_line_and_writes_nothing(tmp_path, line, line_no, what):
    text = "rows = 4..16\ncols = rows\nr-row = 1, 4\nr-col = r-row\n" + line + "\nobjective = minimize max_lsb\n"
    if line.startswith("r-row"):
        text = text.replace("r-row = 1, 4\n", "heldout = 20\n")
    write(tmp_path / "s.ini", text)
    code, out, err = run_cli(["optimize", "--config", "s.ini", "--out", "o"], tmp_path, check=False)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xbar optimize: error: s.ini:%d: " % line_no), err
    assert what in lines[0], err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args,what", [
    (["--trials", "0"], "key trials = 0: must be >= 1"),
    (["--trails", "3"], "unrecognized arguments: --trails"),
    (["--sampler", "grid"], "key r-row: an interval of real numbers has no grid"),
    (["--storage", "nosuch://x"], "key storage = 'nosuch://x': cannot open it"),
])
def test_bad_keys_exit_2_naming_the_key_and_write_nothing(tmp_path, args, what):
    write(tmp_path / "s.ini", "rows = 4..8\nr-row = 0.5..2\nobjective = minimize max_lsb\n")
    code, out, err = run_cli(["optimize", "--config", "s.ini", "--out", "o"] + args, tmp_path, check=False)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xbar optimize: error: ") and what in lines[0], err
    assert not (tmp_path / "o").exists()


def test_a_changed_study_is_refused_and_the_stored_one_left_as_it_was(tmp_path):
    assert optimize(tmp_path, study("4..8", "objective = minimize max_lsb"), "s", "--trials", 2)[0] == 0

    def state():  # the output files, and the database's content (SQLite's own dump of it)
        files = {name: (tmp_path / "s" / name).read_bytes() for name in ("trials.csv", "result.json", "pareto.csv")}
        db = sqlite3.connect(str(tmp_path / "s" / "study.db"))
        try:
            return files, list(db.iterdump())
        finally:
            db.close()

    before = state()
    write(tmp_path / "s.ini", study("4..8", "objective = minimize max_lsb", "constraint = max_lsb <= 1"))
    code, _, err = run_cli(["optimize", "--config", "s.ini", "--out", "s", "--trials", 4], tmp_path, check=False)
    assert code == 2 and "different definition (constraints differ" in err, err
    assert state() == before
    assert sorted(os.listdir(tmp_path / "s" / "trials")) == ["00000", "00001"]


def test_xbar_optimize_help_lists_every_key_with_its_unit():
    code, out, _ = run_cli(["optimize", "--help"], ".")
    assert code == 0
    for key in ("--config", "--out", "--trials", "--seed", "--sampler", "--storage", "--study-name"):
        assert key in out
    for unit in ("[LSB", "[s]", "[J]", "[m^2]", "[fraction]"):
        assert unit in out


def test_a_failed_trial_is_a_row_with_its_message_and_the_run_exits_5(tmp_path, monkeypatch):
    # A run that fails (here: every calibrate of 6 rows, standing in for a numerical failure)
    # fails its trial only; the point drawn again is not run again; the search goes on.
    real = xo.run_subcommand
    calls = []

    def failing(args):
        calls.append(args[args.index("--rows") + 1])
        if args[0] == "calibrate" and args[args.index("--rows") + 1] == "6":
            raise xo.TrialFailed("xbar calibrate: numerical failure: stand-in")
        real(args)

    monkeypatch.setattr(xo, "run_subcommand", failing)
    text = "rows = 4, 6, 8\ncols = rows\nheldout = 20\nobjective = minimize max_lsb\n"
    status, out = optimize(tmp_path, text, "f", "--sampler", "random", "--trials", 8, "--seed", 2)
    assert status == 5
    trials = read_csv(out / "trials.csv")
    assert len(trials) == 8
    failed = [r for r in trials if r["rows"] == "6"]
    assert failed and all(r["state"] == "failed" and "stand-in" in r["error"] for r in failed)
    assert all(r["state"] == "complete" and r["error"] == "" for r in trials if r["rows"] != "6")
    assert sorted(calls) == sorted(set(calls))  # each point ran once
    assert "6" not in {r["rows"] for r in read_csv(out / "pareto.csv")}
    meta = load_json(out / "result.json")
    assert meta["n_trials"]["failed"] == len(failed) and meta["n_trials"]["finished"] == 8
