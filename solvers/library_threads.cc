#include "solvers/library_threads.h"

#include <dlfcn.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace xbar::solvers {

namespace {

// OpenBLAS's thread controls, looked up at run time: the libblas.so.3 alternative may be
// another BLAS without them. blas_thread_shutdown_ is the function OpenBLAS's own fork handler
// calls; after it, OpenBLAS starts its workers again when its thread count is raised.
struct OpenBlasThreads {
  int (*get)() = nullptr;
  void (*set)(int) = nullptr;
  int (*shutdown)() = nullptr;
  bool found() const { return get && set && shutdown; }
};

OpenBlasThreads openblas() {
  OpenBlasThreads o;
  o.get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  o.set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  o.shutdown = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "blas_thread_shutdown_"));
  return o;
}

// The thread count OpenBLAS had when parked (0: not parked). Process-wide, as OpenBLAS's own
// thread count is: the one exception to "no mutable statics", mirroring the library's state.
std::atomic<int> g_parked_threads{0};
std::mutex g_unpark_mutex;
// Whether the process wants OpenBLAS parked (park_blas_threads() called, unpark_blas_threads()
// not since): OpenBLAS is opened on first use (lazy_libraries.h), possibly long after main.
std::atomic<bool> g_park_requested{false};

void park_now() {
  const OpenBlasThreads o = openblas();
  if (!o.found()) return;
  const int n = o.get();
  if (n <= 1) return;
  o.set(1);       // first: at 1, OpenBLAS never calls its (then stopped) server again
  o.shutdown();   // joins the spinning workers
  g_parked_threads = n;
}

}  // namespace

bool blas_threads_requested_by(const char* value) {
  if (!value) return false;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(value, &end, 10);
  while (*end == ' ') ++end;
  return end != value && *end == '\0' && errno == 0 && n >= 2;
}

bool factorization_threads_requested() {
  static const bool requested = blas_threads_requested_by(std::getenv("OPENBLAS_NUM_THREADS"));
  return requested;
}

void park_blas_threads() {
  g_park_requested = true;
  park_now();  // nothing to do until OpenBLAS is loaded; then blas_threads_loaded() parks it
}

void blas_threads_loaded() {
  if (g_park_requested.load()) park_now();
}

int blas_thread_count() {
  const OpenBlasThreads o = openblas();
  return o.found() ? o.get() : 0;
}

void unpark_blas_threads() {
  g_park_requested = false;
  const int parked = g_parked_threads.load();
  if (parked <= 1) return;
  const int want = std::min(parked, std::max(1, omp_get_max_threads()));
  std::lock_guard<std::mutex> lock(g_unpark_mutex);
  const OpenBlasThreads o = openblas();
  if (o.found() && o.get() < want) o.set(want);
}

void set_blas_threads(int n) {
  n = std::max(1, n);
  std::lock_guard<std::mutex> lock(g_unpark_mutex);
  const OpenBlasThreads o = openblas();
  if (!o.found() || (n == 1 && g_parked_threads.load() > 1 && o.get() == 1)) return;
  o.set(n);
}

SerialOpenMp::SerialOpenMp() : saved_levels_(omp_get_max_active_levels()) { omp_set_max_active_levels(0); }

SerialOpenMp::~SerialOpenMp() { omp_set_max_active_levels(saved_levels_); }

FactorizationThreads::FactorizationThreads(double flops) {
  if (factorization_threads_requested() && flops >= kParallelFactorFlops)
    unpark_blas_threads();
  else
    serial_.emplace();
}

}  // namespace xbar::solvers
