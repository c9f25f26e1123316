// Shared helpers for the benchmarks: random arrays, timers, peak memory.
#pragma once

#include <sys/resource.h>

#include <chrono>

#include "support/random_array.h"
#include "netlists/crossbar_builder.h"

namespace xbar::bench {

inline netlists::RowMatrixXd random_matrix(int64_t rows, int64_t cols, double lo, double hi,
                                           uint64_t seed) {
  return support::uniform_matrix(rows, cols, lo, hi, seed);
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double peak_rss_gib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / (1024.0 * 1024.0);
}

}  // namespace xbar::bench
