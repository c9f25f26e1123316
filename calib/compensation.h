// IR-drop compensation map: the conductances G' to program so that the array, wires and all,
// computes the intended product for every input v.
//
//   calib::CompensationOptions opt;               // device window, tolerance, scale
//   opt.scale_auto = opt.scale_per_column = true; // one gain per column (pair), see below
//   calib::Compensation c = calib::compensate(spec, g_target, opt, solver_options);
//   c.g_s            // M x N, every value inside [g_min, g_max]: program these
//   c.target_s       // what the array then computes: T(c.g_s) = c.target_s on reachable cells
//   c.column_scales  // s_j: divide column j's current by it (digitally, after the ADC)
//   c.status         // per cell: reachable, or needs more than g_max / less than g_min
//
// For a linear array the column currents are I = T(G')^T v exactly, so "right for every input"
// means T(G') = target, one equation per cell, with target_ij = s_j (G_ij + f_i,g(j)):
//   s_j   the column's gain: one global s (1 unless asked; --scale auto: the largest s <= 1 at
//         which every cell fits under g_max), or with scale_per_column one per column group
//         (differential pairs share theirs), each the largest that fits. The far columns of
//         a long line need the most compensation; with one global s they drag every column's
//         signal down, with per-column gains only their own.
//   f     the in-map floor (lift_groups): columns whose difference is the signal (a
//         differential pair, an offset tile's columns and reference) may share a per-row
//         offset f >= 0; it is raised, only where needed, until no cell of the group needs less
//         than g_min (a cell whose sneak current alone exceeds its target). The difference, the
//         signal, is unchanged.
// It is solved by one joint iteration (calib/linear_map.h): each step measures the exact T
// (solvers/port_reduction.h: one factorization, the analysis made once per map), chooses the
// scales and floors from it, and corrects the cheap decoupled-lines model of
// calib/line_model.h with it (projected defect correction, cells clipped to the window):
//
//   G'_{k+1} = clip( L^-1( L(G'_k) + target - T(G'_k) ) )
//
// Nonlinear cells: calib/nonlinear_compensation.h (the global scale only).
//
// Unreachable cells are never clipped silently: a cell at a bound whose exact current still
// misses its target is pinned there and reported in `status` and the counts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "calib/effective.h"
#include "devices/conductance_range.h"

namespace xbar::calib {

enum class CellStatus : uint8_t { kReachable = 0, kNeedsAboveMax = 1, kNeedsBelowMin = 2 };

struct CompensationOptions {
  devices::ConductanceRange range;  // the device window [g-min, g-max], siemens
  // Stop when max_ij |T_ij(G') - s G_ij| over the reachable cells is at most tol * max(s G)
  // [key comp-tol].
  double tol = 1e-6;
  int max_iterations = 100;  // [key comp-max-iterations]; slow cases stop earlier on a stall
  // Previous iterates mixed by Anderson acceleration, [key anderson-depth]; 0 = the method's
  // default (linear maps 4, nonlinear maps kNonlinearAndersonDepth).
  int anderson_depth = 0;
  double scale = 1.0;        // target scale s in (0, 1] (ignored with scale_auto)
  bool scale_auto = false;   // find the largest s <= 1 that fits under g_max
  // With scale_auto: one scale per column group instead of one for the array (linear cells).
  // The ADC side rescales each column digitally, so every column keeps the largest gain that
  // fits its own cells under g_max. Default false: one global s, as --scale auto always did.
  bool scale_per_column = false;
  // scale_per_column: the group of each column (N entries, ids >= 0; columns subtracted in
  // analog before the ADC, a differential pair, must share a group); empty = one group per
  // column.
  std::vector<int32_t> scale_groups;
  // In-map floor (linear cells): the lift group of each column (N entries, ids >= 0), or
  // empty for none. Per row and group the map adds the smallest common offset f >= 0 to the
  // group's targets that keeps every cell of the group above g_min (see the file comment);
  // only for columns whose signal is a difference within their group.
  std::vector<int32_t> lift_groups;
  // How each exact T of the map is computed [key effective-method]: auto (the port reduction
  // where the factor fits), port-reduction, or solves (min(M, N) solves: the referee).
  solvers::EffectiveMethod effective = solvers::EffectiveMethod::kAuto;
  // One line per iteration (may be empty).
  std::function<void(const std::string&)> progress;
  void validate() const;  // throws InputError naming the key
  // validate(), plus the group vectors against the array's column count.
  void validate(int64_t cols) const;
};

// The options that keep the most signal (the default of calibrate, size and evaluate): the
// scale searched, one per column group (scale_auto and scale_per_column), the rest default.
CompensationOptions per_column_compensation();

// The key `scale` of these options: "per-column", "auto" or the fixed s; and back (InputError
// naming the key for anything else). Parsing sets scale, scale_auto and scale_per_column.
std::string scale_key(const CompensationOptions& o);
void parse_scale_key(const std::string& value, CompensationOptions& o);

struct Compensation {
  RowMatrixXd g_s;        // M x N map to program, within [g_min, g_max]
  RowMatrixXd t;          // T(g_s): its exact effective matrix
  Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> status;  // CellStatus
  int64_t needs_above_max = 0, needs_below_min = 0;
  double scale = 1.0;              // s actually used (per column: the smallest column scale)
  std::vector<double> column_scales;  // N: s_j of every column (all equal without per-column)
  RowMatrixXd target_s;            // M x N: s_j (G_ij + f_ij), the target met on reachable cells
                                   // (linear cells; empty for a nonlinear map)
  int64_t lifted_cells = 0;        // cells whose target carries a floor f > 0
  double max_lift_s = 0;           // the largest floor f (siemens, before scaling)
  std::vector<double> scale_trials;  // --scale auto: each s tried, in order
  int iterations = 0;              // exact T evaluations (iterations), every scale trial together
  int64_t linear_solves = 0;
  bool converged = false;
  double residual_rel = 0;         // max |T - sG| over reachable cells / max(sG)
  std::vector<double> residual_history;  // per iteration (the last scale trial)
  double seconds = 0;
  std::string message;
};

// The mean of c.column_scales (c.scale when they are empty): the signal the map keeps on average.
double mean_column_scale(const Compensation& c);

Compensation compensate(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                        const CompensationOptions& options, const solvers::SolverOptions& solver);

}  // namespace xbar::calib
