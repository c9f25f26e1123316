// Shared helpers for the benchmarks: random arrays, timers, peak memory.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <random>

#include "netlists/crossbar_builder.h"

namespace xbar::bench {

inline netlists::RowMatrixXd random_matrix(int64_t rows, int64_t cols, double lo, double hi,
                                           uint64_t seed) {
  std::mt19937_64 rng(seed);
  netlists::RowMatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = lo + (hi - lo) * double(rng() >> 11) * 0x1.0p-53;
  return m;
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
