"""Shared by the examples (vit.py, resnet.py): Fashion-MNIST as xbar reads it, a plain training
loop, hardware-aware fine-tuning through xbar.torch, and saving as TorchScript for
`xbar evaluate --model`."""

import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
from torch import nn

import xbar.torch as xt

DATA = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist

# The hardware of README's accuracy table (128 x 128 tiles, 5% Gaussian programming variation,
# 0.5% stuck at g-max and 0.5% at g-min with defect-aware pairs, 8-bit ADC, [1 uS, 100 uS],
# seed 1); evaluation adds 2.5 ohm per wire segment (bench/run_examples.sh).
TABLE = dict(tile_rows=128, tile_cols=128, variation="gaussian", variation_sigma=0.05, stuck_on_rate=0.005,
             stuck_off_rate=0.005, adc_bits=8, g_min=1e-6, g_max=1e-4, defect_aware=True)


def load_fashion_mnist(split, data_dir=DATA):
    """(images N x 1 x 28 x 28 float32 in [0, 1] as byte / 255, labels N int64), as xbar reads them."""
    prefix = "train" if split == "train" else "t10k"

    def read(name):
        for path in (os.path.join(data_dir, name + ".gz"), os.path.join(data_dir, name)):
            if os.path.exists(path):
                with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                    return f.read()
        raise FileNotFoundError("Fashion-MNIST file %s not found in %s (apt-get install dataset-fashion-mnist)" %
                                (name, data_dir))

    img, lab = read(prefix + "-images-idx3-ubyte"), read(prefix + "-labels-idx1-ubyte")
    magic, n, rows, cols = struct.unpack(">IIII", img[:16])
    assert magic == 0x803 and struct.unpack(">II", lab[:8]) == (0x801, n)
    x = np.frombuffer(img, np.uint8, offset=16).reshape(n, 1, rows, cols).astype(np.float32) / np.float32(255)
    y = np.frombuffer(lab, np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def _fit(model, x, y, epochs, lr, batch, seed, log, what, evaluate, freeze_batch_norm=False):
    """Adam on cross-entropy, the learning rate falling from `lr` to 0 along a cosine over all
    steps (the last weights are a settled point, not one noisy step of a constant rate),
    reshuffled every epoch from `seed`; a line per epoch to `log`, with `evaluate()` appended.
    freeze_batch_norm: batch normalisation normalises with its running statistics and keeps them
    (its scale and shift still learn)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    for e in range(epochs):
        t0 = time.time()
        model.train()
        if freeze_batch_norm:
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        log("%s %d/%d: %s %.4f, %.1f s%s" % (what[0], e + 1, epochs, what[1], total / len(x), time.time() - t0,
                                              evaluate()))


def train(model, x, y, epochs, lr, batch, seed, log, val=None):
    """Plain training (software)."""
    _fit(model, x, y, epochs, lr, batch, seed, log, ("epoch", "loss"),
         lambda: ", validation accuracy %.4f" % accuracy(model, *val) if val is not None else "")


def hat_finetune(model, config, x, y, calib, epochs, lr, batch, seed, reprogram_every, log, val=None):
    """Hardware-aware fine-tuning through xbar.torch: every forward pass through the programmed
    tiles of `config` (straight-through gradients), the tiles programmed again with the new
    weights every `reprogram_every` steps on a new chip (resample: not one chip's defects), the
    DAC and ADC ranges from `calib`. Returns the fine-tuned torch model (plain layers)."""
    hw = xt.convert(model, config, reprogram_every=reprogram_every, resample=True)
    xt.calibrate(hw, calib)
    _fit(hw, x, y, epochs, lr, batch, seed, log, ("hat epoch", "hardware loss"),
         lambda: ", software validation accuracy %.4f" % accuracy(xt.convert_to_digital(hw), *val)
         if val is not None else "", freeze_batch_norm=True)
    return xt.convert_to_digital(hw)


def save_torchscript(model, path):
    model.eval()
    torch.jit.save(torch.jit.script(model), path)


def main(name, make_model, defaults):
    """train -> DIR/NAME.pt (TorchScript), then HAT fine-tuning -> DIR/NAME_hat.pt, with a
    record of both runs in DIR/NAME_train.json."""
    p = argparse.ArgumentParser(description="Train the %s example on Fashion-MNIST and fine-tune it for the "
                                            "hardware through xbar.torch" % name)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--epochs", type=int, default=defaults["epochs"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hat-epochs", type=int, default=defaults["hat_epochs"])
    p.add_argument("--hat-lr", type=float, default=defaults["hat_lr"])
    p.add_argument("--reprogram-every", type=int, default=defaults["reprogram_every"])
    p.add_argument("--hat-seed", type=int, default=101, help="chips of the fine-tuning (not the evaluation's seed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--val-images", type=int, default=5000,
                   help="the last N training images, held out of training and fine-tuning: the accuracy "
                        "printed after each epoch (the test set is used once, at the end)")
    p.add_argument("--train-subset", type=int, default=0, help="first N training images (0: all but the held-out)")
    p.add_argument("--hat-train-subset", type=int, default=defaults.get("hat_train_subset", 0),
                   help="first N training images for the fine-tuning (0: as --train-subset)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    log_lines = []

    def log(line):
        print("%s: %s" % (name, line), flush=True)
        log_lines.append(line)

    x, y = load_fashion_mnist("train")
    if not 0 < a.val_images < len(x):
        p.error("--val-images %d: must be in 1 .. %d" % (a.val_images, len(x) - 1))
    val = (x[-a.val_images:], y[-a.val_images:])
    x, y = x[:-a.val_images], y[:-a.val_images]
    if a.train_subset:
        x, y = x[:a.train_subset], y[:a.train_subset]
    test = load_fashion_mnist("test")
    model = make_model()
    log("%d parameters, %d crossbar layers" % (sum(p.numel() for p in model.parameters()),
                                                sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules())))
    t0 = time.time()
    train(model, x, y, a.epochs, a.lr, a.batch, a.seed, log, val)
    train_s = time.time() - t0
    save_torchscript(model, os.path.join(a.out, name + ".pt"))
    software = accuracy(model, *test)
    log("trained in %.0f s: test accuracy %.4f; wrote %s.pt" % (train_s, software, name))

    # HAT: the table's device non-idealities (variation, stuck cells with defect-aware pairs, the
    # 8-bit ADC) on wire-free tiles, a new chip at every programming. Wire-free because the
    # HAT model runs compensated: the map makes each tile compute s G, the wire-free product,
    # so training against the uncompensated IR drop (evaluate's default 2.5 ohm) would teach
    # the model, and its batch statistics, an attenuation the compensated hardware does not
    # have; and no map to rebuild at every programming. As `xbar train --hat` (no wires).
    cfg = xt.Config("uncompensated", **dict(TABLE, r_row=0, r_col=0, seed=a.hat_seed, threads=a.threads))
    record = {"model": name, "args": vars(a), "torch": torch.__version__, "train_s": train_s,
              "software_accuracy": software, "hat_hardware": cfg.hardware}
    if a.hat_epochs > 0:
        t0 = time.time()
        xh, yh = (x[:a.hat_train_subset], y[:a.hat_train_subset]) if a.hat_train_subset else (x, y)
        hat = hat_finetune(model, cfg, xh, yh, x[:1000], a.hat_epochs, a.hat_lr, a.batch, a.seed, a.reprogram_every,
                           log, val)
        record["hat_s"] = time.time() - t0
        save_torchscript(hat, os.path.join(a.out, name + "_hat.pt"))
        record["hat_software_accuracy"] = accuracy(hat, *test)
        log("hat fine-tuned in %.0f s: software test accuracy %.4f; wrote %s_hat.pt" %
            (record["hat_s"], record["hat_software_accuracy"], name))
    record["log"] = log_lines
    with open(os.path.join(a.out, name + "_train.json"), "w") as f:
        json.dump(record, f, indent=2)
