#!/usr/bin/env bash
# The PCG benchmark table of bench/README.md (issue 8): PCG vs CHOLMOD on one input at 256^2 to
# 2048^2, PCG alone at 4096^2, 1000-input batches at 256^2 and 1024^2, and the harsh case
# (1 mS cells, 10 ohm wires). One process per row, so each peak RSS belongs to its row.
# Usage: bench/run_pcg.sh [build-dir]   (about 15 minutes on 2 cores, peak ~6 GB at 2048^2)
set -euo pipefail
b=${1:-build}
echo "# $(date -u +%FT%TZ) load: $(uptime | sed 's/.*load average: //')"
for s in 256 512 1024 2048; do "$b"/pcg_vs_cholmod "$s"; done
"$b"/pcg_vs_cholmod 4096 1 2.5 1e-4 none
for s in 256 1024; do "$b"/pcg_vs_cholmod "$s" 1000; done
for s in 256 512 1024; do "$b"/pcg_vs_cholmod "$s" 1 10 1e-3; done
echo "# done $(date -u +%FT%TZ) load: $(uptime | sed 's/.*load average: //')"
