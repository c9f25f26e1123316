#include "calib/compensation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "calib/fixed_point.h"
#include "calib/line_model.h"

namespace xbar::calib {

void CompensationOptions::validate() const {
  range.validate();
  if (!(tol > 0) || !std::isfinite(tol))
    throw InputError("key comp-tol = " + format_number(tol) + ": must be finite and > 0");
  if (max_iterations < 1)
    throw InputError("key comp-max-iterations = " + std::to_string(max_iterations) + ": must be >= 1");
  if (anderson_depth < 0 || anderson_depth > 50)
    throw InputError("key anderson-depth = " + std::to_string(anderson_depth) + ": must be in [0, 50]");
  if (!scale_auto && !(scale > 0 && scale <= 1))
    throw InputError("key scale = " + format_number(scale) + ": must be in (0, 1], or auto");
}

Compensation compensate(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                        const CompensationOptions& o, const solvers::SolverOptions& solver) {
  o.validate();
  const auto t0 = std::chrono::steady_clock::now();
  const double lo = o.range.g_min_s, hi = o.range.g_max_s;
  require_in_window(g_target_s, o.range);
  // The exact T corrected through the decoupled-lines model: the projected defect correction
  // P(G') = clip(L^-1(L(G') + sG - T(G'))). The model is asked for the currents it would need
  // to get right so that the exact array gets them right. A pinned cell enters the row ladders
  // with the current it actually carries (its model current), not the one it would want, or
  // the other cells on its row are solved against a current that never flows.
  const LineModel model(spec);
  int64_t solves = 0;
  FixedPointProblem p;
  RowMatrixXd target;  // of the run in progress (propose needs it)
  p.measure = [&](const RowMatrixXd& g, double& seconds) {
    Effective e = effective_matrix(spec, g, solver);
    solves += e.summary.linear_solves;
    seconds = e.seconds;
    return std::move(e.t);
  };
  p.propose = [&](const RowMatrixXd& g, const RowMatrixXd& t, const std::vector<uint8_t>& pin) {
    const RowMatrixXd lx = model.forward(g);
    RowMatrixXd want = lx + target - t;
    for (Eigen::Index k = 0; k < want.size(); ++k)
      if (pin[size_t(k)]) want.data()[k] = lx.data()[k];
    return model.inverse(want, g);
  };
  p.solves = [&] { return solves; };
  // The step at another scale, pinning as run_fixed_point would at that scale (a cell held at
  // g_min carries more current than the model's wish, which its row neighbours must see).
  p.predict = [&](double s, const RowMatrixXd& g, const RowMatrixXd& t) {
    std::vector<uint8_t> pin(size_t(g.size()), 0);
    RowMatrixXd tgt = s * g_target_s;
    for (Eigen::Index k = 0; k < g.size(); ++k) {
      const double x = g.data()[k], tk = t.data()[k], gk = tgt.data()[k];
      pin[size_t(k)] = (x >= hi && tk < gk) || (x <= lo && tk > gk);
    }
    std::swap(target, tgt);
    RowMatrixXd next = p.propose(g, t, pin);
    std::swap(target, tgt);
    return next;
  };
  auto target_at = [&](double s) {
    target = s * g_target_s;
    return target;
  };
  auto start_at = [&](double s) -> RowMatrixXd { return model.inverse(s * g_target_s, s * g_target_s); };
  // --scale auto starts below the root, at the scale where the uncompensated attenuation
  // a = T(G) / G would just fit: s0 = min_ij g_max a_ij / G_ij (attenuation only improves as
  // s shrinks).
  double s0 = 1.0;
  int extra_iterations = 0;
  if (o.scale_auto) {
    double seconds = 0;
    const RowMatrixXd t0g = p.measure(g_target_s, seconds);
    extra_iterations = 1;
    for (Eigen::Index k = 0; k < g_target_s.size(); ++k)
      if (g_target_s.data()[k] > 0 && t0g.data()[k] > 0)
        s0 = std::min(s0, hi * t0g.data()[k] / (g_target_s.data()[k] * g_target_s.data()[k]));
  }
  const int64_t solves_before = solves;
  Compensation c = solve_compensation(p, target_at, start_at, s0, o, t0);
  c.iterations += extra_iterations;
  c.linear_solves += solves_before;
  return c;
}

}  // namespace xbar::calib
