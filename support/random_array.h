// Seeded uniform random arrays: random conductances for `xbar ... --g-on --g-off --seed`,
// and test and benchmark inputs.
//
//   RowMatrix g = support::uniform_matrix(64, 64, 1e-6, 1e-4, seed);   // g(i, j) in [lo, hi)
//
// The mapping from the 64-bit Mersenne Twister to doubles is spelled out (53 random bits per
// value, row-major draw order) rather than left to std::uniform_real_distribution, whose
// algorithm differs between standard libraries: the same seed gives the same array anywhere.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <random>

namespace xbar::support {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

inline RowMatrix uniform_matrix(int64_t rows, int64_t cols, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  RowMatrix m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = lo + (hi - lo) * (double(rng() >> 11) * 0x1.0p-53);
  return m;
}

}  // namespace xbar::support
