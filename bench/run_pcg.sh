#!/usr/bin/env bash
# The PCG benchmark tables of bench/README.md (issue 8), one process per row so that each peak
# RSS belongs to its row, the largest runs one at a time:
#   1. CHOLMOD vs PCG on one input at 256^2 to 2048^2, PCG alone at 4096^2;
#   2. 1000-input batches at 256^2 (effective matrix) and 1024^2 (1000 direct solves);
#   3. the harsh case (1 mS cells, 10 ohm wires) at 256^2 to 1024^2;
#   4. the preconditioner choice: plain line preconditioner, additive and multiplicative coarse
#      term, iterations and time (PCG alone);
#   5. nonlinear (sinh) cells through the CLI, Newton with PCG or CHOLMOD inner solves.
# Usage: bench/run_pcg.sh [build-dir] [sections...]   e.g. bench/run_pcg.sh build 1 3
# All sections: about 25 minutes on 2 quiet cores; peak ~6 GB (CHOLMOD at 2048^2).
set -euo pipefail
b=${1:-build}
shift || true
sections=${*:-1 2 3 4 5}
load() { uptime | sed 's/.*load average: //'; }
echo "# $(date -u +%FT%TZ) load: $(load)"
for s in $sections; do
  case $s in
    1) for n in 256 512 1024 2048; do "$b"/pcg_vs_cholmod "$n"; done
       "$b"/pcg_vs_cholmod 4096 1 2.5 1e-4 none ;;
    2) for n in 256 1024; do "$b"/pcg_vs_cholmod "$n" 1000; done ;;
    3) for n in 256 512 1024; do "$b"/pcg_vs_cholmod "$n" 1 10 1e-3; done ;;
    4) for pre in plain add mult; do
         for n in 256 1024 2048; do "$b"/pcg_vs_cholmod "$n" 1 2.5 1e-4 none "$pre"; done
         for n in 256 1024; do "$b"/pcg_vs_cholmod "$n" 1 10 1e-3 none "$pre"; done
       done ;;
    5) d=$(mktemp -d)
       for n in 512 1024; do
         for be in pcg cholmod; do
           /usr/bin/time -f "%e s wall, %M KB peak" "$b"/xbar solve --rows "$n" --cols "$n" --cell sinh \
             --v-read 0.5 --backend "$be" --out "$d/$be$n" -q 2>&1 | tail -1 | sed "s/^/sinh $n $be: /"
           python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['solve']; print('  newton', s['newton']['iterations'], 'cg', s['cg']['iterations'], 'used', s['backend_used'])" "$d/$be$n/result.json"
         done
       done
       rm -rf "$d" ;;
  esac
  echo "# section $s done $(date -u +%FT%TZ) load: $(load)"
done
