// Flash arrays: native Newton vs ngspice (one B-source per cell, tolerances tightened) on the
// same array, side by side in one run: time ratio, Newton iterations, largest relative
// column-current difference, and where the cells were read (regions).
// Usage: flash_vs_ngspice [SIZE...]   default 32 64 128; ngspice runs at every size given.
//
// Arrays: conductance-equivalent targets uniform in [1 uS, 100 uS] at the 0.2 V read (seed
// 42), programmed by program-verify (defaults: erase 0.2 +- 0.05 V, 1 mV pulses, 2 %) into
// thresholds; EKV beta 100 uA/V^2, n 1.5, 300 K; word lines per row at 1.8 V; 2.5 ohm per
// wire segment, ideal drivers and virtual grounds; every row at 0.2 V. A second set reads in
// subthreshold: targets 0.1-10 nA at 0.2 V (thresholds ~1.9-2.1 V).
// Native time: the median of kNativeRuns one-shot solves (solver constructed and one input
// solved each time); ngspice (deck load + op), which takes seconds to minutes, runs once.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_util.h"
#include "devices/flash_programming.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

constexpr int kNativeRuns = 5;

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int k = 1; k < argc; ++k) sizes.push_back(std::atoll(argv[k]));
  if (sizes.empty()) sizes = {32, 64, 128};
  std::printf("Flash arrays, native Newton vs ngspice: EKV beta 100 uA/V^2, n 1.5, 300 K, word lines per row at 1.8 V,\n"
              "2.5 ohm/segment, all rows at 0.2 V; thresholds from program-verify of the targets below (seed 42)\n\n");
  std::printf("%-24s %5s %9s %10s %11s %9s %6s %12s  %s\n", "targets", "M=N", "unknowns", "native_s",
              "ngspice_s", "ratio", "iters", "max_rel_dI", "regions sub/mod/lin/sat");
  struct Set {
    const char* name;
    double g_lo_s, g_hi_s;
  };
  const Set sets[] = {{"1-100 uS (mostly linear)", 1e-6, 1e-4}, {"0.5-50 nS (subthreshold)", 5e-10, 5e-8}};
  devices::CellParams p;  // flash defaults, v-gate 1.8 V, gates per row
  const auto model = devices::make_cell_model("flash", p);
  const auto& cell = static_cast<const devices::FlashCell&>(*model);
  for (const Set& set : sets)
    for (int64_t s : sizes) {
      netlists::CrossbarSpec spec;
      spec.rows = spec.cols = s;
      const auto g = bench::random_matrix(s, s, set.g_lo_s, set.g_hi_s, 42);
      devices::FlashProgramOptions po;
      po.seed = 42;
      const auto prog = devices::program_flash(cell, g, devices::FlashTarget::kConductance, po);
      const auto x = netlists::build_crossbar(spec, prog.vth_v, model);
      const netlists::RowMatrixXd v = netlists::RowMatrixXd::Constant(1, s, po.v_read_v);
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
      // The regions from one more (untimed) native solve.
      opt.keep_regions = true;
      const auto reg = solvers::CrossbarSolver(x, opt).solve(v).regions;
      opt.keep_regions = false;
      opt.solver.backend = solvers::BackendChoice::kNgspice;
      const double t0 = bench::now_s();
      solvers::CrossbarSolver ng(x, opt);
      const auto b = ng.solve(v);
      const double ng_s = bench::now_s() - t0;
      const double di = ((a.currents - b.currents).cwiseAbs().array() / b.currents.cwiseAbs().array()).maxCoeff();
      std::printf("%-24s %5lld %9lld %10.4f %11.3f %8.0fx %6lld %12.2e  %lld/%lld/%lld/%lld (%lld of %lld verified)\n",
                  set.name, (long long)s, (long long)a.summary.unknowns, native_s, ng_s, ng_s / native_s,
                  (long long)a.summary.newton_iterations, di, (long long)reg.counts[0], (long long)reg.counts[1],
                  (long long)reg.counts[2], (long long)reg.counts[3], (long long)prog.stats.verified, (long long)(s * s));
      std::fflush(stdout);
    }
  std::printf("\npeak RSS %.2f GiB\n", bench::peak_rss_gib());
  return 0;
}
