// RunningMoments: count, mean and sample standard deviation of a stream of values, by
// Welford's update (numerically stable for 1e6+ values whose mean is far from 0, where the
// textbook sum-of-squares formula cancels catastrophically).
//
//   support::RunningMoments m;
//   for (double e : errors) m.add(e);
//   stats.mean = m.mean(); stats.sigma = m.sigma();   // 0 when fewer than 1 / 2 values
#pragma once

#include <cmath>
#include <cstdint>

namespace xbar::support {

class RunningMoments {
 public:
  void add(double x) {
    ++n_;
    const double d = x - mean_;
    mean_ += d / double(n_);
    m2_ += d * (x - mean_);
  }
  int64_t count() const { return n_; }
  double mean() const { return n_ > 0 ? mean_ : 0.0; }
  // Sample standard deviation (n - 1 in the denominator); 0 for fewer than two values, so that
  // a report never carries NaN.
  double sigma() const { return n_ > 1 ? std::sqrt(m2_ / double(n_ - 1)) : 0.0; }

 private:
  int64_t n_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
};

}  // namespace xbar::support
