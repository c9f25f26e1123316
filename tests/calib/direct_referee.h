// The referee of the calib tests: column currents by direct solves of the circuit built from
// the conductances, never through an effective matrix.
#pragma once

#include <doctest/doctest.h>

#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"

namespace xbar::test {

inline netlists::RowMatrixXd direct_currents(const netlists::CrossbarSpec& spec,
                                             const netlists::RowMatrixXd& g,
                                             const netlists::RowMatrixXd& v,
                                             solvers::BackendChoice backend = solvers::BackendChoice::kNative,
                                             const std::string& cell = "linear") {
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model(cell));
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = backend;
  opt.batch = solvers::BatchMethod::kDirect;
  solvers::CrossbarSolver solver(x, opt);
  const auto sol = solver.solve(v);
  if (backend != solvers::BackendChoice::kNgspice) REQUIRE(sol.summary.batch_method != "effective-matrix");
  return sol.currents;
}

}  // namespace xbar::test
