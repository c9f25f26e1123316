#!/usr/bin/env bash
# Issue 18's accuracy rows: the MLP and the CNN on tiles of flash cells. Trains both models
# (plain, then hardware-aware fine-tuning with the flash tiles' verify spread and ADC), then
# `xbar evaluate --cell flash` at 64 x 64 tiles, 2.5 ohm per segment (rows and source lines),
# the default flash cell (beta 100 uA/V^2, n 1.5, 300 K, word lines per row at 1.8 V),
# program-verify with the default options (1 mV +- 0.2 mV pulses, 2% verify tolerance at the
# 0.2 V read), device window 1-100 uS in conductance equivalents, 8-bit ADC, seed 1, on the
# first 200 test images with 50 calibration images: every read of a flash tile is a Newton
# solve (README: Flash cells). Not part of CI.
# Usage: bench/run_flash_nn.sh [build-dir] [out-dir] [tile] [ohm] [models]
#   tile (default 64): tile-rows = tile-cols; ohm (default 2.5): r-row = r-col per segment;
#   models (default "mlp cnn"). Evaluations other than 64 / 2.5 go to flash_<model>_<tile>_<ohm>.
#   (about 15 min of CPU per model for the evaluation at 64 / 2.5; trained models and finished
#   evaluations are reused; the HAT models are fine-tuned for the tile's rows: <model>_hat for
#   64, <model>_hat_<tile> otherwise)
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
b=${1:-build}
out=${2:-bench_flash_nn}
tile=${3:-64}
ohm=${4:-2.5}
models=${5:-mlp cnn}
suffix=""
[ "$tile" = 64 ] && [ "$ohm" = 2.5 ] || suffix="_${tile}_${ohm}"
mkdir -p "$out"
xbar="$b/xbar"
hardware="--cell flash --tile-rows $tile --tile-cols $tile --r-row $ohm --r-col $ohm --adc-bits 8 --subset 200 \
--calib-images 50 --seed 1 --tile-details false"
for m in $models; do
  [ -f "$out/$m/model.pt" ] || "$xbar" train --model $m --epochs 15 --seed 1 --quiet --out "$out/$m"
  hat="${m}_hat"
  [ "$tile" = 64 ] || hat="${m}_hat_$tile"
  [ -f "$out/$hat/model.pt" ] || "$xbar" train --model $m --hat --init "$out/$m/model.pt" --variation gaussian \
      --variation-sigma 0.02 --adc-bits 8 --tile-rows "$tile" --epochs 3 --lr 3e-4 --seed 2 --quiet --out "$out/$hat"
  [ -f "$out/flash_$m$suffix/accuracy.json" ] || { uptime; /usr/bin/time -f "$m: %e s wall, %U s user, %M KB" \
      "$xbar" evaluate --model "$out/$m/model.pt" --hat-model "$out/$hat/model.pt" $hardware \
      --out "$out/flash_$m$suffix"; uptime; }
done
echo
echo "== $tile x $tile tiles, $ohm ohm: accuracy on the first 200 test images (in brackets: relative to software)"
python3 - "$out" "$suffix" $models <<'PY'
import json, sys
out, suffix, models = sys.argv[1], sys.argv[2], sys.argv[3:]
print("| model | software | ideal | uncompensated | compensated | compensated + HAT |")
print("|---|---:|---:|---:|---:|---:|")
for m in models:
    j = json.load(open(f"{out}/flash_{m}{suffix}/accuracy.json"))
    sw = j["software"]
    cells = [f"{sw:.3f}"] + [f"{j[k]:.3f} ({j[k] / sw:.3f})" for k in ("ideal", "uncompensated", "compensated", "hat")]
    print(f"| {m.upper()} | " + " | ".join(cells) + " |")
for m in models:
    j = json.load(open(f"{out}/flash_{m}{suffix}/accuracy.json"))
    runs = j["runs"]
    failed = sum(l["flash"]["program"]["failed"] for r in ("uncompensated", "compensated") for l in runs[r]["layers"])
    print(f"{m}: HAT model software {j['hat_model']['software_accuracy']:.3f}; cells failing verify {failed}; "
          "compensation scales " + ", ".join(f"{l['layer']} {l['compensation']['scale_min']:.2f}-"
                                             f"{l['compensation']['scale_max']:.2f}" for l in runs["compensated"]["layers"]) +
          "; build/calibration/inference s: " + "; ".join(
              f"{r} {runs[r]['times_s']['build_s']:.0f}/{runs[r]['times_s']['calibration_s']:.0f}/"
              f"{runs[r]['times_s']['inference_s']:.0f}" for r in ("uncompensated", "compensated", "hat")) +
          f"; total {j['times_s']['total_s']:.0f} s")
PY
