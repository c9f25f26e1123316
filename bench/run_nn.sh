#!/usr/bin/env bash
# Issue 6's benchmark: trains the MLP and the CNN on the full Fashion-MNIST training set (plain,
# then hardware-aware fine-tuning from the plain model), evaluates both on the full 10,000-image
# test set at 128 x 128 tiles, 2.5 ohm per segment, 5% programming variation, 1% stuck-at
# (0.5% on + 0.5% off), 8-bit ADC, with and without defect-aware pairs, and times software vs
# hardware evaluation side by side. Not part of CI.
# Usage: bench/run_nn.sh [build-dir] [out-dir]   (1-2 hours on 2 cores; trained models are reused)
set -euo pipefail
# libtorch's and CHOLMOD's OpenMP threads spin-wait by default: on a shared host that costs
# 10-30x on HAT training (bench/README.md); passive waiting costs nothing on a quiet one.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
b=${1:-build}
out=${2:-bench_nn}
mkdir -p "$out"
xbar="$b/xbar"
# The hardware of the table (evaluate) and the same non-idealities injected by HAT (train).
devices="--variation gaussian --variation-sigma 0.05 --stuck-on-rate 0.005 --stuck-off-rate 0.005 --adc-bits 8"
hardware="--tile-rows 128 --tile-cols 128 --r-row 2.5 --r-col 2.5 $devices --seed 1 --tile-details false"
for m in mlp cnn; do
  [ -f "$out/$m/model.pt" ] || "$xbar" train --model $m --epochs 15 --seed 1 --out "$out/$m"
  [ -f "$out/${m}_hat/model.pt" ] || "$xbar" train --model $m --hat --init "$out/$m/model.pt" $devices \
      --defect-aware true --tile-rows 128 --epochs 3 --lr 3e-4 --seed 2 --out "$out/${m}_hat"
  for da in true false; do
    [ -f "$out/eval_${m}_da_$da/accuracy.json" ] || "$xbar" evaluate --model "$out/$m/model.pt" \
        --hat-model "$out/${m}_hat/model.pt" $hardware --defect-aware $da --out "$out/eval_${m}_da_$da"
  done
done
echo
echo "== accuracy (fractions of the 10,000 test images; in brackets: relative to software)"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| model | defect-aware pairs | software | ideal | uncompensated | compensated | compensated + HAT |")
print("|---|---|---:|---:|---:|---:|---:|")
for m in ("mlp", "cnn"):
    for da in ("true", "false"):
        j = json.load(open(f"{out}/eval_{m}_da_{da}/accuracy.json"))
        sw = j["software"]
        cells = [f"{sw:.4f}"] + [f"{j[k]:.4f} ({j[k] / sw:.3f})" for k in ("ideal", "uncompensated", "compensated", "hat")]
        print(f"| {m.upper()} | {'yes' if da == 'true' else 'no'} | " + " | ".join(cells) + " |")
for m in ("mlp", "cnn"):
    j = json.load(open(f"{out}/eval_{m}_da_true/accuracy.json"))
    t = j["timing"]
    print(f"{m}: HAT model software accuracy {j['hat_model']['software_accuracy']:.4f}; ideal == software on "
          f"every image: {j['ideal_matches_software']}; compensation scales per layer: " +
          ", ".join(f"{l['layer']} {l['compensation']['scale_min']:.3f}-{l['compensation']['scale_max']:.3f}"
                    for l in j["runs"]["compensated"]["layers"]) +
          f"; total evaluate {j['times_s']['total_s']:.0f} s")
PY
echo
echo "== evaluation time, software vs hardware (linear cells), full test set"
for m in mlp cnn; do "$b"/nn_timing "$out/$m/model.pt" --repeats 3; done
