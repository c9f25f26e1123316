// Issue 21, point 5: where Eigen's simplicial LDL' (solvers/eigen_backend.h) stops beating
// CHOLMOD on crossbar matrices, which sets kEigenMaxUnknowns. For each size the same nodal
// matrix (2.5 ohm per segment, cells 1-100 uS) goes through both back ends, alternating,
// on one thread (OpenBLAS parked, OpenMP 1 thread, as evaluate runs its tiles): analyze
// (geometric nested dissection for both), factorize, one solve and a solve of 64 right-hand
// sides. Prints the medians in ms, CHOLMOD / Eigen for each, and the largest relative
// difference of the two solutions.
//
// usage: backend_crossover [--sizes 32,64,96,128,192,256] [--repeats R]
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "solvers/lazy_libraries.h"
#include "solvers/library_threads.h"
#include "solvers/linear_backend.h"
#include "solvers/mna_system.h"

using namespace xbar;

namespace {

struct Times {
  std::vector<double> analyze, factorize, solve1, solve64;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {32, 64, 96, 128, 192, 256};
  int repeats = 7;
  if (!bench::parse_sizes_and_repeats(argc, argv, &sizes, &repeats, "backend_crossover [--sizes 32,64,...] [--repeats R]")) return 2;
  solvers::park_blas_threads();
  solvers::load_cholmod_library();  // loading is not what is timed here
  omp_set_num_threads(1);
  std::printf("one thread; medians of %d alternating runs, ms; ratio = cholmod / eigen\n", repeats);
  std::printf("%6s %9s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s | %9s\n", "M=N", "unknowns",
              "an chol", "an eig", "ratio", "fac chol", "fac eig", "ratio", "s1 chol", "s1 eig", "ratio",
              "s64 chol", "s64 eig", "ratio", "rel diff");
  for (const int64_t s : sizes) {
    const auto x = bench::square_crossbar(s, 2.5);
    const solvers::MnaSystem mna(x.circuit);
    const Eigen::MatrixXd b = bench::random_matrix(mna.size(), 64, -1, 1, 7);
    Times t[2];
    double diff = 0;
    for (int r = 0; r < repeats; ++r) {
      Eigen::MatrixXd xs[2];
      for (int k = 0; k < 2; ++k) {
        auto be = solvers::make_linear_backend(k == 0 ? solvers::LinearBackendKind::kCholmod
                                                      : solvers::LinearBackendKind::kEigen, {});
        double t0 = bench::now_s();
        be->analyze(mna.matrix(), mna.grid_coords());
        double t1 = bench::now_s();
        be->factorize(mna.matrix());
        double t2 = bench::now_s();
        be->solve(b.leftCols(1));
        double t3 = bench::now_s();
        xs[k] = be->solve(b);
        double t4 = bench::now_s();
        t[k].analyze.push_back(t1 - t0);
        t[k].factorize.push_back(t2 - t1);
        t[k].solve1.push_back(t3 - t2);
        t[k].solve64.push_back(t4 - t3);
      }
      diff = std::max(diff, (xs[0] - xs[1]).cwiseAbs().maxCoeff() / xs[0].cwiseAbs().maxCoeff());
    }
    auto row = [&](const std::vector<double>& c, const std::vector<double>& e) {
      std::printf(" | %8.2f %8.2f %6.2f", 1e3 * bench::median(c), 1e3 * bench::median(e), bench::median(c) / bench::median(e));
    };
    std::printf("%6lld %9lld", (long long)s, (long long)mna.size());
    row(t[0].analyze, t[1].analyze);
    row(t[0].factorize, t[1].factorize);
    row(t[0].solve1, t[1].solve1);
    row(t[0].solve64, t[1].solve64);
    std::printf(" | %9.1e\n", diff);
    std::fflush(stdout);
  }
  return 0;
}
