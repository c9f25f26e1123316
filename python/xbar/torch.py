"""xbar.torch: a PyTorch model's Linear, Conv1d and Conv2d layers on programmed crossbar tiles.

::

    import xbar.torch as xt
    cfg = xt.Config("compensated", tile_rows=128, tile_cols=128, r_row=2.5, r_col=2.5,
                    variation="gaussian", variation_sigma=0.05, adc_bits=8, seed=1)
    hw = xt.convert(model, cfg)            # a copy; its crossbar layers programmed and solved
    xt.calibrate(hw, calibration_inputs)   # DAC full scale per layer, ADC range per tile
    logits = hw(x)                         # every Linear/Conv product from the tiles
    xt.statistics(hw)                      # per layer: tiles, scales, stuck cells, clipping

The hardware is the one of ``xbar evaluate`` (engine/nn/hardware_layer.h), built by the same
C++ code with the same keys (:class:`Config` takes any hardware key of ``xbar evaluate``, ``_``
for ``-``): the weights mapped onto tiles, programmed with their non-idealities, optionally
through the IR-drop compensation map, each tile's exact effective matrix (or Newton for
nonlinear cells), DAC, read noise and ADC. Everything else in the model (activations,
normalisation, attention's softmax, pooling, residual additions, the bias) runs in torch.

Crossbar units: every mapped layer in ``model.named_modules()`` order is one unit, a grouped
convolution one unit per group; unit ``l`` programs its tile ``k`` with seed
``derive_seed(derive_seed(seed, l), k)``, as ``xbar evaluate`` does for its MVM layer ``l``.
Read noise: each forward call of the converted model takes the next evaluation batches (100
images each) of the noise streams, so the same model, configuration and seed, fed the same
images in batches that are multiples of 100 (:func:`predict` does), gives the predictions
``xbar evaluate --model`` gives for its TorchScript file.

Convolutions are lowered by im2col (``torch.nn.functional.unfold``; the receptive field in
PyTorch's (c, ky, kx) weight order is one crossbar read). Any stride, padding (numbers,
``'same'``, ``'valid'``, every ``padding_mode``: the padding is digital), dilation, groups and
bias. Layers xbar does not map (``Conv3d``, transposed convolutions, ``nn.MultiheadAttention``,
recurrent layers, ``Bilinear``) raise :class:`xbar.InputError` naming the layer; ``exclude``
keeps named layers or types in software.

Hardware-aware training: in training mode a converted layer returns the hardware's output with
the software layer's gradient (``y = x W + (hw(x) - x W).detach()``); when the weights changed
since the tiles were programmed (an optimizer step), the tiles are programmed again with the new
weights (the same chip: same seed, same defects) before the next product, every
``reprogram_every`` steps (between programmings, the last hardware error is carried over:
``y = x W + (hw_last(x) - x W_last).detach()``).
"""

import copy
import json
import math
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import _xbar

from . import InputError, _arguments, _call, _Workspace

__all__ = ["Config", "convert", "convert_to_digital", "calibrate", "predict", "statistics", "software",
           "CrossbarLinear", "CrossbarConv1d", "CrossbarConv2d", "MODES"]

MODES = ("ideal", "uncompensated", "compensated")
EVAL_BATCH_IMAGES = _xbar.EVAL_BATCH_IMAGES
CALIBRATION_BATCH_BASE = _xbar.CALIBRATION_BATCH_BASE

# Keys of `xbar evaluate` that are not about the hardware (the data, the model file, outputs).
_NOT_HARDWARE = {"help", "config", "out", "quiet", "model", "hat-model", "data-dir", "data", "subset",
                 "calib-images", "compensate", "tile-details", "input-shape"}

# Layers with matrix products xbar does not map, and why.
_REFUSED = [
    (nn.MultiheadAttention, "nn.MultiheadAttention computes its projections functionally from its own weight "
                            "tensors, not through Linear modules; write the attention with nn.Linear "
                            "projections (as python/examples/vit.py does) or exclude the layer"),
    (nn.Conv3d, "3-d convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
    (nn.ConvTranspose1d, "transposed convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
    (nn.ConvTranspose2d, "transposed convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
    (nn.ConvTranspose3d, "transposed convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
    (nn.RNNBase, "recurrent layers (RNN, LSTM, GRU) are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
    (nn.Bilinear, "bilinear layers are not mapped onto tiles (Linear, Conv1d and Conv2d are)"),
]


class Config:
    """The hardware of a converted model: ``mode`` (ideal | uncompensated | compensated) and any
    hardware key of ``xbar evaluate`` (tiles, encoding, device window, programming
    non-idealities, wires, cell, DAC/ADC, read noise, compensation, back end, ``seed``,
    ``threads``), checked now as the command line checks them. ``hardware`` is what
    accuracy.json records under "hardware"."""

    def __init__(self, mode="compensated", **keys):
        if mode not in MODES:
            raise InputError("key mode = '%s': expected ideal, uncompensated or compensated" % mode)
        for k, v in keys.items():
            name = k.replace("_", "-")
            if name in _NOT_HARDWARE:
                raise InputError("key %s: not a hardware key (xbar.torch.Config takes the tiles' keys of xbar "
                                 "evaluate; the model and the data are yours)" % name)
            if isinstance(v, np.ndarray):
                raise InputError("key %s: an array is not a hardware key's value" % name)
        self.mode = mode
        self.keys = dict(keys)
        with _Workspace() as ws:
            self.args = _arguments("evaluate", self.keys, ws)
            self.hardware = json.loads(_call(ws, _xbar.hardware_config, self.args))

    @property
    def seed(self):
        return self.hardware["seed"]

    @property
    def threads(self):
        return self.hardware["threads"]

    def replace(self, mode=None, **keys):
        """A copy with `mode` and `keys` changed."""
        k = dict(self.keys)
        k.update(keys)
        return Config(mode or self.mode, **k)

    def __repr__(self):
        return "xbar.torch.Config(%r, %s)" % (self.mode, ", ".join("%s=%r" % kv for kv in self.keys.items()))


class _Context:
    """What the converted layers of one model share: the phase (hardware, software calibration
    pass, ADC calibration pass), the read-noise batch counter and the images of the current
    forward call."""

    def __init__(self):
        self.phase = "hardware"
        self.next_batch = 0
        self.images = None      # images of the forward call in progress (the root's first input)
        self.first_batch = 0
        self.layers = []        # the CrossbarModules, unit order

    def begin(self, module, args):
        x = args[0] if args else None
        images = int(x.shape[0]) if isinstance(x, torch.Tensor) and x.dim() > 0 else 1
        self.images = images
        self.first_batch = self.next_batch
        self.next_batch += max(1, math.ceil(images / EVAL_BATCH_IMAGES))

    def end(self, module, args, output):
        self.images = None

    def batch_of(self, rows):
        """(images, first batch) for a product of `rows` reads."""
        if self.images is not None and rows % self.images == 0:
            return self.images, self.first_batch
        # Called outside the model's forward, or rows that are not whole images: every row its
        # own image, batches from the counter.
        first = self.next_batch
        self.next_batch += max(1, math.ceil(rows / EVAL_BATCH_IMAGES))
        return rows, first


def _numpy64(t):
    return t.detach().to(torch.float64).contiguous().numpy()


class _CrossbarModule(nn.Module):
    """Common part of the converted layers: the weights (trainable, as the digital layer's), the
    C++ layers (one per group) and the phase logic."""

    def _init_crossbar(self, name, config, ctx, unit, reprogram_every, resample=False):
        self.xbar_name = name
        self.xbar_config = config
        self.reprogram_every = reprogram_every
        self.resample = resample
        self._programmings = 0
        self._ctx = ctx
        self._units = list(range(unit, unit + self._groups()))
        self._layers = [_xbar.Layer(self._unit_name(k), self._matrix(k), config.args, config.mode, u)
                        for k, u in enumerate(self._units)]
        self._programmed = (self.weight._version, self.weight.detach().clone())
        self._steps_since_programming = 0
        ctx.layers.append(self)

    def _unit_name(self, k):
        return self.xbar_name if self._groups() == 1 else "%s.group%d" % (self.xbar_name, k)

    def _groups(self):
        return 1

    def _matrix(self, k, weight=None):
        """The crossbar matrix of group k: fan_in x fan_out, float64."""
        raise NotImplementedError

    def _software(self, x, weight):
        raise NotImplementedError

    def _group_inputs(self, x):
        """[(rows x fan_in) per group], and what _assemble needs."""
        raise NotImplementedError

    def _assemble(self, products, info):
        raise NotImplementedError

    def _run(self, x, calibrating):
        rows_per_group, info = self._group_inputs(x)
        products = []
        for layer, rows in zip(self._layers, rows_per_group):
            images, first = self._ctx.batch_of(rows.shape[0]) if rows.shape[0] else (1, 0)
            if calibrating:  # the calibration pass counts its batches from 0 (calibrate)
                first += CALIBRATION_BATCH_BASE
            # float32 rows go as they are (widened exactly, batch by batch, in C++), others as float64
            r = rows.detach().contiguous()
            r = r.numpy() if r.dtype == torch.float32 else r.to(torch.float64).numpy()
            y = layer.mvm(r, images, first, calibrating)
            products.append(torch.from_numpy(y).to(x.dtype))
        return self._assemble(products, info)

    def _maybe_reprogram(self):
        version, _ = self._programmed
        if self.weight._version == version:
            return
        self._steps_since_programming += 1
        if self._steps_since_programming < self.reprogram_every:
            return
        w = self.weight.detach().clone()
        self._programmings += 1
        # resample: programming p of the fine-tuning on the chip of seed + p (a new chip each time)
        seed = self.xbar_config.seed + self._programmings if self.resample else None
        for k, layer in enumerate(self._layers):
            layer.reprogram(self._matrix(k, w), seed)
        self._programmed = (self.weight._version, w)
        self._steps_since_programming = 0

    def forward(self, x):
        phase = self._ctx.phase
        if phase == "software":
            with torch.no_grad():
                rows_per_group, _ = self._group_inputs(x)
                for layer, rows in zip(self._layers, rows_per_group):
                    if rows.numel():
                        layer.observe_input_max(float(rows.max()))
            return self._software(x, self.weight)
        if phase == "digital":
            return self._software(x, self.weight)
        calibrating = phase == "calibrate"
        if self.training and torch.is_grad_enabled() and not calibrating:
            # Hardware-aware training: the hardware's value, the software layer's gradient.
            self._maybe_reprogram()
            with torch.no_grad():
                hw = self._run(x, False)
                _, w_programmed = self._programmed
                ref = self._software(x, w_programmed)
            return self._software(x, self.weight) + (hw - ref).detach()
        with torch.no_grad():
            return self._run(x, calibrating)

    def statistics(self, per_tile=False):
        """Per C++ layer (one per group): tiles, scales, stuck cells, clipping, times (dicts)."""
        return [json.loads(layer.summary(per_tile)) for layer in self._layers]

    @property
    def tiles(self):
        return sum(layer.tiles for layer in self._layers)


class CrossbarLinear(_CrossbarModule):
    """nn.Linear on crossbar tiles: y = hw(x W^T) + b, any leading dimensions."""

    def __init__(self, digital, name, config, ctx, unit, reprogram_every=1, resample=False):
        super().__init__()
        self.in_features, self.out_features = digital.in_features, digital.out_features
        self.weight = digital.weight
        self.bias = digital.bias
        self._init_crossbar(name, config, ctx, unit, reprogram_every, resample)

    def _matrix(self, k, weight=None):
        w = self.weight if weight is None else weight
        return _numpy64(w).T

    def _software(self, x, weight):
        return F.linear(x, weight, self.bias)

    def _group_inputs(self, x):
        return [x.reshape(-1, self.in_features)], x.shape[:-1]

    def _assemble(self, products, lead):
        y = products[0].reshape(*lead, self.out_features)
        return y + self.bias if self.bias is not None else y

    def to_digital(self):
        m = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        m.weight, m.bias = self.weight, self.bias
        return m

    def extra_repr(self):
        return "%s, in=%d, out=%d, tiles=%d, mode=%s" % (self.xbar_name, self.in_features, self.out_features,
                                                         self.tiles, self.xbar_config.mode)


class _CrossbarConv(_CrossbarModule):
    """Shared by Conv1d and Conv2d: im2col through F.unfold (2-d; a 1-d convolution is a 2-d one
    of height 1), one C++ layer per group."""

    _digital_type = None

    def __init__(self, digital, name, config, ctx, unit, reprogram_every=1, resample=False):
        super().__init__()
        for a in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                  "padding_mode", "_reversed_padding_repeated_twice"):
            setattr(self, a, getattr(digital, a))
        self.weight = digital.weight
        self.bias = digital.bias
        self._init_crossbar(name, config, ctx, unit, reprogram_every, resample)

    def _groups(self):
        return self.groups

    def _matrix(self, k, weight=None):
        w = self.weight if weight is None else weight
        og = self.out_channels // self.groups
        wk = w[k * og:(k + 1) * og]
        return _numpy64(wk.reshape(og, -1)).T

    def _as2d(self, v, one):
        return (one,) + tuple(v) if self._digital_type is nn.Conv1d else tuple(v)

    def _group_inputs(self, x):
        x4 = x.unsqueeze(2) if self._digital_type is nn.Conv1d else x
        x4, pad = self._pad_2d(x4)
        b = x4.shape[0]
        k2 = self._as2d(self.kernel_size, 1)
        s2 = self._as2d(self.stride, 1)
        d2 = self._as2d(self.dilation, 1)
        p2 = pad if isinstance(pad, tuple) else (pad, pad)
        cols = F.unfold(x4, k2, dilation=d2, padding=p2, stride=s2)  # B x (C k k) x L
        h_out = (x4.shape[2] + 2 * p2[0] - d2[0] * (k2[0] - 1) - 1) // s2[0] + 1
        w_out = (x4.shape[3] + 2 * p2[1] - d2[1] * (k2[1] - 1) - 1) // s2[1] + 1
        fan_in = (self.in_channels // self.groups) * k2[0] * k2[1]
        rows = []
        for k in range(self.groups):
            ck = cols[:, k * fan_in:(k + 1) * fan_in, :]
            rows.append(ck.transpose(1, 2).reshape(-1, fan_in))
        return rows, (b, h_out, w_out)

    def _pad_2d(self, x4):
        if isinstance(self.padding, str) or self.padding_mode != "zeros":
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            if self._digital_type is nn.Conv1d:
                # F.pad of a 1-d convolution's (left, right) on the last dimension of (B, C, 1, L).
                x4 = F.pad(x4.squeeze(2), self._reversed_padding_repeated_twice, mode=mode).unsqueeze(2)
            else:
                x4 = F.pad(x4, self._reversed_padding_repeated_twice, mode=mode)
            return x4, (0, 0)
        return x4, self._as2d(self.padding, 0)

    def _assemble(self, products, info):
        b, h_out, w_out = info
        og = self.out_channels // self.groups
        y = torch.cat([p.reshape(b, h_out * w_out, og).transpose(1, 2) for p in products], dim=1)
        y = y.reshape(b, self.out_channels, h_out, w_out)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y.squeeze(2) if self._digital_type is nn.Conv1d else y

    def _software(self, x, weight):
        conv = F.conv1d if self._digital_type is nn.Conv1d else F.conv2d
        if self.padding_mode != "zeros":
            return conv(F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode), weight, self.bias,
                        self.stride, 0, self.dilation, self.groups)
        return conv(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def to_digital(self):
        m = self._digital_type(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                               padding=self.padding, dilation=self.dilation, groups=self.groups,
                               bias=self.bias is not None, padding_mode=self.padding_mode)
        m.weight, m.bias = self.weight, self.bias
        return m

    def extra_repr(self):
        return "%s, %d -> %d, kernel=%s, stride=%s, padding=%s, dilation=%s, groups=%d, tiles=%d, mode=%s" % (
            self.xbar_name, self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
            self.dilation, self.groups, self.tiles, self.xbar_config.mode)


class CrossbarConv1d(_CrossbarConv):
    """nn.Conv1d on crossbar tiles."""
    _digital_type = nn.Conv1d


class CrossbarConv2d(_CrossbarConv):
    """nn.Conv2d on crossbar tiles."""
    _digital_type = nn.Conv2d


_CONVERSIONS = {nn.Linear: CrossbarLinear, nn.Conv1d: CrossbarConv1d, nn.Conv2d: CrossbarConv2d}


def _conversion_of(module):
    """The crossbar class of a module that computes as nn.Linear / Conv1d / Conv2d do (the class
    or a subclass that keeps its forward), else None."""
    for digital, crossbar in _CONVERSIONS.items():
        if isinstance(module, digital) and type(module).forward is digital.forward:
            return crossbar
    return None


def _excluded(name, module, exclude):
    for e in exclude:
        if isinstance(e, type):
            if isinstance(module, e):
                return True
        elif name == e or name.startswith(e + "."):
            return True
    return False


def _set_submodule(root, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def convert(model, config, exclude=(), layer_config=None, inplace=False, reprogram_every=1, resample=False,
            verbose=False):
    """A copy of `model` (the model itself with ``inplace=True``) whose Linear, Conv1d and Conv2d
    layers run on crossbar tiles programmed as `config` says, every tile programmed and solved
    now (on ``config.threads`` threads; ``verbose`` prints progress to stderr).

    exclude: layer names (a name excludes its sublayers too) or module types kept in software.
    layer_config: ``fn(name, module) -> Config or None`` gives a layer its own hardware (None: kept
    in software), as aihwkit's ``specific_rpu_config_fun``.
    reprogram_every: hardware-aware training programs the tiles again after this many optimizer
    steps (1: after every step).
    resample: each programming of the training draws a new chip (seed + 1, + 2, ...) instead of
    programming the same chip again (the default: fine-tuning for one chip's defects).

    Raises xbar.InputError naming a layer xbar cannot map. Calibrate (:func:`calibrate`) before
    running it on hardware."""
    if not isinstance(model, nn.Module):
        raise InputError("convert: expected a torch.nn.Module, got %s" % type(model).__name__)
    if not isinstance(config, Config):
        raise InputError("convert: config must be an xbar.torch.Config, got %s" % type(config).__name__)
    if isinstance(exclude, (str, type)):
        exclude = (exclude,)
    if reprogram_every < 1:
        raise InputError("convert: reprogram_every = %r: must be >= 1" % reprogram_every)
    m = model if inplace else copy.deepcopy(model)
    ctx = _Context()
    unit = 0
    replacements = []
    for name, module in m.named_modules():
        if _excluded(name, module, exclude) or any(name.startswith(r + ".") for r, _ in replacements):
            continue
        if isinstance(module, _CrossbarModule):
            raise InputError("layer %s: already converted (convert_to_digital first)" % (name or "<model>"))
        for kind, why in _REFUSED:
            if isinstance(module, kind):
                raise InputError("layer %s (%s): %s" % (name or "<model>", type(module).__name__, why))
        crossbar = _conversion_of(module)
        if crossbar is None:
            continue
        if isinstance(module.weight, nn.parameter.UninitializedParameter):
            raise InputError("layer %s (%s): its weights are not initialised yet (run the model once)" %
                             (name, type(module).__name__))
        cfg = layer_config(name, module) if layer_config is not None else config
        if cfg is None:
            continue
        if not isinstance(cfg, Config):
            raise InputError("layer %s: layer_config returned %s, expected an xbar.torch.Config or None" %
                             (name, type(cfg).__name__))
        new = crossbar(module, name, cfg, ctx, unit, reprogram_every, resample)
        unit += new._groups()
        replacements.append((name, new))
    if not replacements:
        raise InputError("convert: the model has no Linear, Conv1d or Conv2d layer to map (after exclude)")
    for name, new in replacements:
        if name == "":
            m = new
        else:
            _set_submodule(m, name, new)
    m.register_forward_pre_hook(ctx.begin)
    m.register_forward_hook(ctx.end)
    m._xbar_context = ctx
    layers = [layer for c in ctx.layers for layer in c._layers]
    threads = max(c.xbar_config.threads for c in ctx.layers)
    ctx.build_seconds = _xbar.build(layers, threads, verbose)
    return m


def _context(model):
    ctx = getattr(model, "_xbar_context", None)
    if ctx is None:
        raise InputError("not a model from xbar.torch.convert")
    return ctx


@contextmanager
def _phase(ctx, phase):
    old = ctx.phase
    ctx.phase = phase
    try:
        yield
    finally:
        ctx.phase = old


def calibrate(model, inputs):
    """The DAC full scale of every crossbar layer (the largest input it sees in software on
    `inputs`) and the ADC range of every tile (the largest |signed current| on them, ADC
    bypassed), as ``xbar evaluate`` does with its calibration images. `inputs`: a tensor of
    images (the first dimension) or an iterable of such batches. Runs the model in eval mode."""
    ctx = _context(model)
    batches = [inputs] if isinstance(inputs, torch.Tensor) else list(inputs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            with _phase(ctx, "software"):
                for b in batches:
                    model(b)
            for c in ctx.layers:
                for layer in c._layers:
                    layer.finish_input_calibration()
            saved = ctx.next_batch
            ctx.next_batch = 0
            with _phase(ctx, "calibrate"):
                for b in batches:
                    model(b)
            ctx.next_batch = saved
            for c in ctx.layers:
                for layer in c._layers:
                    layer.finish_adc_calibration()
    finally:
        model.train(was_training)


def reset_reads(model, first_batch=0):
    """Restarts the read-noise batch counter (the next forward reads batch `first_batch`)."""
    _context(model).next_batch = first_batch


@contextmanager
def software(model):
    """Within this block the converted layers compute in software (torch, the current weights)."""
    with _phase(_context(model), "digital"):
        yield


def predict(model, inputs, batch_size=1000):
    """Class predictions (the largest of each row of the N x classes output) of `inputs`, in eval mode
    and batches of `batch_size` images (a multiple of 100, so that the read-noise batches are
    those of ``xbar evaluate``), starting at read-noise batch 0."""
    if batch_size < 1 or batch_size % EVAL_BATCH_IMAGES:
        raise InputError("predict: batch_size = %r: must be a positive multiple of %d" % (batch_size, EVAL_BATCH_IMAGES))
    was_training = model.training
    model.eval()
    reset_reads(model)
    out = []
    try:
        with torch.no_grad():
            for first in range(0, inputs.shape[0], batch_size):
                y = model(inputs[first:first + batch_size])
                if y.dim() != 2:
                    raise InputError("predict: the model's output has shape %s, expected N x classes" % tuple(y.shape))
                out.append(y.argmax(1))
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def statistics(model, per_tile=False):
    """Per crossbar layer (name -> dict): mode, tiles, weights shape, DAC full scale and counts,
    ADC counts (clipping), stuck cells, compensation scales and unreachable cells, times;
    a grouped convolution gives a list of such dicts under "groups"."""
    ctx = _context(model)
    r = {}
    for c in ctx.layers:
        s = c.statistics(per_tile)
        r[c.xbar_name] = s[0] if len(s) == 1 else {"groups": s}
    return r


def convert_to_digital(model):
    """A copy of a converted model with plain torch layers (the current weights) again."""
    # The C++ layers are not copied (they hold programmed tiles); the copy has none.
    memo = {}
    for module in model.modules():
        if isinstance(module, _CrossbarModule):
            for layer in module._layers:
                memo[id(layer)] = None
    m = copy.deepcopy(model, memo)
    ctx = getattr(m, "_xbar_context", None)
    for name, module in list(m.named_modules()):
        if isinstance(module, _CrossbarModule):
            if name == "":
                return module.to_digital()
            _set_submodule(m, name, module.to_digital())
    if ctx is not None:
        del m._xbar_context
        m._forward_pre_hooks.clear()
        m._forward_hooks.clear()
    return m
