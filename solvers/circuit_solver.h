// CircuitSolver: any Circuit, solved by a native back end (direct or PCG) or by ngspice.
//
//   solvers::SolverOptions opt;                    // backend = auto: PCG on large crossbars,
//                                                  // else CHOLMOD when SPD, else KLU
//   solvers::CircuitSolver cs(circuit, opt);       // assemble, analyze, factorize
//   CircuitSolution sol = cs.solve(s);             // s: S x K source values
//   sol.node_voltages (num_nodes x K), sol.source_currents (S x K), cs.summary()
//
// Contract: the circuit must outlive the solver. The native path factors once in the
// constructor; solve() may be called any number of times. With backend = ngspice the
// constructor only records the circuit and every solve() loads it into libngspice.
// Requesting cholmod or pcg for a matrix that is not SPD falls back to KLU, and pcg for a
// system that is not a crossbar of wire lines (a deck, 1T1R cells) to CHOLMOD; both say so in
// summary().message.
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <memory>
#include <string>

#include "netlists/circuit.h"
#include "solvers/linear_backend.h"
#include "solvers/mna_system.h"
#include "solvers/batched_newton.h"
#include "solvers/newton.h"
#include "solvers/ngspice_backend.h"
#include "solvers/solve_summary.h"

namespace xbar::solvers {

enum class BackendChoice { kAuto, kNative, kCholmod, kEigen, kKlu, kPcg, kNgspice };
std::string to_string(BackendChoice b);
BackendChoice parse_backend(const std::string& s);  // throws InputError naming key "backend"
// Whether an SPD system of `unknowns` is factorized by Eigen (eigen_backend.h): asked for by
// name, or under auto and native up to kEigenMaxUnknowns unless an ordering only CHOLMOD has
// was asked for. (Auto sends systems from kAutoPcgMinUnknowns to PCG before this applies.)
bool eigen_factorizes(BackendChoice asked, int64_t unknowns, Ordering ordering);

// backend = auto picks pcg for SPD crossbar systems with at least this many unknowns (a
// 2 x 128 x 128 grid). Measured (bench/README.md): from the spec, PCG solves one input 16x
// faster than CHOLMOD's assembly + analysis + factorization + solve at 128^2 and 64 inputs
// 1.6-2.5x faster from 64^2 to 512^2; nonlinear (sinh) arrays 2-4x faster at 256^2 and 512^2.
// Below it both take milliseconds and the direct solve is exact to rounding.
constexpr int64_t kAutoPcgMinUnknowns = 2 * 128 * 128;

// Nonlinear cells: a solve() of at least this many inputs goes through BatchedNewton
// (batched_newton.h; NewtonOptions::batch). Its reference costs one Newton solve and one more
// factorization, which a handful of inputs already repays (each per-input solve factorizes 4-5
// times).
constexpr int64_t kMinBatchedInputs = 4;

struct SolverOptions {
  // auto: pcg for SPD crossbars from kAutoPcgMinUnknowns unknowns, else as native. native:
  // CHOLMOD for SPD systems (every crossbar), KLU otherwise. pcg: conjugate gradients
  // preconditioned by the wire lines and a coarse grid (pcg_backend.h). ngspice: the referee.
  BackendChoice backend = BackendChoice::kAuto;
  LinearBackendOptions linear;
  NgspiceOptions ngspice;
  // Newton-Raphson settings for circuits with nonlinear cells.
  NewtonOptions newton;
  // Called with a one-line message after each stage of a long solve (assembly, analysis,
  // factorization); may be empty.
  std::function<void(const std::string&)> progress;
};

struct CircuitSolution {
  Eigen::MatrixXd node_voltages;    // num_nodes x K, volts
  Eigen::MatrixXd source_currents;  // S x K, amperes (SPICE sign for voltage sources)
};

class CircuitSolver {
 public:
  CircuitSolver(const netlists::Circuit& circuit, const SolverOptions& options);
  CircuitSolution solve(const Eigen::MatrixXd& source_values);
  const SolveSummary& summary() const { return summary_; }
  // Books substitutions done directly through backend() (e.g. the effective matrix).
  void add_solve_cost(double seconds, int64_t linear_solves) {
    summary_.solve_s += seconds;
    summary_.linear_solves += linear_solves;
  }
  bool native() const { return mna_ != nullptr; }
  // Native only:
  const MnaSystem& mna() const { return *mna_; }
  // The factorization; null when every node is fixed (nothing to solve: no unknowns).
  const LinearBackend* backend() const { return backend_.get(); }
  // Solves A X = B (or A^T X = B) through the factorization and checks the answer: every
  // entry finite and a normwise backward error ||A x - b|| / (||A|| ||x|| + ||b||) below
  // kMaxBackwardError per column, else xbar::NumericalError (direct back ends; pcg stops at
  // its own tolerance and reports its residual). Native only, size() > 0.
  Eigen::MatrixXd solve_linear(const Eigen::MatrixXd& b, bool transposed = false);
  bool nonlinear() const { return mna_ && !mna_->linear(); }
  // pcg only (a no-op for the others): the quantities, one per row of w (columns: unknowns),
  // whose accuracy CG's stopping test checks (PcgBackend::set_watch()).
  void set_watch(const SparseMatrix& w, const std::string& what);

 private:
  const netlists::Circuit& circuit_;
  SolverOptions options_;
  std::unique_ptr<MnaSystem> mna_;
  std::unique_ptr<LinearBackend> backend_;
  std::unique_ptr<NewtonSolver> newton_;  // nonlinear cells only
  std::unique_ptr<BatchedNewton> batched_;  // on the first batch of kMinBatchedInputs or more
  CircuitSolution solve_nonlinear(const Eigen::MatrixXd& s);
  // The back end kind for this system (auto, fallbacks), noting any substitution in summary_.
  LinearBackendKind choose_kind();
  // Copies the PCG statistics (and a CHOLMOD fallback) into summary_.
  void sync_pcg_stats();
  SolveSummary summary_;
  double norm_a_ = 0;  // infinity norm of the matrix, for the backward error
};

}  // namespace xbar::solvers
