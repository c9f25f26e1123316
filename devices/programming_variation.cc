#include "devices/programming_variation.h"

#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"
#include "support/running_moments.h"

namespace xbar::devices {

std::string to_string(VariationModel m) {
  switch (m) {
    case VariationModel::kNone:
      return "none";
    case VariationModel::kGaussian:
      return "gaussian";
    case VariationModel::kLognormal:
      return "lognormal";
  }
  return "?";
}

VariationModel parse_variation_model(const std::string& s) {
  if (s == "none") return VariationModel::kNone;
  if (s == "gaussian") return VariationModel::kGaussian;
  if (s == "lognormal") return VariationModel::kLognormal;
  throw InputError("key variation = '" + s + "': expected none, gaussian or lognormal");
}

void VariationOptions::validate() const {
  if (!std::isfinite(relative_sigma) || relative_sigma < 0)
    throw InputError("key variation-sigma = " + format_number(relative_sigma) +
                     ": must be a finite value >= 0 (a fraction of G)");
  if (!std::isfinite(absolute_sigma_s) || absolute_sigma_s < 0)
    throw InputError("key variation-sigma-s = " + format_number(absolute_sigma_s) +
                     ": must be a finite value >= 0 S");
  if (relative_sigma > 0 && absolute_sigma_s > 0)
    throw InputError("keys variation-sigma = " + format_number(relative_sigma) +
                     " and variation-sigma-s = " + format_number(absolute_sigma_s) +
                     " both set: give the sigma either relative to G or in siemens, not both");
  if (model == VariationModel::kNone && (relative_sigma > 0 || absolute_sigma_s > 0))
    throw InputError(std::string("key variation = none but ") +
                     (relative_sigma > 0
                          ? "variation-sigma = " + format_number(relative_sigma)
                          : "variation-sigma-s = " + format_number(absolute_sigma_s)) +
                     ": set variation = gaussian or lognormal, or the sigma to 0");
}

VariationStats apply_programming_variation(RowMatrix& g_s, const VariationOptions& options,
                                           const ConductanceRange& range, uint64_t seed,
                                           const StuckMask* pinned) {
  options.validate();
  range.validate();
  XBAR_EXPECTS(pinned == nullptr || (pinned->rows() == g_s.rows() && pinned->cols() == g_s.cols()),
               "apply_programming_variation: pinned mask shape differs from the array");
  VariationStats st;
  if (options.model == VariationModel::kNone) return st;
  RandomStream rng(stage_seed(seed, SeedStage::kVariation));
  support::RunningMoments err;
  for (Eigen::Index i = 0; i < g_s.rows(); ++i) {
    for (Eigen::Index j = 0; j < g_s.cols(); ++j) {
      const double z = rng.normal();  // drawn for every cell: pinned ones too
      if (is_pinned(pinned, i, j)) continue;
      const double g = g_s(i, j);
      const double sigma = options.sigma_s_at(g);
      double v = g;
      if (options.model == VariationModel::kGaussian) {
        v = g + sigma * z;
      } else if (g > 0) {  // lognormal, mean-preserving
        const double cv = sigma / g;
        const double s2 = std::log1p(cv * cv);
        v = g * std::exp(std::sqrt(s2) * z - 0.5 * s2);
      }
      if (v < range.g_min_s) {
        v = range.g_min_s;
        ++st.clipped_low;
      } else if (v > range.g_max_s) {
        v = range.g_max_s;
        ++st.clipped_high;
      }
      g_s(i, j) = v;
      ++st.cells_varied;
      if (g > 0) err.add((v - g) / g);
    }
  }
  st.rel_error_cells = err.count();
  st.rel_error_mean = err.mean();
  st.rel_error_sigma = err.sigma();
  return st;
}

}  // namespace xbar::devices
