// The threads of the libraries under the solvers, started only when the user asks for them
// (issue 21, point 5). Two pools woke up for a 64 x 64 solve without getting any work
// worth splitting, and on 2 cores took the core the process itself needed:
//
// - OpenBLAS (Debian's libblas3 alternative, CHOLMOD's BLAS) starts one worker per extra core
//   in its library constructor, before main, and each worker spins on sched_yield for 2^28
//   cycles (~0.1 s) waiting for work that a small factorization never hands out (its
//   supernodes are below OpenBLAS's threading thresholds).
// - CHOLMOD's supernodal factorization opens OpenMP regions of 4 threads (the compile-time
//   CHOLMOD_OMP_NUM_THREADS, which the num_threads clause makes immune to omp_set_num_threads)
//   around its per-supernode copies; the threads then spin at every barrier: ~10,000 futex
//   calls and ~500 context switches in one 64 x 64 `xbar solve`.
//
//   solvers::park_blas_threads();      // main(), first thing: OpenBLAS's workers stopped
//   { solvers::FactorizationThreads t(flops);  // serial OpenMP regions (unless asked: below)
//     ... factorization ... }
//   solvers::unpark_blas_threads();    // before large BLAS work (libtorch): OpenBLAS's threads back
//
// Every CHOLMOD factorization (CholmodBackend::factorize, PortReduction) runs on its calling
// thread unless the user sets OPENBLAS_NUM_THREADS >= 2 (factorization_threads_requested), and
// then only from kParallelFactorFlops on: large arrays measured faster on one thread as well.
// Only the xbar executable parks OpenBLAS; in other processes (tests, benchmarks, a Python
// interpreter) OpenBLAS keeps its own pool and unpark_blas_threads() does nothing.
#pragma once

#include <optional>

namespace xbar::solvers {

// When the user asks for threads (factorization_threads_requested), factorizations with fewer
// flops than this (CHOLMOD's count from the analysis) still run on the calling thread alone. A
// 64^2 array is far below (4e6 flops in the grid ordering, 8e6 in AMD for a deck); about 200^2
// is at it. bench/factor_threads times one thread against the threads side by side
// (bench/README.md).
constexpr double kParallelFactorFlops = 2e8;

// Sparse matrix products (Eigen's, parallel under OpenMP from 20,000 nonzeros) that touch fewer
// nonzeros than this in all (nonzeros x right-hand sides) run on the calling thread: ~1 ms of
// work on one core. Measured for one product A^T x of a 64^2 crossbar (32,512 nonzeros): 24 us
// on one thread, 15 us on two once their pool runs, which a process solving once never
// recovers from starting the pool (~0.1 ms) and its spinning afterwards.
constexpr double kParallelProductNonzeros = 1e6;

// Whether factorizations may use threads: only when the user asks for them,
// OPENBLAS_NUM_THREADS=N with N >= 2 in the environment (read once). By default every
// factorization runs on its calling thread (FactorizationThreads below). Why: OpenBLAS splits
// each supernode's BLAS call over its workers, which sleep between calls; when another process
// holds the other core (a build, a second evaluation, a shared machine), every call waits for
// a worker to be scheduled, thousands of calls per factorization. Measured side by side (bench/factor_threads,
// bench/README.md "When factorizations pay for threads"): beside two compiler jobs a 256^2
// factorization took 14x longer with the threads than on one (1.55 vs 0.11 s), `xbar calibrate
// --rows 256 --cols 256 --scale auto` 31.7 against 5.3 s; on an idle host the threads gained
// 10-20 % on the port reduction's factorizations and lost 15-40 % on plain ones. CHOLMOD's own
// OpenMP regions (4 threads, its compile-time count, on 2 cores) cost 20-28 % even on the idle
// host (`xbar calibrate --rows 256/512 --scale auto`: 4.87 against 3.8 s, 15.3 against 12.8 s
// with OMP_THREAD_LIMIT=1). xbar's own parallelism (tiles, batches, sweep points) does not
// depend on this.
bool factorization_threads_requested();
// The rule above for one value of OPENBLAS_NUM_THREADS (null: unset): an integer >= 2.
bool blas_threads_requested_by(const char* openblas_num_threads);

// Stops OpenBLAS's worker threads and sets its thread count to 1, remembering the count it
// had (its default: the cores, or OPENBLAS_NUM_THREADS / OMP_NUM_THREADS). Found by dlsym, so
// with another BLAS (reference, BLIS) or a count of 1 this does nothing. Call once, first thing
// in main, before any other thread exists. OpenBLAS is opened on first use
// (solvers/lazy_libraries.h): until then this only records the request, and the loader parks
// the workers right after opening it (blas_threads_loaded()).
void park_blas_threads();

// Called by the loader (lazy_libraries.cc) once OpenBLAS is open and before anyone uses it:
// parks its workers if park_blas_threads() asked for it and unpark_blas_threads() did not
// withdraw that since.
void blas_threads_loaded();

// OpenBLAS's current thread count, 0 when OpenBLAS is not loaded (or another BLAS is).
int blas_thread_count();

// Gives OpenBLAS back the threads park_blas_threads() took, at most omp_get_max_threads() of
// the calling thread (a sweep point's budget); OpenBLAS restarts its workers. Also withdraws
// the request to park, so an OpenBLAS loaded later keeps its workers. Does nothing when
// OpenBLAS was not parked or already has that many. Thread-safe.
void unpark_blas_threads();

// Sets OpenBLAS's thread count to n >= 1 (a sweep point's budget). While parked, n = 1 leaves
// the workers stopped (OpenBLAS restarts them on any change of count) and n > 1 unparks to n.
// Does nothing without OpenBLAS. Thread-safe.
void set_blas_threads(int n);

// While alive, OpenMP parallel regions started by the calling thread (in CHOLMOD, or anywhere
// below it) run on that thread alone: max-active-levels 0, a per-thread setting in OpenMP 5
// (libgomp 11+), so other threads are unaffected. Restores the previous value.
class SerialOpenMp {
 public:
  SerialOpenMp();
  ~SerialOpenMp();
  SerialOpenMp(const SerialOpenMp&) = delete;
  SerialOpenMp& operator=(const SerialOpenMp&) = delete;

 private:
  int saved_levels_;
};

// Around one CHOLMOD factorization of `flops` (its analysis' count): the factorization runs on
// the calling thread alone (CHOLMOD's OpenMP regions serial, OpenBLAS left as it is: parked in
// the xbar executable) unless factorization_threads_requested() and flops >= kParallelFactorFlops;
// then OpenBLAS gets its threads back and CHOLMOD's regions run as built.
class FactorizationThreads {
 public:
  explicit FactorizationThreads(double flops);

 private:
  std::optional<SerialOpenMp> serial_;
};

}  // namespace xbar::solvers
