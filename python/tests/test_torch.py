"""xbar.torch: converted models against torch's own output on ideal hardware, for every layer
option; the per-layer statistics; refusals naming the layer; seeds; hardware-aware training
lowering the hardware's loss."""

import numpy as np
import pytest
import torch
from torch import nn

import xbar
import xbar.torch as xt

# Ideal tiles compute the exact product in float64, cast to float32 once; torch computes in
# float32 with its own summation order. The two differ by a few float32 roundings of the partial
# sums: relative to the largest output, well under 1e-5 for fan-ins up to a few hundred.
FLOAT32_REL = 1e-5

SMALL_TILES = dict(tile_rows=8, tile_cols=8, threads=1)


def max_rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


class EveryOption(nn.Module):
    """Every supported layer option once: Linear with and without bias and on 3-d inputs;
    Conv1d with stride, padding, dilation, groups, no bias; Conv2d with asymmetric stride,
    padding and dilation, groups, 'same' padding and every padding_mode."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, bias=False)
        self.c1v = nn.Conv1d(6, 6, 2, padding="valid", padding_mode="circular")
        self.c2 = nn.Conv2d(3, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3)
        self.c2s = nn.Conv2d(6, 4, 4, padding="same", dilation=2)
        self.c2r = nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")
        self.c2p = nn.Conv2d(4, 4, 3, padding=(2, 1), padding_mode="replicate", stride=2, bias=False)
        self.c2c = nn.Conv2d(4, 2, 3, padding=1, padding_mode="circular")
        self.seq = nn.Linear(5, 7)                 # on (B, T, 5)
        self.fc = nn.Linear(7 * 3, 10, bias=False)

    def forward(self, x2, x1):
        a = self.c2c(self.c2p(torch.relu(self.c2r(self.c2s(self.c2(x2))))))   # B x 2 x H x W
        b = self.c1v(self.c1(x1))                                           # B x 6 x L
        s = self.seq(a.flatten(2)[:, :, :15].reshape(a.shape[0], 2, 3, 5).sum(1))            # B x 3 x 7
        return self.fc(s.reshape(s.shape[0], -1)) + b.mean(dim=(1, 2), keepdim=False)[:, None]


class TwoInputs(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x[:, :3 * 9 * 8].reshape(-1, 3, 9, 8), x[:, 3 * 9 * 8:].reshape(-1, 4, 15))


def test_ideal_hardware_gives_torchs_output_for_every_layer_option():
    torch.manual_seed(0)
    model = TwoInputs(EveryOption()).eval()
    x = torch.rand(20, 3 * 9 * 8 + 4 * 15)
    with torch.no_grad():
        ref = model(x)
        # every intermediate checked too: each converted layer against its torch layer
        hw = xt.convert(model, xt.Config("ideal", **SMALL_TILES))
        xt.calibrate(hw, x)
        out = hw(x)
    assert out.shape == ref.shape
    assert max_rel(out, ref) < FLOAT32_REL
    names = {n for n, m in hw.named_modules() if isinstance(m, xt._CrossbarModule)}
    assert names == {"m.c1", "m.c1v", "m.c2", "m.c2s", "m.c2r", "m.c2p", "m.c2c", "m.seq", "m.fc"}
    # The original model is untouched (convert returned a copy).
    assert all(not isinstance(m, xt._CrossbarModule) for m in model.modules())


@pytest.mark.parametrize("layer,shape", [
    (nn.Conv2d(3, 8, 3, stride=2, padding=1, dilation=1, groups=1), (6, 3, 11, 10)),
    (nn.Conv2d(4, 8, (1, 3), stride=(1, 2), padding=(0, 3), dilation=(1, 3), groups=4), (6, 4, 7, 12)),
    (nn.Conv1d(2, 4, 5, stride=3, padding=2, dilation=1, groups=1, padding_mode="reflect"), (6, 2, 17)),
    (nn.Linear(30, 12), (6, 2, 4, 30)),
])
def test_each_layer_alone_matches_torch_on_ideal_tiles(layer, shape):
    torch.manual_seed(1)
    x = torch.randn(*shape).abs()
    with torch.no_grad():
        ref = layer(x)
        hw = xt.convert(layer, xt.Config("ideal", **SMALL_TILES))
        xt.calibrate(hw, x)
        out = hw(x)
    assert out.shape == ref.shape
    assert max_rel(out, ref) < FLOAT32_REL


def test_statistics_report_tiles_scales_and_clipping_per_layer():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(20, 12), nn.ReLU(), nn.Linear(12, 5))
    x = torch.rand(50, 20)
    cfg = xt.Config("compensated", tile_rows=8, tile_cols=8, r_row=2.5, r_col=2.5, adc_bits=4, threads=1)
    hw = xt.convert(model, cfg)
    xt.calibrate(hw, x[:20])
    with torch.no_grad():
        hw(2 * x)  # twice the calibration range: the ADC clips
    s = xt.statistics(hw)
    assert set(s) == {"0", "2"}
    # 20 inputs in 8-row tiles (3 row tiles) x 12 outputs in 4-output pairs (3 column tiles).
    assert s["0"]["tiles"] == 9 and s["0"]["weights"] == [20, 12]
    assert s["2"]["tiles"] == 2 * 2
    assert 0 < s["0"]["compensation"]["scale_min"] <= s["0"]["compensation"]["scale_max"] <= 1
    assert s["0"]["adc"]["values"] == 50 * 12 * 3  # every partial sum of every row tile
    assert s["0"]["adc"]["clipped_high"] + s["0"]["adc"]["clipped_low"] > 0
    assert s["0"]["images"] == 50


def test_the_same_seed_gives_the_same_outputs_and_another_seed_others():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(16, 8))
    x = torch.rand(30, 16)
    noisy = dict(SMALL_TILES, variation="gaussian", variation_sigma=0.1, read_noise_sigma=0.02)
    outs = []
    for seed in (5, 5, 6):
        hw = xt.convert(model, xt.Config("uncompensated", seed=seed, **noisy))
        xt.calibrate(hw, x)
        with torch.no_grad():
            outs.append(hw(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])


def test_layers_xbar_cannot_map_are_refused_by_name():
    model = nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.Conv3d(1, 1, 1)))
    with pytest.raises(xbar.InputError, match=r"layer 1\.0 \(Conv3d\): 3-d convolutions"):
        xt.convert(model, xt.Config("ideal"))
    with pytest.raises(xbar.InputError, match=r"layer attn \(MultiheadAttention\)"):
        xt.convert(nn.ModuleDict({"attn": nn.MultiheadAttention(8, 2), "fc": nn.Linear(8, 8)}), xt.Config("ideal"))
    with pytest.raises(xbar.InputError, match=r"layer rnn \(LSTM\)"):
        xt.convert(nn.ModuleDict({"rnn": nn.LSTM(4, 4), "fc": nn.Linear(4, 4)}), xt.Config("ideal"))
    # Excluded layers stay in software.
    hw = xt.convert(model, xt.Config("ideal"), exclude=["1"])
    assert isinstance(hw[1][0], nn.Conv3d)
    with pytest.raises(xbar.InputError, match="key subset: not a hardware key"):
        xt.Config("ideal", subset=10)
    with pytest.raises(xbar.InputError, match="key adc-bits = 1"):
        xt.Config("ideal", adc_bits=1)


def test_layer_config_gives_a_layer_its_own_hardware_and_none_keeps_it_in_software():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))
    ideal = xt.Config("ideal", **SMALL_TILES)
    coarse = xt.Config("uncompensated", r_row=0, r_col=0, adc_bits=3, **SMALL_TILES)  # a 3-bit ADC
    seen = []

    def per_layer(name, module):
        seen.append((name, type(module)))
        return {"0": ideal, "2": coarse}.get(name)   # layer 4: None, software

    hw = xt.convert(model, ideal, layer_config=per_layer)
    assert seen == [("0", nn.Linear), ("2", nn.Linear), ("4", nn.Linear)]
    assert isinstance(hw[4], nn.Linear) and not isinstance(hw[4], xt.CrossbarLinear)
    assert hw[0].xbar_config.mode == "ideal" and hw[2].xbar_config.mode == "uncompensated"
    x = torch.rand(50, 6)
    xt.calibrate(hw, x)
    hw.eval()
    with torch.no_grad():
        h0 = torch.relu(hw[0](x))
        # The ideal layer is torch's product; the 3-bit layer is not, and the software layer is
        # torch's on whatever it is given.
        assert max_rel(h0, torch.relu(model[0](x))) < FLOAT32_REL
        h2 = torch.relu(hw[2](h0))
        assert max_rel(h2, torch.relu(model[2](h0))) > 1e-2
        assert torch.equal(hw[4](h2), model[4](h2))
    assert list(xt.statistics(hw)) == ["0", "2"]


def test_convert_to_digital_gives_back_torch_layers_with_the_weights():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    hw = xt.convert(model, xt.Config("ideal", **SMALL_TILES))
    back = xt.convert_to_digital(hw)
    assert isinstance(back[0], nn.Conv2d) and isinstance(back[2], nn.Linear)
    x = torch.rand(4, 1, 6, 6)
    with torch.no_grad():
        assert torch.equal(back(x), model(x))


def test_hardware_aware_training_lowers_the_hardware_loss():
    # A small regression on a chip with 3% stuck-on cells (no defect-aware pairs), 10%
    # programming variation and a 5-bit ADC: the same chip (seed) every step, so training
    # through it learns around its defects.
    torch.manual_seed(5)
    x = torch.rand(200, 12)
    w_true = torch.randn(12, 4)
    y = x @ w_true
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    cfg = xt.Config("uncompensated", tile_rows=12, tile_cols=32, r_row=1, r_col=1, stuck_on_rate=0.03,
                    variation="gaussian", variation_sigma=0.1, adc_bits=5, seed=7, threads=1)
    hw = xt.convert(model, cfg)
    xt.calibrate(hw, x)

    def hardware_loss():
        hw.eval()
        xt.reset_reads(hw)
        with torch.no_grad():
            return float(nn.functional.mse_loss(hw(x), y))

    before = hardware_loss()
    with xt.software(hw), torch.no_grad():
        software_loss = float(nn.functional.mse_loss(hw(x), y))
    hw.train()
    opt = torch.optim.Adam(hw.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.mse_loss(hw(x), y)
        loss.backward()
        opt.step()
    after = hardware_loss()
    assert before > 2 * software_loss  # the chip hurts
    assert after < 0.5 * before        # and training through it recovers at least half
