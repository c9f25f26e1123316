#include "calib/nonlinear_compensation.h"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "calib/fixed_point.h"
#include "support/format.h"
#include "support/input_error.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"

namespace xbar::calib {

RowMatrixXd wire_free_currents(const devices::CellModel& cell, const RowMatrixXd& g_s, const RowMatrixXd& v) {
  const Eigen::Index m = g_s.rows(), n = g_s.cols(), k = v.rows();
  RowMatrixXd out = RowMatrixXd::Zero(k, n);
  // A three-terminal cell (flash) reads with its gate at its own line's voltage.
  const devices::GateLines* gates = cell.gate_lines();
  if (gates) gates->validate(m, n);
  for (Eigen::Index q = 0; q < k; ++q)
    for (Eigen::Index i = 0; i < m; ++i) {
      const double vi = v(q, i);
      for (Eigen::Index j = 0; j < n; ++j)
        out(q, j) += gates ? cell.evaluate_gated(g_s(i, j), vi, gates->voltage(gates->line_of(i, j)), 0.0).i_a
                           : cell.evaluate(g_s(i, j), vi).i_a;
    }
  return out;
}

RowMatrixXd array_currents(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           std::shared_ptr<const devices::CellModel> cell, const RowMatrixXd& v,
                           const solvers::SolverOptions& solver, solvers::SolveSummary* summary) {
  const auto x = netlists::build_crossbar(spec, g_s, std::move(cell));
  solvers::CrossbarSolveOptions opt;
  opt.solver = solver;
  opt.batch = solvers::BatchMethod::kDirect;
  solvers::CrossbarSolver xs(x, opt);
  solvers::CrossbarSolution sol = xs.solve(v);
  if (summary) *summary = sol.summary;
  return std::move(sol.currents);
}

namespace {

// Every cell's own current (row node to column node) in the array with conductances g at the
// single input v_op.
RowMatrixXd cell_currents(const netlists::CrossbarSpec& spec, const RowMatrixXd& g,
                          const std::shared_ptr<const devices::CellModel>& cell, const Eigen::VectorXd& v_op,
                          const solvers::SolverOptions& solver, int64_t& newton_iterations) {
  const auto x = netlists::build_crossbar(spec, g, cell);
  solvers::CrossbarSolveOptions opt;
  opt.solver = solver;
  opt.batch = solvers::BatchMethod::kDirect;
  opt.keep_voltages = true;
  solvers::CrossbarSolver xs(x, opt);
  const solvers::CrossbarSolution sol = xs.solve(RowMatrixXd(v_op.transpose()));
  newton_iterations += sol.summary.newton_iterations;
  const int64_t m = g.rows(), n = g.cols(), mn = m * n;
  RowMatrixXd i_cell(m, n);
  const Eigen::VectorXd nodes = sol.all_node_voltages.col(0);
  const bool access = cell->access_transistor() != nullptr;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = i * n + j;
      const double vr = nodes[k];
      // 1t1r: the memory element between r(i,j) and m(i,j) (node 2MN + k) is linear.
      i_cell(i, j) = access ? g(i, j) * (vr - nodes[2 * mn + k]) : cell->evaluate(g(i, j), vr - nodes[mn + k]).i_a;
    }
  return i_cell;
}

}  // namespace

Compensation compensate_nonlinear(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                                  std::shared_ptr<const devices::CellModel> cell,
                                  const Eigen::VectorXd& v_op, const CompensationOptions& options,
                                  const solvers::SolverOptions& solver) {
  options.validate(g_target_s.cols());
  if (options.scale_per_column || !options.lift_groups.empty())
    throw InputError("key scale = per-column and the in-map floor (lift groups) need linear cells: a nonlinear "
                     "array's map holds at one operating input only, with one global scale");
  // The map iterates on conductances (G' = G' target / I); a three-terminal cell's per-cell
  // value is a threshold voltage, whose map runs in conductance equivalents instead.
  if (cell->gate_lines())
    throw std::logic_error("compensate_nonlinear(): cell '" + cell->name() + "' holds its " +
                           cell->cell_value().what + "; use calib::compensate_flash (flash_compensation.h)");
  const auto t0 = std::chrono::steady_clock::now();
  CompensationOptions o = options;
  if (o.anderson_depth == 0) o.anderson_depth = kNonlinearAndersonDepth;
  const double hi = o.range.g_max_s;
  require_in_window(g_target_s, o.range);
  if (v_op.size() != g_target_s.rows())
    throw InputError("operating input has " + std::to_string(v_op.size()) + " voltages, expected rows = " +
                     std::to_string(g_target_s.rows()));
  const int64_t m = g_target_s.rows(), n = g_target_s.cols();
  // Wire-free cell currents at v_op: the per-cell target at scale 1.
  RowMatrixXd i_ideal(m, n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) i_ideal(i, j) = cell->evaluate(g_target_s(i, j), v_op[i]).i_a;
  int64_t newton_iterations = 0;
  FixedPointProblem p;
  p.measured_name = "I_cell(v_op)";
  RowMatrixXd target;
  p.measure = [&](const RowMatrixXd& g, double& seconds) {
    const auto t = std::chrono::steady_clock::now();
    RowMatrixXd ic = cell_currents(spec, g, cell, v_op, solver, newton_iterations);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    return ic;
  };
  p.propose = [&](const RowMatrixXd& g, const RowMatrixXd& ic, const std::vector<uint8_t>&) {
    RowMatrixXd next(m, n);
    for (Eigen::Index k = 0; k < next.size(); ++k) {
      const double gk = g.data()[k], ik = ic.data()[k], tk = target.data()[k];
      // A cell carrying no current (G' = 0, or no voltage across it) gets its ideal value back.
      next.data()[k] = ik > 0 && gk > 0 ? gk * tk / ik : g_target_s.data()[k];
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
      if (g_target_s.data()[k] > 0 && ic.data()[k] > 0 && i_ideal.data()[k] > 0)
        s0 = std::min(s0, hi * ic.data()[k] / (i_ideal.data()[k] * g_target_s.data()[k]));
  }
  const int64_t before = newton_iterations;
  Compensation c = solve_compensation(p, target_at, start_at, s0, o, t0);
  c.iterations += extra;
  c.linear_solves += before;
  c.column_scales.assign(size_t(n), c.scale);
  c.message += " (nonlinear cells: every cell's current matched at the operating input)";
  return c;
}

}  // namespace xbar::calib
