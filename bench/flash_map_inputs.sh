#!/usr/bin/env bash
# How far from its operating input a flash tile's compensation map holds (issue 18; README:
# Flash cells). Programs a network's tiles twice with `xbar program --cell flash` (map at
# --v-read and without it), then solves one tile of each with the wires for five inputs (every
# row at 0.2, 0.1 and 0.05 V; every other row at 0.2 V; the first quarter of the rows at 0.2 V)
# and compares the signed pair outputs I(2j) - I(2j+1), each tile's divided by its gain per
# weight (result.json; the compensated tile's includes the map's scale), with the uncompensated
# tile's programmed targets read without wires: the compensated tile as the network reads it,
# the uncompensated one also with the single gain that fits it best (least squares: the most
# any ADC gain could do).
# Errors as RMS and max over the outputs, relative to the largest ideal output. Not part of CI.
# Usage: bench/flash_map_inputs.sh [build-dir] [out-dir] [model.pt] [tile] [ohm]
#   defaults: build, bench_flash_map, bench_flash_nn/mlp/model.pt (bench/run_flash_nn.sh), 128, 10
#   (two `program` runs, about 10 + 1 min of CPU at 128 x 128, 10 ohm, for the MLP)
set -euo pipefail
b=${1:-build}
out=${2:-bench_flash_map}
model=${3:-bench_flash_nn/mlp/model.pt}
tile=${4:-128}
ohm=${5:-10}
xbar="$b/xbar"
mkdir -p "$out"
common=(--model "$model" --cell flash --tile-rows "$tile" --tile-cols "$tile" --r-row "$ohm" --r-col "$ohm" --seed 1)
[ -f "$out/comp/result.json" ] || "$xbar" program "${common[@]}" --compensate true --out "$out/comp"
[ -f "$out/uncomp/result.json" ] || "$xbar" program "${common[@]}" --compensate false --out "$out/uncomp"
# The first tile of the first layer (its thresholds: M x 2 outputs).
first=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tiles'][0]['file'])" "$out/comp/result.json")
python3 - "$out" "$first" <<'PY'
import numpy as np, sys
out, first = sys.argv[1], sys.argv[2]
m = np.load(f"{out}/comp/{first}").shape[0]
rows = np.arange(m)
np.save(f"{out}/v.npy", np.stack([np.full(m, 0.2), np.full(m, 0.1), np.full(m, 0.05),
                                  np.where(rows % 2 == 0, 0.2, 0.0), np.where(rows < m // 4, 0.2, 0.0)]))
PY
m=$(python3 -c "import numpy as np,sys; print(np.load(sys.argv[1]).shape[0])" "$out/comp/$first")
n=$(python3 -c "import numpy as np,sys; print(np.load(sys.argv[1]).shape[1])" "$out/comp/$first")
solve() { "$xbar" solve --cell flash --rows "$m" --cols "$n" --vth "$1" --r-row "$2" --r-col "$2" --v "$out/v.npy" \
              --out "$3" > /dev/null; }
solve "$out/comp/$first" "$ohm" "$out/solve_comp"
solve "$out/uncomp/$first" "$ohm" "$out/solve_uncomp"
solve "$out/uncomp/$first" 0 "$out/solve_ideal"
python3 - "$out" <<'PY'
import json, numpy as np, sys
out = sys.argv[1]
tile = lambda d: json.load(open(f"{out}/{d}/result.json"))["tiles"][0]
scale = tile("comp")["scale"]
# Each tile's outputs in weight units: divided by its gain per weight (siemens per unit weight;
# the compensated tile's includes the map's scale s and its lifted floor's smaller swing).
gain_comp, gain_uncomp = np.array(tile("comp")["gain_s_per_weight"]), np.array(tile("uncomp")["gain_s_per_weight"])
load = lambda d: np.load(f"{out}/{d}/currents.npy")
sig = lambda c: c[:, 0::2] - c[:, 1::2]
comp = sig(load("solve_comp")) / gain_comp
uncomp, ideal = sig(load("solve_uncomp")) / gain_uncomp, sig(load("solve_ideal")) / gain_uncomp
print(f"first tile, map scale {scale:.3f}; error of the signed outputs relative to the largest ideal output")
print("| input | compensated: RMS | max | uncompensated, best gain: RMS | max |")
print("|---|---:|---:|---:|---:|")
names = ["every row 0.2 V (the map's operating input)", "every row 0.1 V", "every row 0.05 V",
         "every other row 0.2 V", "first quarter of the rows 0.2 V"]
for k, name in enumerate(names):
    fs = np.abs(ideal[k]).max()
    ec = comp[k] - ideal[k]
    u = uncomp[k]
    eu = u * (u @ ideal[k]) / (u @ u) - ideal[k]
    rms = lambda e: np.sqrt(np.mean(e ** 2)) / fs
    print(f"| {name} | {rms(ec):.3f} | {np.abs(ec).max() / fs:.3f} | {rms(eu):.3f} | {np.abs(eu).max() / fs:.3f} |")
PY
