// IR-drop compensation map: the conductances G' to program so that the array, wires and all,
// computes the intended product G^T v for every input v.
//
//   calib::CompensationOptions opt;               // device window, tolerance, scale
//   calib::Compensation c = calib::compensate(spec, g_target, opt, solver_options);
//   c.g_s        // M x N, every value inside [g_min, g_max]: program these
//   c.status     // per cell: reachable, or needs more than g_max / less than g_min
//
// For a linear array the column currents are I = T(G')^T v exactly, so "right for every input"
// means T(G') = s G, one equation per cell (s = the global target scale, 1 unless asked). It
// is solved by projected defect correction on the exact T (calib/fixed_point.h):
//
//   G'_{k+1} = clip( L^-1( L(G'_k) + s G - T(G'_k) ) )      (clip to [g_min, g_max])
//
// with L the decoupled-lines model of calib/line_model.h (row ladders, and each column a
// ladder whose shunts are the other cells), which captures the first-order coupling between
// cells that a per-cell secant step ignores: 5-10 iterations per map instead of the 40-400 of
// the plain fixed point G' <- G' s G / T(G'). Each iteration costs one factorization and
// min(M, N) solves. Nonlinear cells: calib/nonlinear_compensation.h.
//
// Unreachable cells are never clipped silently: a cell at a bound whose exact current still
// misses its target is pinned there and reported in `status` and the counts. `--scale auto`
// finds the largest s <= 1 for which every cell fits under g_max (the usual failure: far-end
// cells of a long line need more than g_max) by making s one more unknown of the same
// iteration: after each exact T, s is set where the model-corrected next iterate just reaches
// g_max (calib/fixed_point.h), so the map and its scale converge together (256^2, 1 ohm: 14
// iterations instead of the 98 of nested trials). Cells that would then need less than g_min
// (their sneak-path current alone exceeds the target) are reported as unreachable-low.
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
  int anderson_depth = 0;    // previous iterates mixed by Anderson acceleration; 0 = plain
  double scale = 1.0;        // target scale s in (0, 1] (ignored with scale_auto)
  bool scale_auto = false;   // find the largest s <= 1 that fits under g_max
  // One line per iteration (may be empty).
  std::function<void(const std::string&)> progress;
  void validate() const;  // throws InputError naming the key
};

struct Compensation {
  RowMatrixXd g_s;        // M x N map to program, within [g_min, g_max]
  RowMatrixXd t;          // T(g_s): its exact effective matrix
  Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> status;  // CellStatus
  int64_t needs_above_max = 0, needs_below_min = 0;
  double scale = 1.0;              // s actually used
  std::vector<double> scale_trials;  // --scale auto: each s tried, in order
  int iterations = 0;              // fixed-point iterations, every scale trial together
  int64_t linear_solves = 0;
  bool converged = false;
  double residual_rel = 0;         // max |T - sG| over reachable cells / max(sG)
  std::vector<double> residual_history;  // per iteration (the last scale trial)
  double seconds = 0;
  std::string message;
};

Compensation compensate(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                        const CompensationOptions& options, const solvers::SolverOptions& solver);

}  // namespace xbar::calib
