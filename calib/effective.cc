#include "calib/effective.h"

#include <chrono>
#include <limits>
#include <memory>

#include "devices/linear_cell.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"

namespace xbar::calib {

Effective effective_matrix(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                           const solvers::SolverOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto x = netlists::build_crossbar(spec, g_s, std::make_shared<const devices::LinearCell>());
  solvers::CrossbarSolveOptions opt;
  opt.solver = options;
  // T is min(M, N) solves through one system: under backend auto, CHOLMOD where its factor
  // fits (solvers::effective_solver_options), not CG per right-hand side (512^2: 8 s vs ~90 s).
  opt.expected_inputs = std::numeric_limits<int64_t>::max();
  solvers::CrossbarSolver solver(x, opt);
  Effective e;
  e.t = solver.effective_matrix();
  e.summary = solver.summary();
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

}  // namespace xbar::calib
