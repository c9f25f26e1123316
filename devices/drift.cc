#include "devices/drift.h"

#include <cmath>
#include <string>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"
#include "support/running_moments.h"

namespace xbar::devices {

void DriftOptions::validate() const {
  if (!std::isfinite(t0_s) || !(t0_s > 0))
    throw InputError("key drift-t0 = " + format_number(t0_s) + ": must be finite and > 0 s");
  if (!std::isfinite(time_s) || time_s < 0 || (time_s > 0 && time_s < t0_s))
    throw InputError("key drift-time = " + format_number(time_s) +
                     ": must be 0 (no drift) or finite and >= drift-t0 = " + format_number(t0_s) +
                     " s (the power law holds from t0 on)");
  if (!std::isfinite(nu_mean) || nu_mean < 0 || nu_mean > 1)
    throw InputError("key drift-nu = " + format_number(nu_mean) + ": must be in [0, 1]");
  if (!std::isfinite(nu_sigma) || nu_sigma < 0)
    throw InputError("key drift-nu-sigma = " + format_number(nu_sigma) +
                     ": must be a finite value >= 0");
}

DriftStats apply_drift(RowMatrix& g_s, const DriftOptions& options, uint64_t seed,
                       const StuckMask* pinned) {
  options.validate();
  XBAR_EXPECTS(pinned == nullptr || (pinned->rows() == g_s.rows() && pinned->cols() == g_s.cols()),
               "apply_drift: pinned mask shape differs from the array");
  DriftStats st;
  if (!options.enabled()) return st;
  RandomStream rng(stage_seed(seed, SeedStage::kDrift));
  const double log_ratio = std::log(options.time_s / options.t0_s);  // >= 0
  support::RunningMoments nu_m, factor_m;
  for (Eigen::Index i = 0; i < g_s.rows(); ++i) {
    for (Eigen::Index j = 0; j < g_s.cols(); ++j) {
      double nu = options.nu_mean + options.nu_sigma * rng.normal();  // drawn for every cell
      if (is_pinned(pinned, i, j)) continue;
      if (nu < 0) {
        nu = 0;
        ++st.nu_clipped_at_zero;
      }
      // (t/t0)^-nu = exp(-nu ln(t/t0)); exact 1 at t = t0.
      const double factor = std::exp(-nu * log_ratio);
      g_s(i, j) *= factor;
      nu_m.add(nu);
      factor_m.add(factor);
      ++st.cells_drifted;
    }
  }
  st.nu_mean_realised = nu_m.mean();
  st.factor_mean = st.cells_drifted > 0 ? factor_m.mean() : 1.0;
  return st;
}

}  // namespace xbar::devices
