// Native solver alone at large sizes: build, assembly, analysis (ordering + symbolic),
// factorization, one solve, and peak memory. One size per process so that the peak RSS
// (getrusage, the figure /usr/bin/time -v prints) belongs to that size.
// Usage: native_scaling SIZE [ORDERING]   (ORDERING: geometric (default) | amd | metis | nesdis)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: native_scaling SIZE [geometric|amd|metis|nesdis]\n");
    return 2;
  }
  const int64_t s = std::atoll(argv[1]);
  const std::string ordering = argc > 2 ? argv[2] : "geometric";
  const double t_start = bench::now_s();
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = s;
  spec.r_row_ohm = spec.r_col_ohm = 2.5;
  const auto g = bench::random_matrix(s, s, 1e-6, 1e-4, 42);
  double t0 = bench::now_s();
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  const double build_s = bench::now_s() - t0;
  solvers::CrossbarSolveOptions opt;
  opt.solver.linear.ordering = solvers::parse_ordering(ordering);
  solvers::CrossbarSolver solver(x, opt);
  const auto r = solver.solve(netlists::RowMatrixXd::Constant(1, s, 0.2));
  const auto& sm = r.summary;
  const double total_s = bench::now_s() - t_start;
  std::printf("%6lld %10lld %-9s %8.3f %8.3f %8.3f %8.3f %8.3f %8.2f %10.1f %8.2f\n", (long long)s,
              (long long)(2 * s * s), sm.ordering_used.c_str(), build_s, sm.assemble_s, sm.analyze_s,
              sm.factorize_s, sm.solve_s, total_s, sm.factor_nonzeros / 1e6, bench::peak_rss_gib());
  return 0;
}
