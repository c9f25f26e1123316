// CrossbarSolver: row voltages in, column currents (and optionally every node voltage) out.
//
//   solvers::CrossbarSolver xs(crossbar, options);     // assemble + analyze + factorize once
//   CrossbarSolution r = xs.solve(v);                  // v: K x M volts -> r.currents: K x N
//   RowMatrixXd t = xs.effective_matrix();             // M x N, exact: I = T^T v
//
// Exactness of the effective matrix: for linear cells the column currents are linear in the
// row voltages, I = T^T v, with T including every wire, driver and sense resistance. T costs
// min(M, N) solves through the same factorization (the adjoint system when N < M, which is
// the same matrix since it is symmetric), after which a batch of K inputs is one K x M by
// M x N product. solve() uses it automatically when K > min(M, N) and no node voltages are
// wanted (batch_method auto), and says so in the summary.
#pragma once

#include <memory>

#include "netlists/crossbar_builder.h"
#include "solvers/circuit_solver.h"

namespace xbar::solvers {

using netlists::RowMatrixXd;

enum class BatchMethod { kAuto, kDirect, kEffective };
std::string to_string(BatchMethod b);
BatchMethod parse_batch_method(const std::string& s);  // throws InputError ("batch-method")

struct CrossbarSolveOptions {
  SolverOptions solver;
  // How batches are solved on the native path (see the file comment); ngspice is always direct.
  BatchMethod batch = BatchMethod::kAuto;
  // Keep every node voltage (K x 2MN, rows then columns): memory 16 MN bytes per input.
  bool keep_voltages = false;
  // How many inputs the caller will solve (a hint for backend auto): a linear batch larger
  // than min(M, N) goes through the effective matrix, min(M, N) solves through one system,
  // where a factorization reused that often beats conjugate gradients per right-hand side, so
  // auto then picks CHOLMOD up to kAutoEffectiveCholmodMaxUnknowns (its factor fits; 2048^2
  // peaks at 6 GiB, bench/README.md) instead of PCG.
  int64_t expected_inputs = 1;
};

constexpr int64_t kAutoEffectiveCholmodMaxUnknowns = 2 * 2048 * 2048;

// The solver options CrossbarSolver uses for this array: options.solver, with backend auto
// resolved to native for linear batches that will go through the effective matrix (see
// expected_inputs). Exposed so that callers that only compute T can apply the same rule.
SolverOptions effective_solver_options(const netlists::CrossbarCircuit& crossbar,
                                       const CrossbarSolveOptions& options);


struct CrossbarSolution {
  RowMatrixXd currents;   // K x N, amperes into the virtual grounds
  RowMatrixXd voltages;   // K x 2MN (r(i,j) then c(i,j), row-major), only with keep_voltages
  // The full circuit solution of every node and source (only with keep_voltages).
  Eigen::MatrixXd all_node_voltages, all_source_currents;
  SolveSummary summary;
};

class CrossbarSolver {
 public:
  CrossbarSolver(const netlists::CrossbarCircuit& crossbar, const CrossbarSolveOptions& options);
  CrossbarSolution solve(const RowMatrixXd& v);
  // Exact M x N effective matrix (native back ends only).
  RowMatrixXd effective_matrix();
  const SolveSummary& summary() const { return circuit_solver_.summary(); }
  const CircuitSolver& circuit_solver() const { return circuit_solver_; }

 private:
  RowMatrixXd currents_from(const Eigen::MatrixXd& src_currents) const;
  const netlists::CrossbarCircuit& x_;
  CrossbarSolveOptions options_;
  CircuitSolver circuit_solver_;
  SparseMatrix w_x_;  // N x n: column currents from the unknowns
  SparseMatrix w_s_;  // N x S: column currents from the source values
  SparseMatrix p_;    // S x M: source values from the row voltages
  Eigen::VectorXd s_fixed_;  // S: the input-independent source values (gate lines, 0 V grounds)
};

}  // namespace xbar::solvers
