// Finite conductance levels: a multi-level cell can only be programmed to a few discrete
// conductances. A target is snapped to the nearest level before programming variation acts.
//
//   devices::LevelOptions opt;
//   opt.levels = 16;                                    // or: opt.table_s = read_level_table(path)
//   devices::ConductanceLevels lv = devices::make_levels(opt, range);
//   double g = lv.snap(target_s);                       // nearest level
//   std::vector<int64_t> occupancy = lv.snap_in_place(g_matrix);
//
// Contract:
//   - Uniform levels: `levels` = L >= 2 conductances g_k = g_min + k (g_max - g_min) / (L - 1),
//     k = 0 .. L-1, both ends included (the last is exactly g_max). levels = 0 is continuous:
//     nothing is snapped.
//   - A level table replaces the uniform levels: any sorted list of distinct conductances inside
//     the device range (read_level_table() sorts it and rejects duplicates).
//   - Snapping picks the nearest level; a target exactly halfway between two levels goes to the
//     lower one (a deterministic rule; the programming algorithm would approach from below).
//     Targets outside [first, last] snap to the end levels. Targets must be finite.
//   - Occupancy: how many cells were snapped to each level, index-aligned with levels_s().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/cell_state.h"
#include "devices/conductance_range.h"
#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

// Upper bound of `levels` and of a level table's length. 2^20 levels is far past any device
// (multi-level RRAM and PCM reach 2^4 .. 2^8) and already indistinguishable from continuous in
// double precision over a 100x window; the bound keeps the table and the occupancy counts small.
constexpr int64_t kMaxLevels = int64_t(1) << 20;

struct LevelOptions {
  // Number of uniformly spaced levels in [g_min_s, g_max_s], both ends included [key levels];
  // 0 = continuous (no snapping), otherwise 2 .. kMaxLevels. Default 0: the ideal device, so
  // quantization is something the user asks for.
  int64_t levels = 0;
  // Level table [key level-table]: the conductances of a measured multi-level cell, siemens,
  // sorted ascending and distinct, as returned by read_level_table(). Empty = not given. When
  // given it replaces uniform levels (giving both is an error), and make_levels() checks that
  // every level lies in the device range.
  std::vector<double> table_s;
  // Where table_s came from (the CSV path), for messages; "" when filled in code.
  std::string table_source;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
};

// Reads a level table: one conductance in siemens per row (CSV with a single column).
//   - '#' starts a comment to the end of the line; blank lines are skipped; '\r' is ignored.
//   - The first data row may be a header: it is taken as one only if it starts with a letter
//     or a quote and is not a number (so a mistyped "1e-6x" or an "inf" is an error, not a
//     header).
//   - A trailing empty field ("1e-6,") is accepted; two values on one row are an error.
//   - Every value must be finite and >= 0. The result is sorted ascending; two equal values
//     are an error naming both lines. An empty table is an error.
// Throws xbar::InputError "path:line: what is wrong" (or "path: ..." when no line applies).
std::vector<double> read_level_table(const std::string& path);

class ConductanceLevels {
 public:
  // Continuous: no levels, snap() is the identity.
  ConductanceLevels() = default;
  // L >= 2 uniform levels over the range (see the contract above).
  static ConductanceLevels uniform(int64_t count, const ConductanceRange& range);
  // A sorted list of distinct levels (asserts; read_level_table() provides one).
  static ConductanceLevels from_table(std::vector<double> levels_s);

  bool continuous() const { return levels_s_.empty(); }
  int64_t count() const { return int64_t(levels_s_.size()); }
  const std::vector<double>& levels_s() const { return levels_s_; }
  // Index of the nearest level (ties go to the lower one). Asserts !continuous().
  int64_t nearest_index(double g_s) const;
  // The nearest level; g_s itself when continuous.
  double snap(double g_s) const { return continuous() ? g_s : levels_s_[nearest_index(g_s)]; }
  // Snaps every cell not pinned by `pinned` (nullptr = all cells) in place; returns how many
  // cells went to each level (index-aligned with levels_s(); empty when continuous).
  std::vector<int64_t> snap_in_place(RowMatrix& g_s, const StuckMask* pinned = nullptr) const;

 private:
  std::vector<double> levels_s_;
};

// Builds the levels an options struct asks for: the table, uniform levels, or continuous.
// Validates `options` and `range`, and throws xbar::InputError naming the table source and the
// level when a table level lies outside [range.g_min_s, range.g_max_s].
ConductanceLevels make_levels(const LevelOptions& options, const ConductanceRange& range);

}  // namespace xbar::devices
