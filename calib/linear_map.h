// The compensation map of a linear array (internal to calib/; the API is compensation.h): one
// joint iteration for the conductances, the column scales and the in-map floors.
//
//   Compensation c = internal::compensate_linear(spec, g_target, options, solver, t0);
//
// Every iteration costs one exact effective matrix T (EffectiveEvaluator: the port
// reduction's numeric factorization, its analysis made once) and a few O(MN) passes of the
// decoupled-lines model (line_model.h):
//   1. T = T(G'_k), exact;
//   2. floors: a cell of a lift group held at g_min that still over-delivers raises its row's
//      offset f of the group to the current it carries (plus kLiftMargin), so that it becomes
//      reachable; floors only rise;
//   3. scales (auto): per scale group, the largest s <= 1 at which the model-corrected next
//      iterate just reaches g_max (1 - kHeadroom): log-secant steps on s, each one model
//      inverse, the groups together (they share rows);
//   4. pins: a cell at g_max that under-delivers, or at g_min that over-delivers, is
//      reported and held (decided on the exact T, never on the model);
//   5. the defect correction G'_{k+1} = clip(L^-1(L(G'_k) + target - T)), optionally mixed by
//      Anderson acceleration.
// It stops at the tolerance, the iteration cap, or a stall (no halving of the residual in
// kStall iterations). The scales and floors converge with the map: at the fixed point the
// model's prediction is the exact T.
#pragma once

#include <chrono>

#include "calib/compensation.h"

namespace xbar::calib::internal {

Compensation compensate_linear(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                               const CompensationOptions& options, const solvers::SolverOptions& solver,
                               std::chrono::steady_clock::time_point t0);

}  // namespace xbar::calib::internal
