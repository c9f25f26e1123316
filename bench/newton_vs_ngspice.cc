// Nonlinear cells: native Newton vs ngspice (B-sources, tolerances tightened) on the same
// array, time ratio, Newton iterations, largest relative column-current difference.
// Usage: newton_vs_ngspice [NGSPICE_MAX_SIZE]   sizes 32 64 128 256; ngspice up to the max
// (default 128; 256 would take tens of minutes).
// Native time: the median of kNativeRuns one-shot solves (solver constructed and one input
// solved each time), because a single millisecond-scale run on the shared host can be off by
// 2-3x; ngspice, which takes seconds to minutes, runs once.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

constexpr int kNativeRuns = 5;

int main(int argc, char** argv) {
  const int64_t ng_max = argc > 1 ? std::atoll(argv[1]) : 128;
  std::printf("Newton vs ngspice: random G in [1 uS, 100 uS], 2.5 ohm/segment, all rows at 0.5 V,\n"
              "sinh k = 2/V (+27%% at 0.5 V), selector i0 = 10 uA, v0 = 50 mV, 1t1r level-1 NMOS VTO 0.5 V, KP 200 uA/V^2, gates at 1.8 V\n\n");
  std::printf("%-9s %5s %9s %10s %11s %9s %6s %12s\n", "cell", "M=N", "unknowns", "native_s",
              "ngspice_s", "ratio", "iters", "max_rel_dI");
  for (const char* cell : {"sinh", "selector", "1t1r"})
    for (int64_t s : {32, 64, 128, 256}) {
      netlists::CrossbarSpec spec;
      spec.rows = spec.cols = s;
      const auto g = bench::random_matrix(s, s, 1e-6, 1e-4, 42);
      const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model(cell));
      const netlists::RowMatrixXd v = netlists::RowMatrixXd::Constant(1, s, 0.5);
      solvers::CrossbarSolveOptions opt;
      std::vector<double> runs;
      solvers::CrossbarSolution a;
      for (int k = 0; k < kNativeRuns; ++k) {
        const double t0 = bench::now_s();
        solvers::CrossbarSolver native(x, opt);
        a = native.solve(v);
        runs.push_back(bench::now_s() - t0);
      }
      std::nth_element(runs.begin(), runs.begin() + kNativeRuns / 2, runs.end());
      const double native_s = runs[kNativeRuns / 2];
      if (s > ng_max) {
        std::printf("%-9s %5lld %9lld %10.4f %11s %9s %6lld %12s\n", cell, (long long)s,
                    (long long)a.summary.unknowns, native_s, "-", "-", (long long)a.summary.newton_iterations, "-");
        continue;
      }
      opt.solver.backend = solvers::BackendChoice::kNgspice;
      const double t0 = bench::now_s();
      solvers::CrossbarSolver ng(x, opt);
      const auto b = ng.solve(v);
      const double ng_s = bench::now_s() - t0;
      const double di = ((a.currents - b.currents).cwiseAbs().array() / b.currents.cwiseAbs().array()).maxCoeff();
      std::printf("%-9s %5lld %9lld %10.4f %11.3f %8.0fx %6lld %12.2e\n", cell, (long long)s,
                  (long long)a.summary.unknowns, native_s, ng_s, ng_s / native_s,
                  (long long)a.summary.newton_iterations, di);
      std::fflush(stdout);
    }
  return 0;
}
