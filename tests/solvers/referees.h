// Small referees shared by the nonlinear-solver tests: an independent scalar root-find and the
// per-entry relative difference of two current matrices.
#pragma once

#include <functional>

#include "netlists/crossbar_builder.h"

namespace xbar::test {

// Root of a monotone increasing function on [lo, hi] by bisection to machine precision.
inline double bisect(const std::function<double(double)>& f, double lo, double hi) {
  for (int k = 0; k < 2000 && hi - lo > 0; ++k) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    (f(mid) > 0 ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

// Largest |a - b| / |b| over all entries (b is the referee).
inline double max_rel(const netlists::RowMatrixXd& a, const netlists::RowMatrixXd& b) {
  return ((a - b).cwiseAbs().array() / b.cwiseAbs().array()).maxCoeff();
}

}  // namespace xbar::test
