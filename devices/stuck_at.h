// Stuck-at defects: cells that ignore programming, pinned at the ON rail (g_max_s, e.g. a
// filament that cannot be ruptured) or the OFF rail (g_min_s, e.g. a cell that never forms).
//
//   devices::StuckAtOptions opt;
//   opt.stuck_on_rate = 0.01; opt.stuck_off_rate = 0.02;          // or:
//   opt.mask = devices::stuck_mask_from_values(npy_values, "mask.npy");
//   devices::StuckMask m = devices::place_stuck_cells(rows, cols, opt, seed);
//   devices::StuckCounts c = devices::apply_stuck_cells(g, m, range);
//
// Rates: each cell independently, one uniform u per cell from stage_seed(seed,
// SeedStage::kStuckAt), row-major order: stuck-on if u < stuck_on_rate, else stuck-off if
// u < stuck_on_rate + stuck_off_rate, else healthy. So every cell is stuck-on with probability
// exactly stuck_on_rate and stuck-off with probability stuck_off_rate (to 2^-53), the counts are
// multinomial, and raising a rate only adds defects: the defect set at a lower rate is a subset
// of the set at a higher rate with the same seed (useful for sweeps over the rate).
// Mask: an M x N matrix of 0 = healthy, 1 = stuck-on, 2 = stuck-off (cell_state.h), e.g. a
// measured defect map; rates and mask are exclusive.
#pragma once

#include <cstdint>
#include <string>

#include "devices/cell_state.h"
#include "devices/conductance_range.h"
#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

struct StuckAtOptions {
  // Probability that a cell is stuck at g_max_s [key stuck-on-rate], in [0, 1]. Reported
  // RRAM arrays show 0.1 .. 2 %. Default 0: defects are something the user asks for.
  double stuck_on_rate = 0.0;
  // Probability that a cell is stuck at g_min_s [key stuck-off-rate], in [0, 1]; the two rates
  // sum to at most 1. Default 0.
  double stuck_off_rate = 0.0;
  // Defect map [key stuck-mask]: M x N, values as CellState, from stuck_mask_from_values().
  // 0 x 0 = not given. Giving a mask and a non-zero rate is an error.
  StuckMask mask;
  // Where the mask came from (the .npy path), for messages; "" when filled in code.
  std::string mask_source;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  bool uses_mask() const { return mask.size() > 0; }
  bool enabled() const { return uses_mask() || stuck_on_rate > 0 || stuck_off_rate > 0; }
};

struct StuckCounts {
  int64_t stuck_on = 0;   // cells pinned at g_max_s
  int64_t stuck_off = 0;  // cells pinned at g_min_s
};

// Converts the values of a mask file (doubles, as every .npy is read) to a StuckMask. Throws
// xbar::InputError "key stuck-mask <source>: element (i, j) = v: must be 0 (healthy),
// 1 (stuck-on) or 2 (stuck-off)" for the first element (row-major) that is not exactly one of
// those, NaN included.
StuckMask stuck_mask_from_values(const RowMatrix& values, const std::string& source);

// The defect map of a rows x cols array: options.mask itself (its shape must match, else
// InputError naming stuck-mask and both shapes), or cells drawn at the rates from `seed` (the
// user seed; the stage stream is derived from it). All healthy when neither is given.
StuckMask place_stuck_cells(int64_t rows, int64_t cols, const StuckAtOptions& options,
                            uint64_t seed);

StuckCounts count_stuck_cells(const StuckMask& mask);

// Sets stuck-on cells to range.g_max_s and stuck-off cells to range.g_min_s; returns the counts.
StuckCounts apply_stuck_cells(RowMatrix& g_s, const StuckMask& mask, const ConductanceRange& range);

}  // namespace xbar::devices
