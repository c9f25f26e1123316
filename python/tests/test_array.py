"""The NumPy API (xbar.Array) against the `xbar` executable on the same inputs, the closed form of a
wire-free array, the effective matrix against direct solves, errors carrying the CLI's message,
and the GIL released while the engine solves."""

import os
import threading

import numpy as np
import pytest

import xbar
from conftest import cli_error, load_json, run_cli

# Direct solves and the effective matrix are two routes through the same factorization; they
# agree to rounding of a few thousand operations on currents of order 1e-4 A.
EFFECTIVE_VS_DIRECT_REL = 1e-10
# R_wire = 0: the currents are G^T V up to the rounding of the solve (DESIGN.md, closed forms).
CLOSED_FORM_REL = 1e-12


def conductances(rng, m, n):
    return rng.uniform(1e-6, 1e-4, size=(m, n))


def test_solve_gives_the_cli_currents_bit_for_bit(tmp_path, rng):
    g = conductances(rng, 12, 9)
    v = rng.uniform(0, 0.2, size=(5, 12))
    np.save(tmp_path / "g.npy", g)
    np.save(tmp_path / "v.npy", v)
    keys = dict(r_row=2.5, r_col=1.5, r_driver=10, r_sense=5, drive="both")
    run_cli(["solve", "--g", "g.npy", "--v", "v.npy", "--r-row", 2.5, "--r-col", 1.5, "--r-driver", 10,
             "--r-sense", 5, "--drive", "both", "--quiet", "--out", "cli"], tmp_path)
    cli = np.load(tmp_path / "cli" / "currents.npy")
    meta = load_json(tmp_path / "cli" / "result.json")

    i = xbar.Array(g=g, **keys).solve(v)
    assert i.shape == (5, 9)
    assert np.array_equal(np.asarray(i), cli)
    # The same metadata as result.json: the configuration the CLI recorded, key by key.
    assert i.metadata["backend"] == meta["backend"]
    for k in ("r-row", "r-col", "r-driver", "r-sense", "drive", "cell"):
        assert i.metadata["config"][k]["value"] == meta["config"][k]["value"]
    assert i.metadata["ir_drop"]["max_abs_error_a"] == meta["ir_drop"]["max_abs_error_a"]


def test_a_random_array_is_the_clis_random_array_and_one_input_gives_one_row(tmp_path):
    run_cli(["solve", "--rows", 7, "--cols", 6, "--seed", 4, "--r-row", 1, "--quiet", "--out", "cli"], tmp_path)
    a = xbar.Array(rows=7, cols=6, seed=4, r_row=1)
    i = a.solve()
    assert i.shape == (6,)
    assert np.array_equal(np.asarray(i), np.load(tmp_path / "cli" / "currents.npy"))
    assert a.g.shape == (7, 6) and a.g.min() >= 1e-6 and a.g.max() <= 1e-4


def test_a_wire_free_array_computes_the_closed_form_and_its_effective_matrix_is_g(rng):
    g = conductances(rng, 6, 5)
    v = rng.uniform(0, 0.3, size=(3, 6))
    a = xbar.Array(g=g, r_row=0, r_col=0)
    i = np.asarray(a.solve(v))
    ref = v @ g
    assert np.max(np.abs(i - ref)) <= CLOSED_FORM_REL * np.max(np.abs(ref))
    t = np.asarray(a.effective_matrix())
    assert np.max(np.abs(t - g)) <= CLOSED_FORM_REL * g.max()


def test_the_effective_matrix_gives_the_direct_solves_currents_for_any_input(rng):
    g = conductances(rng, 10, 8)
    v = rng.uniform(0, 0.2, size=(4, 10))
    a = xbar.Array(g=g, r_row=2.5, r_col=2.5, r_sense=3)
    t = a.effective_matrix()
    assert t.shape == (10, 8)
    assert t.metadata["backend"] in ("cholmod", "klu")
    direct = np.asarray(a.solve(v, batch_method="direct"))
    assert direct.shape == (4, 8)
    assert np.max(np.abs(v @ np.asarray(t) - direct)) <= EFFECTIVE_VS_DIRECT_REL * np.max(np.abs(direct))
    # Wires attenuate: T < G cell by cell on this array (all cells read through resistance).
    assert np.all(np.asarray(t) < g)


def test_program_gives_the_clis_programmed_conductances(tmp_path, rng):
    g = conductances(rng, 8, 8)
    np.save(tmp_path / "g.npy", g)
    run_cli(["program", "--g", "g.npy", "--levels", 8, "--variation", "gaussian", "--variation-sigma", 0.05,
             "--stuck-on-rate", 0.05, "--seed", 3, "--quiet", "--out", "cli"], tmp_path)
    p = xbar.Array(g=g).program(levels=8, variation="gaussian", variation_sigma=0.05, stuck_on_rate=0.05, seed=3)
    assert np.array_equal(np.asarray(p), np.load(tmp_path / "cli" / "g_programmed.npy"))
    assert np.array_equal(p.stuck_mask, np.load(tmp_path / "cli" / "stuck_mask.npy"))
    assert p.metadata["seed"] == 3
    # The programmed array is an array like any other.
    b = xbar.Array(g=g).with_conductances(p)
    assert np.array_equal(b.g, np.asarray(p))


def test_compensate_and_calibrate_give_the_clis_map_and_table(tmp_path, rng):
    g = conductances(rng, 12, 12)
    np.save(tmp_path / "g.npy", g)
    run_cli(["calibrate", "--g", "g.npy", "--r-row", 2.5, "--r-col", 2.5, "--scale", "auto", "--quiet", "--out", "cli"],
            tmp_path)
    a = xbar.Array(g=g, r_row=2.5, r_col=2.5)
    m = a.compensate(scale="auto")
    assert np.array_equal(np.asarray(m), np.load(tmp_path / "cli" / "g_compensated.npy"))
    assert np.array_equal(m.unreachable, np.load(tmp_path / "cli" / "unreachable.npy"))
    assert np.array_equal(m.t_effective, np.load(tmp_path / "cli" / "t_effective.npy"))
    assert m.scale == load_json(tmp_path / "cli" / "result.json")["compensation"]["scale"]
    c = a.calibrate(scale="auto")
    # The errors before and after on the held-out inputs, and the table, as the CLI's.
    assert c.metadata["errors"] == load_json(tmp_path / "cli" / "result.json")["errors"]
    cli_table = np.genfromtxt(tmp_path / "cli" / "calibration.csv", delimiter=",", names=True)
    assert set(c.table) == set(cli_table.dtype.names)
    for name in cli_table.dtype.names:
        assert np.array_equal(c.table[name], cli_table[name])
    assert len(c.table["gain"]) == 12  # one row per column


def test_check_against_ngspice_passes_on_a_small_array(rng):
    r = xbar.Array(g=conductances(rng, 6, 6), r_row=1, r_col=1).check(tol=1e-9)
    assert r["pass"] is True
    assert r["currents"]["max_rel_diff"] <= 1e-9


def test_input_errors_raise_with_the_clis_message(tmp_path):
    code, _, err = run_cli(["solve", "--rows", -3, "--out", "d"], tmp_path, check=False)
    assert code == 2
    with pytest.raises(xbar.InputError) as e:
        xbar.Array(rows=-3)
    assert str(e.value) == cli_error(err, "solve")
    assert isinstance(e.value, ValueError)

    code, _, err = run_cli(["solve", "--r-rwo", 2, "--out", "d"], tmp_path, check=False)
    with pytest.raises(xbar.InputError) as e:
        xbar.Array(r_rwo=2)
    assert str(e.value) == cli_error(err, "solve")


def test_an_array_argument_is_named_in_the_message(rng):
    g = conductances(rng, 4, 4)
    g[1, 2] = -1e-5
    with pytest.raises(xbar.InputError) as e:
        xbar.Array(g=g)
    assert "<ndarray g>" in str(e.value) and "[1, 2]" in str(e.value) and "negative" in str(e.value)
    with pytest.raises(xbar.InputError) as e:
        xbar.Array(g=conductances(rng, 4, 4)).solve(np.zeros((2, 5)))
    assert "<ndarray v>" in str(e.value)


def test_a_nonlinear_array_has_no_effective_matrix():
    with pytest.raises(xbar.InputError, match="linear cells only"):
        xbar.Array(rows=4, cols=4, cell="sinh").effective_matrix()


def test_run_writes_what_the_command_line_writes(tmp_path):
    assert xbar.run("netlist", rows=4, cols=4, out=str(tmp_path / "a.cir"), quiet=True) == 0
    assert (tmp_path / "a.cir").read_text().startswith("*")


def test_the_gil_is_released_while_the_engine_solves():
    # A Python thread keeps counting while another thread is inside the C++ solve: with the GIL
    # held for the whole call it could not run at all between the call's start and end.
    a = xbar.Array(rows=160, cols=160, r_row=2.5, r_col=2.5)
    counter = [0]
    seen = {}
    done = threading.Event()

    def solve():
        seen["start"] = counter[0]
        a.effective_matrix()
        seen["end"] = counter[0]
        done.set()

    t = threading.Thread(target=solve)
    t.start()
    while not done.is_set():
        counter[0] += 1
    t.join()
    assert seen["end"] - seen["start"] > 1000


def test_keys_lists_every_key_with_its_default():
    k = xbar.keys("solve")
    assert k["r-row"][0] is True and k["r-row"][1] == "2.5"
    assert k["save-voltages"][0] is False  # a switch
    assert "ohm" in k["r-row"][2]
