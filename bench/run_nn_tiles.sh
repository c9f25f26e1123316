#!/usr/bin/env bash
# Issue 21, point 4: networks at the tile sizes where IR drop matters. Trains the MLP and the
# CNN (as bench/run_nn.sh: 15 epochs plain; hardware-aware fine-tuning from the plain model, 3
# epochs, here at each tile size's partial sums), then evaluates the MLP at 256 x 256 and
# 512 x 512 tiles and the CNN at 256 x 240 and 400 x 240 (its largest layer, fc1, is 400 inputs
# x 120 outputs = 240 differential columns: 400 x 240 holds it in one tile, and xbar refuses
# tiles no layer can fill), 1 and 2.5 ohm per segment, with the non-idealities of README's 128 x 128
# table (5% programming variation, 1% stuck-at with defect-aware pairs, 8-bit ADC, seed 1),
# and prints software / uncompensated / compensated / compensated + HAT accuracy, the share of
# the lost accuracy the map recovers, and compensated / uncompensated evaluate time (each
# run's build + calibration + inference, measured side by side in one process). A reference
# run without wires (--r-row 0 --r-col 0, every other non-ideality kept) at each tile size
# separates what IR drop costs from what the devices and the ADC cost. Not part of CI.
# Usage: bench/run_nn_tiles.sh [build-dir] [out-dir] [subset]   (subset: first N test images,
#        default all 10,000; trained models and finished evaluations are reused)
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
b=${1:-build}
out=${2:-bench_nn_tiles}
subset=${3:-0}
mkdir -p "$out"
xbar="$b/xbar"
devices="--variation gaussian --variation-sigma 0.05 --stuck-on-rate 0.005 --stuck-off-rate 0.005 --adc-bits 8"
shapes_mlp="256x256 512x512"
shapes_cnn="256x240 400x240"
for m in mlp cnn; do
  [ -f "$out/$m/model.pt" ] || "$xbar" train --model $m --epochs 15 --seed 1 --threads 1 --out "$out/$m"
  shapes=shapes_$m
  for shape in ${!shapes}; do
    t=${shape%x*} c=${shape#*x}
    [ -f "$out/${m}_hat_$t/model.pt" ] || "$xbar" train --model $m --hat --init "$out/$m/model.pt" $devices \
        --defect-aware true --tile-rows $t --epochs 3 --lr 3e-4 --seed 2 --threads 1 --out "$out/${m}_hat_$t"
    tiles="--tile-rows $t --tile-cols $c"
    nw="$out/eval_${m}_${t}_nowires"
    [ -f "$nw/accuracy.json" ] || "$xbar" evaluate --model "$out/$m/model.pt" $tiles --r-row 0 --r-col 0 $devices \
        --defect-aware true --seed 1 --subset "$subset" --compensate false --tile-details false --out "$nw"
    for r in 1 2.5; do
      e="$out/eval_${m}_${t}_$r"
      [ -f "$e/accuracy.json" ] || "$xbar" evaluate --model "$out/$m/model.pt" --hat-model "$out/${m}_hat_$t/model.pt" \
          $tiles --r-row $r --r-col $r $devices --defect-aware true --seed 1 --subset "$subset" --tile-details true \
          --out "$e"
    done
  done
done
echo
echo "== accuracy (fractions of the test images) and compensated / uncompensated evaluate time"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def run_s(j, k):
    t = j["runs"][k]["times_s"]
    return t["build_s"] + t["calibration_s"] + t["inference_s"]
print("| model | tile | Ω | software | no wires | uncompensated | compensated | compensated + HAT | recovered: of all lost / of the IR-drop loss | time comp. / uncomp. |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
notes = []
shapes = {"mlp": ((256, 256), (512, 512)), "cnn": ((256, 240), (400, 240))}
for m in ("mlp", "cnn"):
    for t, c in shapes[m]:
        for r in ("1", "2.5"):
            j = json.load(open(f"{out}/eval_{m}_{t}_{r}/accuracy.json"))
            nw = json.load(open(f"{out}/eval_{m}_{t}_nowires/accuracy.json"))["uncompensated"]
            sw, un, co, hat = j["software"], j["uncompensated"], j["compensated"], j["hat"]
            def share(ref):
                return f"{(co - un) / (ref - un):.2f}" if ref - un > 0 else "-"
            tu, tc = run_s(j, "uncompensated"), run_s(j, "compensated")
            print(f"| {m.upper()} | {t}×{c} | {r} | {sw:.4f} | {nw:.4f} | {un:.4f} | {co:.4f} | {hat:.4f} | "
                  f"{share(sw)} / {share(nw)} | {tc:.0f} / {tu:.0f} s = {tc / tu:.1f}× |")
            images = j["test_images"]
            ls = j["runs"]["compensated"]["layers"]
            notes.append(f"{m} {t}x{c} {r} ohm: scales " + ", ".join(
                f"{l['layer']} {l['compensation']['scale_min']:.3f}-{l['compensation']['scale_max']:.3f}" for l in ls) +
                "; cells above g-max " + str(sum(l["compensation"]["needs_above_max"] for l in ls)) +
                ", below g-min " + str(sum(l["compensation"]["needs_below_min"] for l in ls)) +
                "; maps not converged " + str(sum(l["compensation"]["not_converged_tiles"] for l in ls)) + " of " +
                str(sum(l["tiles"] for l in ls)) + " tiles; exact T per map " +
                f"{sum(l['compensation']['iterations'] for l in ls) / sum(l['tiles'] for l in ls):.1f}")
print()
print(f"{images} test images per run")
for n in notes:
    print(n)
PY
