// PCG (line + coarse-grid preconditioned conjugate gradients) against CHOLMOD on one array:
// end-to-end time of each, CG iterations, final residual, the accuracy estimate, peak memory,
// and the largest relative difference of any column current.
//   PCG:     CrossbarSolver from the spec (the CLI's path: the line operator is written straight
//            from the spec, no circuit) + the solves; its phases: operator, set-up (line
//            factors + coarse grid), solves.
//   CHOLMOD: build_crossbar + assembly + analysis + factorization + the solves.
// PCG runs first, so the peak RSS printed after it is its own; the one after CHOLMOD is the
// process's overall peak.
// Usage: pcg_vs_cholmod SIZE [K] [R_WIRE_OHM] [G_ON_S] [cholmod|none] [mult|add|plain]
//   K inputs (default 1; random rows in [0, 0.2] V, seed 7), wires R_WIRE_OHM per segment
//   (default 2.5), cells uniform in [G_ON_S / 100, G_ON_S] (default 1e-4, seed 42), ideal
//   drivers and virtual grounds. `none` skips CHOLMOD (sizes it cannot factorize). K > min(M, N)
//   goes through the exact effective matrix, as the CLI does. The last argument picks the
//   preconditioner: mult (default, smoother-coarse-smoother), add (additive coarse term) or
//   plain (the line preconditioner alone, no coarse grid).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

namespace {

struct Run {
  netlists::RowMatrixXd currents;
  solvers::SolveSummary summary;
  double total_s = 0;
  double cpu_s = 0;  // user + system time of the process over the run, all threads
  double peak_gib = 0;
};

// Process CPU time (user + system, all threads) so far: on a host shared with other jobs the
// wall time depends on the load, this much less.
double cpu_s() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pcg_vs_cholmod SIZE [K] [R_WIRE_OHM] [G_ON_S] [cholmod|none] [mult|add|plain]\n");
    return 2;
  }
  const int64_t s = std::atoll(argv[1]);
  const int64_t k = argc > 2 ? std::atoll(argv[2]) : 1;
  const double r_wire = argc > 3 ? std::atof(argv[3]) : 2.5;
  const double g_on = argc > 4 ? std::atof(argv[4]) : 1e-4;
  const bool with_cholmod = argc <= 5 || std::string(argv[5]) != "none";
  const std::string pre = argc > 6 ? argv[6] : "mult";
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = s;
  spec.r_row_ohm = spec.r_col_ohm = r_wire;
  const auto g = bench::random_matrix(s, s, g_on / 100, g_on, 42);
  const auto v = bench::random_matrix(k, s, 0.0, 0.2, 7);
  const auto cell = devices::make_cell_model("linear");

  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = solvers::BackendChoice::kPcg;
  auto& co = opt.solver.linear.pcg.coarse;
  if (pre == "add") co.multiplicative = false;
  else if (pre == "plain") co.enabled = false;
  else if (pre != "mult") {
    std::fprintf(stderr, "unknown preconditioner '%s'\n", pre.c_str());
    return 2;
  }
  Run p;
  {
    const double t0 = bench::now_s(), c0 = cpu_s();
    solvers::CrossbarSolver solver(spec, g, cell, opt);
    auto sol = solver.solve(v);
    p.total_s = bench::now_s() - t0;
    p.cpu_s = cpu_s() - c0;
    p.currents = std::move(sol.currents);
    p.summary = sol.summary;
    p.peak_gib = bench::peak_rss_gib();
  }
  const auto& ps = p.summary;
  std::printf("%5lld %5lld %5.1f %7.0e %-5s | pcg %8.3f s (cpu %.2f s; operator %.3f, set-up %.3f, solve %.3f) iters %lld "
              "(max %lld) coarse %lld resid %.1e est %.1e peak %.2f GiB [%s]",
              (long long)s, (long long)k, r_wire, g_on, pre.c_str(), p.total_s, p.cpu_s, ps.assemble_s, ps.factorize_s,
              ps.solve_s, (long long)ps.cg_iterations, (long long)ps.cg_max_iterations,
              (long long)ps.cg_coarse_unknowns, ps.cg_residual, ps.cg_accuracy_estimate, p.peak_gib,
              ps.batch_method.c_str());
  if (with_cholmod) {
    Run c;
    opt = {};
    opt.solver.backend = solvers::BackendChoice::kCholmod;
    const double t0 = bench::now_s(), c0 = cpu_s();
    const auto x = netlists::build_crossbar(spec, g, cell);
    solvers::CrossbarSolver solver(x, opt);
    auto sol = solver.solve(v);
    c.total_s = bench::now_s() - t0;
    c.cpu_s = cpu_s() - c0;
    c.currents = std::move(sol.currents);
    c.summary = sol.summary;
    c.peak_gib = bench::peak_rss_gib();
    const double diff =
        ((p.currents - c.currents).cwiseAbs().array() / c.currents.cwiseAbs().array()).maxCoeff();
    std::printf(" | cholmod %8.3f s (cpu %.2f s; factor %.3f) peak %.2f GiB | max rel dI %.1e", c.total_s,
                c.cpu_s, c.summary.factorize_s, c.peak_gib, diff);
  }
  std::printf("\n");
  return 0;
}
