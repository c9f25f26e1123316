// Weight programming: target conductances -> the conductances a real array ends up with, for
// `xbar program` (DESIGN.md: quantization, fluctuation and fixed-defect non-idealities).
//
//   devices::ProgrammingOptions opt;                 // every field from its CLI key
//   opt.seed = 7; opt.levels.levels = 16;
//   opt.variation.model = devices::VariationModel::kGaussian; opt.variation.relative_sigma = 0.05;
//   opt.stuck.stuck_on_rate = 0.001;
//   devices::ProgrammingResult r = devices::program_conductances(g_target, opt);
//   write r.g_s (g_programmed.npy); serialise r.stats and opt into result.json
//
// Order of the stages (each acts on the output of the one before):
//   0. targets outside [g_min_s, g_max_s] are clipped into the window (counted: a compensation
//      map may ask for more than the device can give);
//   1. stuck-at defects from the mask or the rates (stuck_at.h): those cells go to the rails
//      and no later stage touches them;
//   2. every healthy cell is snapped to the nearest conductance level (conductance_levels.h),
//      which is what a write-verify loop aims at;
//   3. programming variation around that level, clipped to the window (programming_variation.h);
//   4. drift from t0 to drift-time (drift.h), not clipped.
// Read noise (read_noise.h) and DAC/ADC quantization (quantizer.h) act at read time, not here.
//
// Seeds: one user seed; each random stage draws from its own stream
// stage_seed(seed, SeedStage::k...) = splitmix64(seed XOR splitmix64(stage)) (random_stream.h),
// one draw per cell in row-major order whether or not the cell is stuck. Hence changing one
// stage's options never changes another stage's draws, and a (seed, options) pair reproduces
// g_s bit for bit on the same platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/cell_state.h"
#include "devices/conductance_levels.h"
#include "devices/conductance_range.h"
#include "devices/drift.h"
#include "devices/programming_variation.h"
#include "support/random_array.h"
#include "devices/stuck_at.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

struct ProgrammingOptions {
  // User seed [key seed], any 64-bit value; every stage stream derives from it and it is
  // reported in ProgrammingStats. 1 is the CLI-wide default seed.
  uint64_t seed = 1;
  // Device window [keys g-min, g-max].
  ConductanceRange range;
  // Stuck-at defects [keys stuck-on-rate, stuck-off-rate, stuck-mask].
  StuckAtOptions stuck;
  // Conductance levels [keys levels, level-table].
  LevelOptions levels;
  // Programming variation [keys variation, variation-sigma, variation-sigma-s].
  VariationOptions variation;
  // Drift [keys drift-time, drift-t0, drift-nu, drift-nu-sigma].
  DriftOptions drift;

  // Validates every part and the cross-checks (a level table inside the window). Throws
  // xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
};

// Everything result.json should report about one programming run, what was asked (the options
// are serialised next to it) and what was realised. Plain fields: devices/ does not know JSON.
struct ProgrammingStats {
  uint64_t seed = 0;  // the user seed used
  int64_t rows = 0;
  int64_t cols = 0;
  // Stage 0: targets outside the window, clipped into it.
  int64_t targets_clipped_low = 0;
  int64_t targets_clipped_high = 0;
  // Stage 1: "none", "rates" or "mask", and the defects placed.
  std::string stuck_source = "none";
  StuckCounts stuck;
  // Stage 2: levels available (0 = continuous), how many hold at least one healthy cell, the
  // level conductances (siemens) and the healthy cells snapped to each (index-aligned).
  int64_t levels_available = 0;
  int64_t levels_used = 0;
  std::vector<double> levels_s;
  std::vector<int64_t> level_occupancy;
  // Stage 3: clip counts and the realised relative programming error (G' - level) / level.
  VariationStats variation;
  // Stage 4: devices drifted, nu clipped at 0, realised mean nu and mean decay factor.
  DriftStats drift;
  // End to end: (g_programmed - target) / target over every cell with target > 0, stuck cells
  // included: the error a user of the array sees from all programming non-idealities together.
  int64_t total_rel_error_cells = 0;
  double total_rel_error_mean = 0.0;
  double total_rel_error_sigma = 0.0;
  // Realised extremes of g_programmed, siemens.
  double g_programmed_min_s = 0.0;
  double g_programmed_max_s = 0.0;
  // One line for the console, e.g. "programmed 64 x 64 (seed 1): 4 stuck-on, ...".
  std::string message;
};

struct ProgrammingResult {
  RowMatrix g_s;         // programmed conductances, siemens, M x N
  StuckMask stuck_mask;  // the defect map used (CellState values), M x N
  ProgrammingStats stats;
};

// Runs the stages above on `target_s` (M x N siemens, M, N >= 1, each finite and >= 0).
// Throws xbar::InputError for bad options, a bad target element ("target conductance (i, j) =
// v: ...") or a mask of the wrong shape.
ProgrammingResult program_conductances(const RowMatrix& target_s,
                                       const ProgrammingOptions& options);

}  // namespace xbar::devices
