// A batch of K input vectors through one factorized array: the exact effective matrix
// (min(M, N) solves, then one K x M by M x N product) vs direct multi-RHS substitution.
// Usage: batch [SIZE] [K]   (default 256 1000)
#include <cstdio>
#include <cstdlib>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

int main(int argc, char** argv) {
  const int64_t s = argc > 1 ? std::atoll(argv[1]) : 256;
  const int64_t k = argc > 2 ? std::atoll(argv[2]) : 1000;
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = s;
  spec.r_row_ohm = spec.r_col_ohm = 2.5;
  const auto g = bench::random_matrix(s, s, 1e-6, 1e-4, 42);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  const auto v = bench::random_matrix(k, s, 0.0, 0.2, 7);
  solvers::CrossbarSolveOptions opt;
  opt.batch = solvers::BatchMethod::kEffective;
  solvers::CrossbarSolver eff(x, opt);
  double t0 = bench::now_s();
  const auto a = eff.solve(v);
  const double eff_s = bench::now_s() - t0;
  opt.batch = solvers::BatchMethod::kDirect;
  solvers::CrossbarSolver dir(x, opt);
  t0 = bench::now_s();
  const auto b = dir.solve(v);
  const double dir_s = bench::now_s() - t0;
  const double diff = (a.currents - b.currents).cwiseAbs().maxCoeff() / b.currents.cwiseAbs().maxCoeff();
  std::printf("%lld x %lld array, %lld inputs, after factorization (factorize %.3f s):\n",
              (long long)s, (long long)s, (long long)k, eff.summary().factorize_s);
  std::printf("  effective matrix: %.3f s (%lld solves + product)\n", eff_s,
              (long long)eff.summary().linear_solves);
  std::printf("  direct multi-RHS: %.3f s (%lld solves)\n", dir_s, (long long)dir.summary().linear_solves);
  std::printf("  ratio direct/effective: %.1fx; max difference %.2e of full scale\n", dir_s / eff_s, diff);
  return 0;
}
