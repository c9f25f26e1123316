// Native vs ngspice on the same crossbar: time of each (deck load + op for ngspice; assembly +
// analysis + factorization + solve for native) and the largest relative differences.
// Usage: native_vs_ngspice [SIZE ...]   (default 16 32 64 128; square arrays)
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_util.h"
#include "devices/registry.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {16, 32, 64, 128};
  if (argc > 1) {
    sizes.clear();
    for (int k = 1; k < argc; ++k) sizes.push_back(std::atoll(argv[k]));
  }
  std::printf("native vs ngspice (in-process libngspice), random G in [1 uS, 100 uS], 2.5 ohm/segment,\n"
              "r-driver 10 ohm, r-sense 10 ohm, all rows at 0.2 V\n\n");
  std::printf("%6s %9s %12s %12s %10s %14s %14s\n", "M=N", "unknowns", "native_s", "ngspice_s",
              "ratio", "max_rel_dI", "max_rel_dV");
  for (int64_t s : sizes) {
    netlists::CrossbarSpec spec;
    spec.rows = spec.cols = s;
    spec.r_row_ohm = spec.r_col_ohm = 2.5;
    spec.r_driver_ohm = spec.r_sense_ohm = 10;
    const auto g = bench::random_matrix(s, s, 1e-6, 1e-4, 42);
    const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
    const netlists::RowMatrixXd v = netlists::RowMatrixXd::Constant(1, s, 0.2);
    solvers::CrossbarSolveOptions opt;
    opt.keep_voltages = true;
    double t0 = bench::now_s();
    solvers::CrossbarSolver native(x, opt);
    const auto a = native.solve(v);
    const double native_s = bench::now_s() - t0;
    opt.solver.backend = solvers::BackendChoice::kNgspice;
    t0 = bench::now_s();
    solvers::CrossbarSolver ng(x, opt);
    const auto b = ng.solve(v);
    const double ng_s = bench::now_s() - t0;
    const double di = ((a.currents - b.currents).cwiseAbs().array() / b.currents.cwiseAbs().array()).maxCoeff();
    // Node by node, each relative to its own voltage (floor 1e-9 of full scale, as xbar check).
    const double floor_v = 1e-9 * b.all_node_voltages.cwiseAbs().maxCoeff();
    const double dv = ((a.all_node_voltages - b.all_node_voltages).cwiseAbs().array() /
                       b.all_node_voltages.cwiseAbs().array().max(floor_v))
                          .maxCoeff();
    std::printf("%6lld %9lld %12.5f %12.3f %9.0fx %14.2e %14.2e\n", (long long)s, (long long)(2 * s * s),
                native_s, ng_s, ng_s / native_s, di, dv);
    std::fflush(stdout);
  }
  return 0;
}
