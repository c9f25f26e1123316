#include "solvers/crossbar_solver.h"

#include <chrono>

#include "devices/input_error.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

using Triplet = Eigen::Triplet<double, int64_t>;

std::string to_string(BatchMethod b) {
  switch (b) {
    case BatchMethod::kAuto: return "auto";
    case BatchMethod::kDirect: return "direct";
    case BatchMethod::kEffective: return "effective";
  }
  return "?";
}

BatchMethod parse_batch_method(const std::string& s) {
  for (BatchMethod b : {BatchMethod::kAuto, BatchMethod::kDirect, BatchMethod::kEffective})
    if (s == to_string(b)) return b;
  throw InputError("key batch-method = '" + s + "': expected auto, direct or effective");
}

SolverOptions effective_solver_options(const netlists::CrossbarCircuit& x, const CrossbarSolveOptions& o) {
  SolverOptions s = o.solver;
  if (s.backend != BackendChoice::kAuto || o.keep_voltages || o.batch == BatchMethod::kDirect) return s;
  if (o.batch == BatchMethod::kAuto && o.expected_inputs <= std::min(x.rows(), x.cols())) return s;
  if (2 * x.rows() * x.cols() > kAutoEffectiveCholmodMaxUnknowns) return s;
  bool linear = x.circuit.transistor_models().empty();
  for (const auto& c : x.circuit.cell_models()) linear = linear && c->is_linear();
  if (linear) s.backend = BackendChoice::kNative;
  return s;
}

CrossbarSolver::CrossbarSolver(const netlists::CrossbarCircuit& crossbar,
                               const CrossbarSolveOptions& options)
    : x_(crossbar), options_(options), circuit_solver_(crossbar.circuit, effective_solver_options(crossbar, options)) {
  const int64_t n_cols = crossbar.cols(), n_src = int64_t(crossbar.source_row.size());
  // Column j's current is the sum of its virtual-ground source currents.
  SparseMatrix pick(n_cols, n_src);
  std::vector<Triplet> t;
  for (int64_t j = 0; j < n_cols; ++j)
    for (int32_t pos : crossbar.sense_sources[size_t(j)])
      if (pos >= 0) t.emplace_back(j, pos, 1.0);
  pick.setFromTriplets(t.begin(), t.end());
  t.clear();
  for (int64_t k = 0; k < n_src; ++k)
    if (crossbar.source_row[size_t(k)] >= 0) t.emplace_back(k, crossbar.source_row[size_t(k)], 1.0);
  p_.resize(n_src, crossbar.rows());
  p_.setFromTriplets(t.begin(), t.end());
  s_fixed_ = crossbar.fixed_source_values();
  if (circuit_solver_.native()) {
    w_x_ = pick * circuit_solver_.mna().current_map_x();
    w_s_ = pick * circuit_solver_.mna().current_map_s();
    // PCG stops on the accuracy of what is reported: the column currents.
    circuit_solver_.set_watch(w_x_, "column currents");
  }
}

RowMatrixXd CrossbarSolver::currents_from(const Eigen::MatrixXd& src) const {
  RowMatrixXd i(src.cols(), x_.cols());
  for (int64_t j = 0; j < x_.cols(); ++j) {
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(src.cols());
    for (int32_t pos : x_.sense_sources[size_t(j)])
      if (pos >= 0) sum += src.row(pos).transpose();
    i.col(j) = sum;
  }
  return i;
}

CrossbarSolution CrossbarSolver::solve(const RowMatrixXd& v) {
  if (v.cols() != x_.rows())
    throw InputError("input has " + std::to_string(v.cols()) + " voltages per vector, expected rows = " +
                     std::to_string(x_.rows()));
  CrossbarSolution r;
  const int64_t k = v.rows();
  const bool native = circuit_solver_.native();
  const bool effective =
      native && !circuit_solver_.nonlinear() && !options_.keep_voltages &&
      (options_.batch == BatchMethod::kEffective ||
       (options_.batch == BatchMethod::kAuto && k > std::min(x_.rows(), x_.cols())));
  if (effective) {
    const RowMatrixXd t = effective_matrix();
    const auto t0 = std::chrono::steady_clock::now();
    r.currents = v * t;
    r.summary = circuit_solver_.summary();
    r.summary.solve_s += seconds_since(t0);
    r.summary.inputs = k;
    r.summary.batch_method = "effective-matrix";
    return r;
  }
  // S x K: the row voltages plus the fixed sources (gate lines of 1T1R cells).
  const Eigen::MatrixXd s = p_ * Eigen::MatrixXd(v.transpose()) + s_fixed_.replicate(1, k);
  r.currents.resize(k, x_.cols());
  if (options_.keep_voltages) {
    r.voltages.resize(k, 2 * x_.rows() * x_.cols());
    r.all_node_voltages.resize(x_.circuit.num_nodes(), k);
    r.all_source_currents.resize(s.rows(), k);
  }
  // Direct: in blocks so that the node voltages of a large batch never all live at once.
  const int64_t block = native ? std::max(1, options_.solver.linear.rhs_block) : std::max<int64_t>(k, 1);
  for (int64_t c0 = 0; c0 < k; c0 += block) {
    const int64_t nc = std::min(block, k - c0);
    CircuitSolution sol = circuit_solver_.solve(s.middleCols(c0, nc));
    r.currents.middleRows(c0, nc) = currents_from(sol.source_currents);
    if (options_.keep_voltages) {
      r.voltages.middleRows(c0, nc) =
          sol.node_voltages.topRows(2 * x_.rows() * x_.cols()).transpose();
      r.all_node_voltages.middleCols(c0, nc) = sol.node_voltages;
      r.all_source_currents.middleCols(c0, nc) = sol.source_currents;
    }
  }
  r.summary = circuit_solver_.summary();
  r.summary.batch_method = "direct";
  return r;
}

RowMatrixXd CrossbarSolver::effective_matrix() {
  if (!circuit_solver_.native())
    throw InputError("the effective matrix needs a native back end (backend = native, cholmod or klu)");
  if (circuit_solver_.nonlinear())
    throw InputError("the effective matrix exists only for linear cells: with a nonlinear cell "
                     "the currents are not linear in the inputs (use batch-method = direct)");
  const auto t0 = std::chrono::steady_clock::now();
  const MnaSystem& mna = circuit_solver_.mna();
  const LinearBackend* be = circuit_solver_.backend();
  const int64_t m = x_.rows(), n = x_.cols();
  const SparseMatrix rp = mna.rhs_map() * p_;  // n_unknowns x M: right-hand side per row voltage
  Eigen::MatrixXd tt(n, m);                     // T^T, N x M
  tt = Eigen::MatrixXd(w_s_ * p_);
  const int64_t block = std::max(1, options_.solver.linear.rhs_block);
  int64_t solves = 0;
  if (!be) {
    // no unknowns: T = W_s P already
  } else if (m <= n) {
    for (int64_t c0 = 0; c0 < m; c0 += block) {  // X = A^-1 (R P), T^T += W X
      const int64_t nc = std::min(block, m - c0);
      const Eigen::MatrixXd x = circuit_solver_.solve_linear(Eigen::MatrixXd(rp.middleCols(c0, nc)));
      tt.middleCols(c0, nc) += w_x_ * x;
      solves += nc;
    }
  } else {
    const SparseMatrix wt = w_x_.transpose();
    // The adjoint solves' reported quantities are the entries of T: (R P)^T y.
    circuit_solver_.set_watch(SparseMatrix(rp.transpose()), "effective-matrix entries");
    for (int64_t c0 = 0; c0 < n; c0 += block) {  // Y = A^-T W^T, T^T += Y^T (R P)
      const int64_t nc = std::min(block, n - c0);
      const Eigen::MatrixXd y = circuit_solver_.solve_linear(Eigen::MatrixXd(wt.middleCols(c0, nc)), true);
      tt.middleRows(c0, nc) += (Eigen::MatrixXd(rp.transpose() * y)).transpose();
      solves += nc;
    }
    circuit_solver_.set_watch(w_x_, "column currents");
  }
  circuit_solver_.add_solve_cost(seconds_since(t0), solves);
  return tt.transpose();
}

}  // namespace xbar::solvers
