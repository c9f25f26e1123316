"""`xbar evaluate --model FILE.pt` on a user's TorchScript model and a .npy data set, against
xbar.torch on the same model, hardware and seed; `xbar sweep` of such evaluations; bad models
and data named clearly, with no output written."""

import os

import numpy as np
import pytest
import torch
from torch import nn

import xbar.torch as xt
from conftest import cli_error, load_json, run_cli

HARDWARE = dict(tile_rows=16, tile_cols=16, r_row=2.5, r_col=2.5, variation="gaussian", variation_sigma=0.05,
                stuck_on_rate=0.01, stuck_off_rate=0.01, adc_bits=6, dac_bits=6, read_noise_sigma=0.02, seed=3,
                threads=1)


def cli_keys(keys):
    out = []
    for k, v in keys.items():
        out += ["--" + k.replace("_", "-"), v]
    return out


class Small(nn.Module):
    """A convolution (padding, stride, groups), batch norm, a residual, pooling and two Linear
    layers: crossbar layers between torch layers of every kind."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2)
        self.fc1 = nn.Linear(4 * 4 * 4, 24)
        self.fc2 = nn.Linear(24, 5)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        h = self.down(h + x.repeat(1, 2, 1, 1))
        h = torch.flatten(torch.relu(h), 1)
        return self.fc2(torch.relu(self.fc1(h)))


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    torch.manual_seed(11)
    d = tmp_path_factory.mktemp("ts")
    model = Small()
    with torch.no_grad():  # a batch norm with statistics of its own
        model.bn.running_mean.uniform_(-0.1, 0.1)
        model.bn.running_var.uniform_(0.5, 2)
    model.eval()
    rng = np.random.default_rng(12)
    x = rng.uniform(0, 1, size=(300, 2, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 5, size=300).astype(np.int64)
    data = d / "data"
    data.mkdir()
    np.save(data / "test_inputs.npy", x)
    np.save(data / "test_labels.npy", labels)
    np.save(data / "calib_inputs.npy", rng.uniform(0, 1, size=(200, 2, 8, 8)))  # float64: rounded to float32
    torch.jit.save(torch.jit.script(model), str(d / "scripted.pt"))
    torch.jit.save(torch.jit.trace(model, torch.from_numpy(x[:10])), str(d / "traced.pt"))
    return d, model, x


@pytest.mark.parametrize("kind", ["scripted", "traced"])
def test_evaluate_on_a_torchscript_model_predicts_what_xbar_torch_predicts(case, kind):
    d, model, x = case
    out = "e_" + kind
    run_cli(["evaluate", "--model", kind + ".pt", "--data", "data", "--quiet", "--out", out] + cli_keys(HARDWARE), d)
    j = load_json(d / out / "accuracy.json")
    rows = dict(zip(j["predictions"]["rows"], np.load(d / out / "predictions.npy").astype(int)))
    calib = torch.from_numpy(np.load(d / "data" / "calib_inputs.npy").astype(np.float32))
    xs = torch.from_numpy(x)
    torch.set_num_threads(1)  # the CLI's --threads: the same torch kernels on the same threads
    with torch.no_grad():
        software = model(xs).argmax(1).numpy()
    assert np.array_equal(rows["software"], software)
    assert j["ideal_matches_software"] is True
    for mode in ("ideal", "uncompensated", "compensated"):
        hw = xt.convert(model, xt.Config(mode, **HARDWARE))
        xt.calibrate(hw, calib)
        pred = xt.predict(hw, xs).numpy()
        assert np.array_equal(pred, rows[mode]), mode
    # The hardware matters here: not every uncompensated prediction is the software's.
    assert np.any(rows["uncompensated"] != software)
    layers = {l["name"]: l for l in j["model"]["crossbar_layers"]}
    assert set(layers) == {"conv", "down", "fc1", "fc2"}
    assert layers["down"]["groups"] == 2 and layers["down"]["weights"] == [2 * 9, 2]
    assert j["test_set"]["sample_shape"] == [2, 8, 8]


def test_an_evaluate_sweep_runs_torchscript_models_as_points(case):
    d, _, _ = case
    (d / "s.ini").write_text("command = evaluate\nmodel = scripted.pt\ndata = data\ncompensate = false\n"
                             "subset = 100\ntile-rows = 16\ntile-cols = 16\nthreads = 1\n"
                             "r-row = 0, 2.5\nseed = 1\n")
    run_cli(["sweep", "--config", "s.ini", "--out", "sw"], d)
    lines = (d / "sw" / "sweep.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) == 3
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        assert row["status"] == "ok"
        assert row["ideal_matches_software"] in ("true", "1", "True")
        assert 0 <= float(row["uncompensated"]) <= 1


class WithLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.rnn(x.reshape(1, -1, 4))[0][0])


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 4))
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.nn.functional.linear(self.fc(x), self.w)


def refused(d, model_file, data="data", extra=()):
    out = d / ("bad_" + model_file.replace(".", "_") + "_" + data)
    code, _, err = run_cli(["evaluate", "--model", model_file, "--data", data, "--out", out.name] + list(extra), d,
                           check=False)
    assert code == 2, err
    assert not out.exists() or not any(out.iterdir())  # nothing written
    return cli_error(err, "evaluate")


def small_data(d, name, n_inputs, n_labels, calib_shape=(4,)):
    p = d / name
    p.mkdir()
    np.save(p / "test_inputs.npy", np.ones((n_inputs, 4), np.float32))
    np.save(p / "test_labels.npy", np.zeros(n_labels, np.int32))
    np.save(p / "calib_inputs.npy", np.ones((10,) + calib_shape, np.float32))


def test_bad_models_and_data_are_named_clearly(case):
    d, _, _ = case
    small_data(d, "d4", 10, 10)
    torch.jit.save(torch.jit.script(WithLstm()), str(d / "lstm.pt"))
    assert "layer rnn (LSTM): recurrent layers" in refused(d, "lstm.pt", "d4")
    torch.jit.save(torch.jit.script(Functional()), str(d / "functional.pt"))
    m = refused(d, "functional.pt", "d4", ["--tile-rows", 4, "--tile-cols", 4])
    assert "aten::linear" in m and "'w'" in m and "nn.Linear" in m
    (d / "garbage.pt").write_bytes(os.urandom(300))
    assert "not a model file written by `xbar train` nor a TorchScript module" in refused(d, "garbage.pt", "d4")
    tiles = ["--tile-rows", 16, "--tile-cols", 16]
    small_data(d, "short_labels", 10, 9)
    assert "9 labels for the 10 samples" in refused(d, "scripted.pt", "short_labels", tiles)
    small_data(d, "other_shape", 10, 10, calib_shape=(5,))
    assert "expected the same sample shape" in refused(d, "scripted.pt", "other_shape", tiles)
    # Inputs of the wrong shape for the model: the model's own error, named as such.
    assert "the model's forward failed on inputs of shape [10, 4]" in refused(d, "scripted.pt", "d4", tiles)
