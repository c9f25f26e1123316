// Issue 21, point 5: from which size a crossbar's CHOLMOD factorization pays for the libraries'
// threads (solvers/library_threads.h, kParallelFactorFlops). For each size and ordering the
// same analyzed matrix is factorized, alternating, on one thread (OpenBLAS parked, CHOLMOD's
// OpenMP regions serial: SerialOpenMp) and with the threads (OpenBLAS unparked, CHOLMOD's
// regions as built); the pools are started before the threaded timings (one untimed
// factorization), so the ratio is the steady state and favours the threads. Prints the
// analysis' flop count, the median of each mode and serial / threaded.
//
// usage: factor_threads [--sizes 64,96,128,192,256,384] [--repeats R]
#include <cholmod.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "solvers/cholmod_backend.h"
#include "solvers/library_threads.h"
#include "solvers/mna_system.h"

using namespace xbar;

namespace {

// CHOLMOD view of the lower triangle (what CholmodBackend hands to CHOLMOD).
struct Lower {
  solvers::SparseMatrix a;
  cholmod_sparse view{};
  explicit Lower(const solvers::SparseMatrix& full) : a(full.triangularView<Eigen::Lower>()) {
    a.makeCompressed();
    view.nrow = view.ncol = size_t(a.rows());
    view.nzmax = size_t(a.nonZeros());
    view.p = a.outerIndexPtr();
    view.i = a.innerIndexPtr();
    view.x = a.valuePtr();
    view.stype = -1;
    view.itype = CHOLMOD_LONG;
    view.xtype = CHOLMOD_REAL;
    view.dtype = CHOLMOD_DOUBLE;
    view.sorted = view.packed = 1;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {64, 96, 128, 192, 256, 384};
  int repeats = 7;
  if (!bench::parse_sizes_and_repeats(argc, argv, &sizes, &repeats, "factor_threads [--sizes 64,96,...] [--repeats R]")) return 2;
  solvers::park_blas_threads();  // as the xbar executable does at start
  std::printf("%6s %-9s %10s %9s %12s %12s %8s   (threshold kParallelFactorFlops = %.0e)\n", "M=N", "ordering",
              "flops", "super", "serial_s", "threads_s", "ratio", solvers::kParallelFactorFlops);
  for (const int64_t s : sizes) {
    const auto x = bench::square_crossbar(s, 2.5);
    const solvers::MnaSystem mna(x.circuit);
    const Lower lower(mna.matrix());
    for (const char* ordering : {"geometric", "amd"}) {
      solvers::LinearBackendOptions lo;
      lo.ordering = solvers::parse_ordering(ordering);
      solvers::CholmodBackend be(lo);
      be.analyze(mna.matrix(), std::string(ordering) == "amd" ? std::vector<solvers::GridCoord>{} : mna.grid_coords());
      const double flops = be.common().fl;
      auto factor = [&] {
        const double t0 = bench::now_s();
        cholmod_l_factorize(const_cast<cholmod_sparse*>(&lower.view), be.factor(), &be.common());
        return bench::now_s() - t0;
      };
      std::vector<double> serial, threaded;
      for (int r = 0; r < repeats; ++r) {
        {
          solvers::park_blas_threads();
          solvers::SerialOpenMp one_thread;
          serial.push_back(factor());
        }
        solvers::unpark_blas_threads();
        if (r == 0) factor();  // starts CHOLMOD's OpenMP pool and OpenBLAS's workers
        threaded.push_back(factor());
      }
      const double ms = bench::median(serial), mt = bench::median(threaded);
      std::printf("%6lld %-9s %10.3g %9s %12.5f %12.5f %8.2f\n", (long long)s, ordering, flops,
                  be.factor()->is_super ? "yes" : "no", ms, mt, ms / mt);
      std::fflush(stdout);
    }
  }
  return 0;
}
