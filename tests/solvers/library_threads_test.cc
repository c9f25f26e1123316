// solvers/library_threads.h: factorizations start no thread unless the environment asks for
// threads; SerialOpenMp confines only its own thread's OpenMP regions; OpenBLAS's workers stop
// when parked and come back when unparked. Threads are counted in /proc/self/task, the
// kernel's list of this process's threads (an independent witness of what the libraries did).
#include <doctest/doctest.h>
#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "solvers/cholmod_backend.h"
#include "solvers/lazy_libraries.h"
#include "solvers/library_threads.h"

using namespace xbar;
using solvers::SparseMatrix;

namespace {

// The ids of the process's threads now.
std::set<std::string> process_thread_ids() {
  std::set<std::string> ids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ids.insert(entry.path().filename().string());
  return ids;
}

// How many threads the process has now.
int process_threads() { return int(process_thread_ids().size()); }

// How many threads the process started while f ran on a fresh thread: ids present after f that
// were not there before (a count of threads would also see a worker of another library exit
// meanwhile, e.g. OpenBLAS's, parked asynchronously, and come out negative). libgomp keeps one
// pool of workers per thread that opens a parallel region, so a fresh thread shows every OpenMP
// worker that f's regions needed, even if the test's main thread already has a pool.
template <typename F>
int threads_started_by(F f) {
  int started = 0;
  std::thread t([&] {
    const std::set<std::string> before = process_thread_ids();
    f();
    for (const std::string& id : process_thread_ids()) started += before.count(id) == 0;
  });
  t.join();
  return started;
}

// Threads in an OpenMP region of 4 requested by the calling thread.
int region_threads() {
  int n = 0;
#pragma omp parallel num_threads(4)
  {
#pragma omp single
    n = omp_get_num_threads();
  }
  return n;
}

// The nodal matrix of an m x n crossbar: row-wire nodes r(i, j) and column-wire nodes c(i, j)
// joined by 2.5 ohm segments, cell (i, j) between r(i, j) and c(i, j), every row driven from its
// left end and every column sensed at its bottom (both ideal, so each adds a segment to
// ground). SPD; cells from 1 uS to 100 uS, as the random arrays of the CLI.
SparseMatrix crossbar_matrix(int m, int n) {
  const double g_wire = 1 / 2.5;
  std::vector<Eigen::Triplet<double>> t;
  auto r = [n](int i, int j) { return 2 * (int64_t(i) * n + j); };
  auto c = [n](int i, int j) { return 2 * (int64_t(i) * n + j) + 1; };
  auto link = [&t](int64_t a, int64_t b, double g) {
    t.emplace_back(a, a, g);
    t.emplace_back(b, b, g);
    t.emplace_back(a, b, -g);
    t.emplace_back(b, a, -g);
  };
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      link(r(i, j), c(i, j), 1e-6 + 99e-6 * double((i * 7919 + j * 104729) % 1000) / 999);
      if (j + 1 < n) link(r(i, j), r(i, j + 1), g_wire);
      if (i + 1 < m) link(c(i, j), c(i + 1, j), g_wire);
    }
  for (int i = 0; i < m; ++i) t.emplace_back(r(i, 0), r(i, 0), g_wire);
  for (int j = 0; j < n; ++j) t.emplace_back(c(m - 1, j), c(m - 1, j), g_wire);
  SparseMatrix a(2 * int64_t(m) * n, 2 * int64_t(m) * n);
  a.setFromTriplets(t.begin(), t.end());
  return a;
}

// Analyzes (AMD) and factorizes a on the calling thread.
struct Factored {
  double flops = 0;        // CHOLMOD's count from the analysis
  bool supernodal = false; // only the supernodal factorization opens OpenMP regions
};
Factored factorize(const SparseMatrix& a) {
  solvers::CholmodBackend be({});
  be.analyze(a, {});
  be.factorize(a);
  REQUIRE(be.status() == solvers::BackendStatus::kSuccess);
  return {be.stats().flops, bool(be.factor()->is_super)};
}

}  // namespace

TEST_CASE("SerialOpenMp runs its own thread's OpenMP regions on that thread alone, and no other thread's") {
  if (region_threads() < 2) {
    MESSAGE("the OpenMP runtime grants 1 thread here (OMP_THREAD_LIMIT?): nothing to confine");
    return;
  }
  {
    solvers::SerialOpenMp serial;
    CHECK(region_threads() == 1);
    int other = 0;
    std::thread t([&] { other = region_threads(); });
    t.join();
    CHECK(other == 4);
  }
  CHECK(region_threads() == 4);
}

TEST_CASE("a factorization starts no thread unless OPENBLAS_NUM_THREADS asks; then a large one starts CHOLMOD's") {
  // The counting itself sees OpenMP's workers (otherwise the CHECKs of 0 could not fail).
  if (threads_started_by(region_threads) == 0) {
    MESSAGE("the OpenMP runtime starts no workers here (OMP_THREAD_LIMIT=1?): nothing to count");
    return;
  }
  // CHOLMOD and OpenBLAS are opened on first use (solvers/lazy_libraries.h), and OpenBLAS's
  // constructor starts its own workers (not parked in this process): open them before counting.
  solvers::load_cholmod_library();
  Factored small, large;
  // 64 x 64: factored supernodally (CHOLMOD would open its OpenMP regions), below the threshold.
  CHECK(threads_started_by([&] { small = factorize(crossbar_matrix(64, 64)); }) == 0);
  CHECK(small.supernodal);
  CHECK(small.flops < solvers::kParallelFactorFlops);
  // 256 x 256: above the threshold; CHOLMOD's OpenMP regions run as SuiteSparse built them only
  // when this process's environment asks for threads (they measured slower otherwise).
  const int started = threads_started_by([&] { large = factorize(crossbar_matrix(256, 256)); });
  if (solvers::factorization_threads_requested())
    CHECK(started > 0);
  else
    CHECK(started == 0);
  CHECK(large.supernodal);
  CHECK(large.flops >= solvers::kParallelFactorFlops);
}

TEST_CASE("parked OpenBLAS has one thread and no workers; unparked it has its threads back") {
  using GetThreads = int (*)();
  const auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!get) {
    MESSAGE("the BLAS loaded here is not OpenBLAS: nothing to park");
    return;
  }
  const int own = get();  // OpenBLAS's count in this process (not parked: not the xbar executable)
  if (own < 2) {
    MESSAGE("OpenBLAS runs on 1 thread here: nothing to park");
    return;
  }
  const int before = process_threads();
  solvers::park_blas_threads();
  CHECK(get() == 1);
  CHECK(process_threads() == before - (own - 1));  // its workers were joined
  solvers::unpark_blas_threads();
  const int expected = std::min(own, omp_get_max_threads());
  CHECK(get() == expected);
  CHECK(process_threads() == before - (own - 1) + (expected - 1));
}

TEST_CASE("OPENBLAS_NUM_THREADS asks for OpenBLAS's threads in factorizations only as an integer >= 2") {
  CHECK_FALSE(solvers::blas_threads_requested_by(nullptr));
  CHECK_FALSE(solvers::blas_threads_requested_by(""));
  CHECK_FALSE(solvers::blas_threads_requested_by("1"));
  CHECK_FALSE(solvers::blas_threads_requested_by("0"));
  CHECK_FALSE(solvers::blas_threads_requested_by("-4"));
  CHECK_FALSE(solvers::blas_threads_requested_by("2x"));
  CHECK_FALSE(solvers::blas_threads_requested_by("many"));
  CHECK_FALSE(solvers::blas_threads_requested_by("99999999999999999999999"));
  CHECK(solvers::blas_threads_requested_by("2"));
  CHECK(solvers::blas_threads_requested_by("16"));
}

TEST_CASE("a parked OpenBLAS stays parked through a factorization above kParallelFactorFlops unless asked") {
  solvers::load_cholmod_library();
  using GetThreads = int (*)();
  const auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!get) {
    MESSAGE("the BLAS loaded here is not OpenBLAS: nothing to park");
    return;
  }
  if (get() < 2 || omp_get_max_threads() < 2) {
    MESSAGE("OpenBLAS or OpenMP runs on 1 thread here: nothing to unpark");
    return;
  }
  solvers::park_blas_threads();  // as the xbar executable does first thing
  REQUIRE(get() == 1);
  const Factored large = factorize(crossbar_matrix(256, 256));
  CHECK(large.flops >= solvers::kParallelFactorFlops);
  // By default the workers stay stopped (the threads cost 2-30x when the other core is busy);
  // with OPENBLAS_NUM_THREADS >= 2 in this process's environment the factorization takes them.
  if (solvers::factorization_threads_requested())
    CHECK(get() > 1);
  else
    CHECK(get() == 1);
  solvers::unpark_blas_threads();  // the process's own count back, for the other tests
}
