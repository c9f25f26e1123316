// The exact effective-weight matrix of a linear crossbar: I = T^T v.
//
//   calib::Effective e = calib::effective_matrix(spec, g, solver_options);
//   RowMatrixXd currents = v * e.t;             // K x M inputs -> K x N column currents
//
// T includes every wire segment, driver and sense resistance: it is the column-current
// response to one volt on each row. By default (EffectiveMethod kAuto) it comes from one
// Cholesky factorization ordered with the terminals last (solvers/port_reduction.h: about one
// factorization's time at any size) whenever the back end is auto, native or cholmod and the
// factor fits in memory; otherwise, and with method kSolves (the referee), from one
// factorization (or PCG) and min(M, N) solves (solvers::CrossbarSolver::effective_matrix).
// For a linear array it answers every input exactly, so the calibration code never solves
// the circuit once per input. For many T of one array (compensation), EffectiveEvaluator
// keeps the analysis.
#pragma once

#include <memory>

#include "netlists/crossbar_builder.h"
#include "netlists/circuit.h"
#include "solvers/circuit_solver.h"
#include "solvers/crossbar_solver.h"
#include "solvers/port_reduction.h"
#include "solvers/solve_summary.h"

namespace xbar::calib {

using netlists::RowMatrixXd;

struct Effective {
  RowMatrixXd t;                  // M x N, siemens
  solvers::SolveSummary summary;  // the factorization and the solves behind it
                                  // (summary.effective_method: "port-reduction" or "solves")
  double seconds = 0;             // wall time: build, assembly, factorization, solves
};

// Throws InputError for a non-native back end (the effective matrix needs the factorization).
Effective effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           const solvers::SolverOptions& options,
                           solvers::EffectiveMethod method = solvers::EffectiveMethod::kAuto);

// T of one array for many conductance sets: the port reduction's ordering and symbolic
// analysis are made once (the first call), each call then costs one numeric factorization
// and the terminals' dense algebra. Falls back to effective_matrix() per call where that
// would (method kSolves, a back end other than auto/native/cholmod, or a factor that does not
// fit in memory).
class EffectiveEvaluator {
 public:
  EffectiveEvaluator(const netlists::CrossbarSpec& spec, const solvers::SolverOptions& options,
                     solvers::EffectiveMethod method = solvers::EffectiveMethod::kAuto);
  ~EffectiveEvaluator();
  Effective operator()(const RowMatrixXd& g_s);
  // Linear solves pushed through a factorization so far (0 on the port-reduction route).
  int64_t linear_solves() const { return solves_; }

 private:
  netlists::CrossbarSpec spec_;
  solvers::SolverOptions options_;
  solvers::EffectiveMethod method_;
  std::unique_ptr<solvers::PortReduction> port_;
  bool decided_ = false;  // whether the port route was chosen (made on the first call)
  int64_t solves_ = 0;
};

}  // namespace xbar::calib
