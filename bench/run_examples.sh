#!/usr/bin/env bash
# The examples of issue 19 end to end: trains the Vision Transformer and the ResNet of
# python/examples/ on Fashion-MNIST with Debian's python3-torch, fine-tunes each for the hardware
# through xbar.torch, saves both as TorchScript and evaluates them with `xbar evaluate` at the
# configuration of README's accuracy table, printing one table row per model (README, "Bring
# your own network").
#
#   bench/run_examples.sh BUILD_DIR OUT_DIR [vit] [resnet]
#
# Writes OUT_DIR/NAME/{NAME.pt, NAME_hat.pt, NAME_train.json, ev/accuracy.json, train.log,
# evaluate.log}. Times on the 2-core machine: README.
set -euo pipefail
build=${1:?usage: bench/run_examples.sh BUILD_DIR OUT_DIR [vit] [resnet]}
out=${2:?usage: bench/run_examples.sh BUILD_DIR OUT_DIR [vit] [resnet]}
shift 2
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(vit resnet)
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
export PYTHONPATH="$here/python:$build/python${PYTHONPATH:+:$PYTHONPATH}"
export OMP_WAIT_POLICY=passive

# README's table: 128 x 128 tiles, 2.5 ohm per segment, 5% Gaussian programming variation, 0.5%
# stuck at g-max and 0.5% at g-min with defect-aware pairs, 8-bit ADC, [1 uS, 100 uS], seed 1.
table=(--tile-rows 128 --tile-cols 128 --r-row 2.5 --r-col 2.5 --variation gaussian --variation-sigma 0.05
       --stuck-on-rate 0.005 --stuck-off-rate 0.005 --adc-bits 8 --g-min 1e-6 --g-max 1e-4 --defect-aware true
       --seed 1 --threads 2)

for m in "${models[@]}"; do
  mkdir -p "$out/$m"
  if [ ! -f "$out/$m/${m}_hat.pt" ]; then
    /usr/bin/time -v /usr/bin/python3 "$here/python/examples/$m.py" --out "$out/$m" 2>&1 | tee "$out/$m/train.log"
  fi
  /usr/bin/time -v "$build/xbar" evaluate --model "$out/$m/$m.pt" --hat-model "$out/$m/${m}_hat.pt" "${table[@]}" \
    --out "$out/$m/ev" 2>&1 | tee "$out/$m/evaluate.log"
done

/usr/bin/python3 - "$out" "${models[@]}" <<'EOF'
import json, sys
out = sys.argv[1]
print("| model | software | ideal | uncompensated | compensated | compensated + HAT |")
print("|---|---:|---:|---:|---:|---:|")
for m in sys.argv[2:]:
    j = json.load(open("%s/%s/ev/accuracy.json" % (out, m)))
    s = j["software"]
    cells = ["%.4f" % s] + ["%.4f (%.3f)" % (j[k], j[k] / s) for k in ("ideal", "uncompensated", "compensated", "hat")]
    print("| %s | %s |" % (m, " | ".join(cells)))
    t = json.load(open("%s/%s/%s_train.json" % (out, m, m)))
    print("  %s: ideal == software on every image: %s; hat model software %.4f; training %d epochs %.0f s, "
          "HAT %d epoch(s) on %d images %.0f s; evaluate %.0f s" %
          (m, j["ideal_matches_software"], j["hat_model"]["software_accuracy"], t["args"]["epochs"], t["train_s"],
           t["args"]["hat_epochs"], t["args"]["hat_train_subset"], t.get("hat_s", 0), j["times_s"]["total_s"]),
          file=sys.stderr)
EOF
