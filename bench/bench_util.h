// Shared helpers for the benchmarks: random arrays, timers, peak memory.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"

namespace xbar::bench {

inline netlists::RowMatrixXd random_matrix(int64_t rows, int64_t cols, double lo, double hi,
                                           uint64_t seed) {
  return support::uniform_matrix(rows, cols, lo, hi, seed);
}

// The s x s linear crossbar of the solver benchmarks: r_ohm per segment on rows and columns,
// ideal drivers and virtual grounds, G uniform in [1, 100] uS (seed 42).
inline netlists::CrossbarCircuit square_crossbar(int64_t s, double r_ohm) {
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = s;
  spec.r_row_ohm = spec.r_col_ohm = r_ohm;
  return netlists::build_crossbar(spec, random_matrix(s, s, 1e-6, 1e-4, 42), devices::make_cell_model("linear"));
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double peak_rss_gib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / (1024.0 * 1024.0);
}

// The median (the mean of the two middle values for an even count; 0 for none).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// "64,96,128" -> {64, 96, 128}.
inline std::vector<int64_t> parse_size_list(const std::string& text) {
  std::vector<int64_t> sizes;
  std::stringstream ss(text);
  for (std::string t; std::getline(ss, t, ',');) sizes.push_back(std::atoll(t.c_str()));
  return sizes;
}

// The arguments "[--sizes 64,96,...] [--repeats R]" of the size-sweeping benchmarks, parsed into
// *sizes and *repeats (which hold the defaults). False, after printing `usage` to stderr, on
// anything else.
inline bool parse_sizes_and_repeats(int argc, char** argv, std::vector<int64_t>* sizes, int* repeats,
                                    const char* usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--sizes" && i + 1 < argc) {
      *sizes = parse_size_list(argv[++i]);
    } else if (a == "--repeats" && i + 1 < argc) {
      *repeats = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s\n", usage);
      return false;
    }
  }
  return true;
}

}  // namespace xbar::bench
