#include "calib/effective.h"

#include <chrono>
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
  // T is min(M, N) solves through one system: a factorization reused that many times beats
  // conjugate gradients per right-hand side wherever the factor fits (512^2: 8 s against
  // ~90 s), so `auto` means CHOLMOD here up to kEffectiveCholmodMaxUnknowns (2048^2 peaks at
  // 6 GiB, bench/README.md) and PCG beyond.
  constexpr int64_t kEffectiveCholmodMaxUnknowns = 2 * 2048 * 2048;
  if (opt.solver.backend == solvers::BackendChoice::kAuto && 2 * spec.rows * spec.cols <= kEffectiveCholmodMaxUnknowns)
    opt.solver.backend = solvers::BackendChoice::kNative;
  solvers::CrossbarSolver solver(x, opt);
  Effective e;
  e.t = solver.effective_matrix();
  e.summary = solver.summary();
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

}  // namespace xbar::calib
