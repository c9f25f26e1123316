#include "devices/flash_retention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"
#include "support/running_moments.h"

namespace xbar::devices {

void RetentionOptions::validate() const {
  if (!std::isfinite(time_s) || time_s < 0)
    throw InputError("key retention-time = " + format_number(time_s) +
                     ": must be finite and >= 0 s (0 = no retention loss)");
  if (!std::isfinite(tau_s) || !(tau_s > 0))
    throw InputError("key retention-tau = " + format_number(tau_s) + ": must be finite and > 0 s");
  if (!std::isfinite(alpha_v) || alpha_v < 0)
    throw InputError("key retention-alpha = " + format_number(alpha_v) + ": must be finite and >= 0 V");
  if (!std::isfinite(alpha_sigma_v) || alpha_sigma_v < 0)
    throw InputError("key retention-alpha-sigma = " + format_number(alpha_sigma_v) +
                     ": must be finite and >= 0 V");
}

RetentionStats apply_retention(RowMatrix& vth_v, const RetentionOptions& o, uint64_t seed) {
  o.validate();
  RetentionStats st;
  if (!o.enabled()) return st;
  RandomStream rng(stage_seed(seed, SeedStage::kFlashRetention));
  const double log_factor = std::log1p(o.time_s / o.tau_s);  // ln(1 + t/tau), exact for t << tau
  support::RunningMoments alpha_m, shift_m;
  for (Eigen::Index i = 0; i < vth_v.rows(); ++i)
    for (Eigen::Index j = 0; j < vth_v.cols(); ++j) {
      double alpha = o.alpha_v + o.alpha_sigma_v * rng.normal();
      if (alpha < 0) {
        alpha = 0;
        ++st.alpha_clipped_at_zero;
      }
      const double shift = -alpha * log_factor;
      vth_v(i, j) += shift;
      alpha_m.add(alpha);
      shift_m.add(shift);
      st.shift_min_v = std::min(st.shift_min_v, shift);
      ++st.cells;
    }
  st.alpha_mean_realised_v = alpha_m.mean();
  st.shift_mean_v = shift_m.mean();
  return st;
}

}  // namespace xbar::devices
