#!/usr/bin/python3
"""Issue 19's performance target: hardware inference of the built-in MLP through xbar.torch
against `xbar evaluate`'s own inference, side by side in one run.

    PYTHONPATH=python:build/python bench/torch_vs_evaluate.py BUILD MODEL.pt [--repeats R] [--batch B]

MODEL.pt: an MLP of `xbar train --model mlp`. Both sides program the same tiles (unit l of
xbar.torch is evaluate's MVM layer l: the same seeds) at 128 x 128 tiles, 2.5 ohm per segment,
5% Gaussian variation, 1% stuck-at, 8-bit ADC (uncompensated), calibrate on the first 1000
training images and run the 10,000 test images on 2 threads:

  evaluate    `xbar evaluate --compensate false`: runs.uncompensated.times_s.inference_s of its
              accuracy.json (HardwareNetwork::predict, after programming and calibration);
  xbar.torch  xt.predict(hw, test images, batch B) on the converted torch MLP, after
              xt.convert and xt.calibrate (the forward passes alone, as evaluate's figure).

Each side R times, alternating; prints every time, the medians, their ratio, how many
predictions agree with evaluate's, and the load average.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "examples"))
import xbar.torch as xt  # noqa: E402
from common import load_fashion_mnist  # noqa: E402

HARDWARE = dict(tile_rows=128, tile_cols=128, r_row=2.5, r_col=2.5, variation="gaussian", variation_sigma=0.05,
                stuck_on_rate=0.005, stuck_off_rate=0.005, adc_bits=8, seed=1, threads=2)


class Mlp(nn.Module):
    """The built-in MLP (engine/nn/nn_model.h): fc1, relu, fc2, relu, fc3 on flat images."""

    def __init__(self, params):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)
        with torch.no_grad():
            for name in ("fc1", "fc2", "fc3"):
                getattr(self, name).weight.copy_(params[name + ".weight"])
                getattr(self, name).bias.copy_(params[name + ".bias"])

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x.reshape(x.shape[0], -1))))))


def builtin_params(path):
    """The parameters of a model.pt of `xbar train` (a torch serialize archive torch.jit.load reads)."""
    m = torch.jit.load(path)
    return {k: v.detach() for k, v in m.state_dict().items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("model")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=1000)
    a = p.parse_args()
    torch.set_num_threads(HARDWARE["threads"])
    xbar_bin = os.path.join(a.build, "xbar")
    x_test, _ = load_fashion_mnist("test")
    x_cal = load_fashion_mnist("train")[0][:1000]
    model = Mlp(builtin_params(a.model)).eval()
    flags = []
    for k, v in HARDWARE.items():
        flags += ["--" + k.replace("_", "-"), str(v)]

    cli_s, py_s, agree = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            out = os.path.join(tmp, "ev%d" % r)
            subprocess.run([xbar_bin, "evaluate", "--model", a.model, "--compensate", "false", "--tile-details", "false",
                            "--quiet", "--out", out] + flags, check=True, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
            j = json.load(open(os.path.join(out, "accuracy.json")))
            cli_s.append(j["runs"]["uncompensated"]["times_s"]["inference_s"])
            rows = dict(zip(j["predictions"]["rows"], np.load(os.path.join(out, "predictions.npy")).astype(int)))

            hw = xt.convert(model, xt.Config("uncompensated", **HARDWARE))
            xt.calibrate(hw, x_cal)
            t0 = time.perf_counter()
            pred = xt.predict(hw, x_test, batch_size=a.batch).numpy()
            py_s.append(time.perf_counter() - t0)
            agree = int((pred == rows["uncompensated"]).sum())
            print("repeat %d: evaluate %.3f s, xbar.torch %.3f s" % (r + 1, cli_s[-1], py_s[-1]), flush=True)
    c, t = statistics.median(cli_s), statistics.median(py_s)
    print("MLP hardware inference, 10,000 images, 2 threads (median of %d): xbar evaluate %.3f s, xbar.torch %.3f s "
          "(batch %d): ratio %.2fx" % (a.repeats, c, t, a.batch, t / c))
    print("predictions equal to evaluate's uncompensated run: %d / %d" % (agree, len(x_test)))
    print("load average: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


if __name__ == "__main__":
    main()
