// The exact effective-weight matrix of a linear crossbar: I = T^T v.
//
//   calib::Effective e = calib::effective_matrix(spec, g, solver_options);
//   RowMatrixXd currents = v * e.t;             // K x M inputs -> K x N column currents
//
// T includes every wire segment, driver and sense resistance: it is the column-current
// response to one volt on each row, obtained from one factorization and min(M, N) solves
// (solvers::CrossbarSolver::effective_matrix). For a linear array it answers every input
// exactly, so the calibration code never solves the circuit once per input.
#pragma once

#include "netlists/crossbar_builder.h"
#include "netlists/circuit.h"
#include "solvers/circuit_solver.h"
#include "solvers/solve_summary.h"

namespace xbar::calib {

using netlists::RowMatrixXd;

struct Effective {
  RowMatrixXd t;                  // M x N, siemens
  solvers::SolveSummary summary;  // the factorization and the solves behind it
  double seconds = 0;             // wall time: build, assembly, factorization, solves
};

// Throws InputError for a non-native back end (the effective matrix needs the factorization).
Effective effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           const solvers::SolverOptions& options);

}  // namespace xbar::calib
