#!/usr/bin/env bash
# Issue 21, point 4 with the map cache (engine/nn/map_cache.h): compensated / uncompensated
# evaluate time of one configuration run four times in a row -- without a cache, with an empty
# cache (the maps are built and stored), with the filled cache (every map loaded), and with it
# at another programming seed and ADC resolution (read-time keys: the maps are the same).
# Prints, per run, each mode's accuracy, its time (build + calibration + inference, from
# accuracy.json) and the exact T its maps took, then the whole-process wall time. Not part of CI.
# Usage: bench/map_cache_runs.sh [build-dir] [out-dir] [model.pt] [hat-model.pt] [tile] [ohm] [subset]
#   (defaults: build, bench_map_cache, bench_nn_tiles/mlp/model.pt and mlp_hat_256/model.pt as
#   bench/run_nn_tiles.sh trains them, 256, 2.5, 0 = all 10,000 test images; the devices of
#   bench/run_nn_tiles.sh: 5% programming variation, 0.5% stuck on and off with defect-aware
#   pairs, 8-bit ADC)
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
b=${1:-build}
out=${2:-bench_map_cache}
model=${3:-bench_nn_tiles/mlp/model.pt}
hat=${4:-bench_nn_tiles/mlp_hat_256/model.pt}
tile=${5:-256}
ohm=${6:-2.5}
subset=${7:-0}
for f in "$model" "$hat"; do
  [ -f "$f" ] || { echo "map_cache_runs.sh: '$f' does not exist (bench/run_nn_tiles.sh trains it)" >&2; exit 2; }
done
rm -rf "$out"
mkdir -p "$out"
devices="--variation gaussian --variation-sigma 0.05 --stuck-on-rate 0.005 --stuck-off-rate 0.005 --defect-aware true"
common="--model $model --hat-model $hat --tile-rows $tile --tile-cols $tile --r-row $ohm --r-col $ohm $devices
        --subset $subset --tile-details true --quiet"
run() {  # name, extra keys
  local name=$1
  shift
  /usr/bin/time -f "%e" -o "$out/$name.wall" "$b/xbar" evaluate $common "$@" --out "$out/$name"
}
uptime
run no_cache --seed 1 --adc-bits 8
run first --seed 1 --adc-bits 8 --map-cache "$out/cache"
run again --seed 1 --adc-bits 8 --map-cache "$out/cache"
run seed2_adc6 --seed 2 --adc-bits 6 --map-cache "$out/cache"
uptime
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| run | uncompensated | compensated | HAT | exact T in maps (comp. + HAT) | maps loaded | comp. / uncomp. time | whole process |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ("no_cache", "first", "again", "seed2_adc6"):
    j = json.load(open(f"{out}/{name}/accuracy.json"))
    def t(k):
        s = j["runs"][k]["times_s"]
        return s["build_s"] + s["calibration_s"] + s["inference_s"]
    def comp(k, field):
        return sum(l.get("compensation", {}).get(field, 0) for l in j["runs"][k]["layers"])
    acc = {k: j["runs"][k]["accuracy"] for k in ("uncompensated", "compensated", "hat")}
    wall = float(open(f"{out}/{name}.wall").read().split()[-1])
    print(f"| {name} | {acc['uncompensated']:.4f}, {t('uncompensated'):.2f} s | {acc['compensated']:.4f}, "
          f"{t('compensated'):.2f} s | {acc['hat']:.4f}, {t('hat'):.2f} s | "
          f"{comp('compensated', 'iterations')} + {comp('hat', 'iterations')} | "
          f"{comp('compensated', 'maps_from_cache') + comp('hat', 'maps_from_cache')} | "
          f"{t('compensated') / t('uncompensated'):.2f}x | {wall:.1f} s |")
PY
du -sh "$out/cache"
