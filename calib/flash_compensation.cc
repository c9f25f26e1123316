#include "calib/flash_compensation.h"

#include <chrono>
#include <cmath>
#include <string>

#include "calib/fixed_point.h"
#include "calib/nonlinear_compensation.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

namespace {

// The scale search's trials stop a cell at 10 x g_max (fixed_point.h): with the default cell a
// threshold near -9 V, whose EKV terms (mA) keep the current's round-off far below Newton's
// 1 fA tolerance; at the 5000 x g_max an unbounded trial reached (-5557 V, 128 x 128 tile,
// 10 ohm wires) the round-off was 6e-14 A and the trial's Newton solve could not converge.
constexpr double kFlashTrialGMaxRatio = 10;

// Gate voltage of cell (i, j).
double gate_of(const devices::FlashCell& cell, Eigen::Index i, Eigen::Index j) {
  const devices::GateLines& g = *cell.gate_lines();
  return g.voltage(g.line_of(i, j));
}

// Every cell's own drain-to-source current in the array of thresholds vth at the input v_op.
RowMatrixXd cell_currents(const netlists::CrossbarSpec& spec, const RowMatrixXd& vth,
                          const std::shared_ptr<const devices::FlashCell>& cell, const Eigen::VectorXd& v_op,
                          const solvers::SolverOptions& solver, int64_t& newton_iterations) {
  const auto x = netlists::build_crossbar(spec, vth, cell);
  solvers::CrossbarSolveOptions opt;
  opt.solver = solver;
  opt.batch = solvers::BatchMethod::kDirect;
  opt.keep_voltages = true;
  solvers::CrossbarSolver xs(x, opt);
  const solvers::CrossbarSolution sol = xs.solve(RowMatrixXd(v_op.transpose()));
  newton_iterations += sol.summary.newton_iterations;
  const int64_t m = vth.rows(), n = vth.cols(), mn = m * n;
  const Eigen::VectorXd nodes = sol.all_node_voltages.col(0);  // r(i, j), then c(i, j), then gates
  RowMatrixXd i_cell(m, n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = i * n + j;
      i_cell(i, j) = cell->evaluate_gated(vth(i, j), nodes[k], gate_of(*cell, i, j), nodes[mn + k]).i_a;
    }
  return i_cell;
}

}  // namespace

RowMatrixXd flash_thresholds_for(const devices::FlashCell& cell, const RowMatrixXd& g_eq_s, double v_read_v) {
  cell.gate_lines()->validate(g_eq_s.rows(), g_eq_s.cols());
  RowMatrixXd vth(g_eq_s.rows(), g_eq_s.cols());
  for (Eigen::Index i = 0; i < g_eq_s.rows(); ++i)
    for (Eigen::Index j = 0; j < g_eq_s.cols(); ++j) {
      const double g = g_eq_s(i, j);
      if (!std::isfinite(g) || !(g > 0))
        throw InputError("flash conductance-equivalent target (" + std::to_string(i) + ", " + std::to_string(j) +
                         ") = " + format_number(g) + " S: must be finite and > 0 (it sets the cell's threshold)");
      vth(i, j) = cell.threshold_for_current(g * v_read_v, v_read_v, gate_of(cell, i, j));
    }
  return vth;
}

RowMatrixXd flash_conductance_equivalent(const devices::FlashCell& cell, const RowMatrixXd& vth_v, double v_read_v) {
  cell.gate_lines()->validate(vth_v.rows(), vth_v.cols());
  RowMatrixXd g(vth_v.rows(), vth_v.cols());
  for (Eigen::Index i = 0; i < vth_v.rows(); ++i)
    for (Eigen::Index j = 0; j < vth_v.cols(); ++j)
      g(i, j) = cell.evaluate_gated(vth_v(i, j), v_read_v, gate_of(cell, i, j), 0.0).i_a / v_read_v;
  return g;
}

Compensation compensate_flash(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                              std::shared_ptr<const devices::FlashCell> cell, const Eigen::VectorXd& v_op,
                              double v_read_v, const CompensationOptions& options,
                              const solvers::SolverOptions& solver) {
  options.validate();
  if (!(options.range.g_min_s > 0))
    throw InputError("key g-min = " + format_number(options.range.g_min_s) +
                     ": flash cells need g-min > 0 S (a conductance equivalent of 0 is an infinite threshold)");
  if (!(v_read_v > 0) || !std::isfinite(v_read_v))
    throw InputError("key v-read = " + format_number(v_read_v) + ": must be finite and > 0 V");
  const auto t0 = std::chrono::steady_clock::now();
  CompensationOptions o = options;
  if (o.anderson_depth == 0) o.anderson_depth = kNonlinearAndersonDepth;
  const double hi = o.range.g_max_s;
  require_in_window(g_target_s, o.range);
  const int64_t m = g_target_s.rows(), n = g_target_s.cols();
  if (v_op.size() != m)
    throw InputError("operating input has " + std::to_string(v_op.size()) + " voltages, expected rows = " +
                     std::to_string(m));
  // Wire-free cell currents of the target thresholds at v_op: the per-cell target at scale 1.
  const RowMatrixXd vth_target = flash_thresholds_for(*cell, g_target_s, v_read_v);
  RowMatrixXd i_ideal(m, n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      i_ideal(i, j) = cell->evaluate_gated(vth_target(i, j), v_op[i], gate_of(*cell, i, j), 0.0).i_a;
  int64_t newton_iterations = 0;
  FixedPointProblem p;
  p.measured_name = "I_cell(v_op)";
  p.trial_g_max_ratio = kFlashTrialGMaxRatio;
  RowMatrixXd target;
  p.measure = [&](const RowMatrixXd& g, double& seconds) {
    const auto t = std::chrono::steady_clock::now();
    RowMatrixXd ic = cell_currents(spec, flash_thresholds_for(*cell, g, v_read_v), cell, v_op, solver,
                                   newton_iterations);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    return ic;
  };
  p.propose = [&](const RowMatrixXd& g, const RowMatrixXd& ic, const std::vector<uint8_t>&) {
    RowMatrixXd next(m, n);
    for (Eigen::Index k = 0; k < next.size(); ++k) {
      const double gk = g.data()[k], ik = ic.data()[k], tk = target.data()[k];
      // A cell carrying no current (no voltage across it) gets its target back.
      next.data()[k] = ik > 0 ? gk * tk / ik : g_target_s.data()[k];
    }
    return next;
  };
  p.solves = [&] { return newton_iterations; };
  auto target_at = [&](double s) {
    target = s * i_ideal;
    return target;
  };
  auto start_at = [&](double s) -> RowMatrixXd { return s * g_target_s; };
  double s0 = 1.0;
  int extra = 0;
  if (o.scale_auto) {
    // Below the root: where the uncompensated attenuation a = I / I_ideal would just fit,
    // s0 = min_ij g_max a_ij / G_ij.
    double seconds = 0;
    const RowMatrixXd ic = p.measure(g_target_s, seconds);
    extra = 1;
    for (Eigen::Index k = 0; k < ic.size(); ++k)
      if (ic.data()[k] > 0 && i_ideal.data()[k] > 0)
        s0 = std::min(s0, hi * ic.data()[k] / (i_ideal.data()[k] * g_target_s.data()[k]));
  }
  const int64_t before = newton_iterations;
  Compensation c = solve_compensation(p, target_at, start_at, s0, o, t0);
  c.iterations += extra;
  c.linear_solves += before;
  c.message += " (flash cells: every cell's current matched at the operating input; map in conductance equivalents)";
  return c;
}

}  // namespace xbar::calib
