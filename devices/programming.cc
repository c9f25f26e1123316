#include "devices/programming.h"

#include <cmath>
#include <sstream>

#include "support/format.h"
#include "support/input_error.h"
#include "support/running_moments.h"

namespace xbar::devices {

namespace {

void validate_target(const RowMatrix& target_s) {
  if (target_s.size() == 0)
    throw InputError("target conductance matrix is empty (" + std::to_string(target_s.rows()) +
                     " x " + std::to_string(target_s.cols()) + "): need at least 1 x 1");
  for (Eigen::Index i = 0; i < target_s.rows(); ++i)
    for (Eigen::Index j = 0; j < target_s.cols(); ++j)
      if (!std::isfinite(target_s(i, j)) || target_s(i, j) < 0)
        throw InputError("target conductance (" + std::to_string(i) + ", " + std::to_string(j) +
                         ") = " + format_number(target_s(i, j)) + ": must be finite and >= 0 S");
}

std::string make_message(const ProgrammingStats& s, const ProgrammingOptions& o) {
  std::ostringstream m;
  m << "programmed " << s.rows << " x " << s.cols << " (seed " << s.seed << ")";
  if (s.targets_clipped_low + s.targets_clipped_high > 0)
    m << "; " << s.targets_clipped_low + s.targets_clipped_high
      << " targets clipped into [g-min, g-max]";
  if (s.stuck_source != "none")
    m << "; " << s.stuck.stuck_on << " stuck-on, " << s.stuck.stuck_off << " stuck-off ("
      << s.stuck_source << ")";
  if (s.levels_available > 0)
    m << "; " << s.levels_used << " of " << s.levels_available << " levels used";
  if (o.variation.model != VariationModel::kNone)
    m << "; " << to_string(o.variation.model) << " variation: relative error mean "
      << format_number(s.variation.rel_error_mean) << ", sigma "
      << format_number(s.variation.rel_error_sigma) << ", "
      << s.variation.clipped_low + s.variation.clipped_high << " clipped";
  if (o.drift.enabled())
    m << "; drift to " << format_number(o.drift.time_s) << " s: mean factor "
      << format_number(s.drift.factor_mean);
  if (s.drift.nu_clipped_at_zero > 0)
    m << " (" << s.drift.nu_clipped_at_zero << " nu clipped at 0)";
  return m.str();
}

}  // namespace

void ProgrammingOptions::validate() const {
  range.validate();
  stuck.validate();
  variation.validate();
  drift.validate();
  make_levels(levels, range);  // validates levels and checks a table against the window
}

ProgrammingResult program_conductances(const RowMatrix& target_s,
                                       const ProgrammingOptions& options) {
  options.validate();
  validate_target(target_s);
  const ConductanceRange& range = options.range;
  const int64_t rows = target_s.rows(), cols = target_s.cols();

  ProgrammingResult r;
  ProgrammingStats& st = r.stats;
  st.seed = options.seed;
  st.rows = rows;
  st.cols = cols;

  // 0. Targets into the window.
  r.g_s = target_s;
  for (Eigen::Index k = 0; k < r.g_s.size(); ++k) {
    double& g = r.g_s.data()[k];
    if (g < range.g_min_s) {
      g = range.g_min_s;
      ++st.targets_clipped_low;
    } else if (g > range.g_max_s) {
      g = range.g_max_s;
      ++st.targets_clipped_high;
    }
  }

  // 1. Stuck-at defects.
  r.stuck_mask = place_stuck_cells(rows, cols, options.stuck, options.seed);
  st.stuck_source =
      options.stuck.uses_mask() ? "mask" : (options.stuck.enabled() ? "rates" : "none");
  st.stuck = apply_stuck_cells(r.g_s, r.stuck_mask, range);

  // 2. Levels, healthy cells only.
  const ConductanceLevels levels = make_levels(options.levels, range);
  if (!levels.continuous()) {
    st.levels_available = levels.count();
    st.levels_s = levels.levels_s();
    st.level_occupancy = levels.snap_in_place(r.g_s, &r.stuck_mask);
    for (int64_t n : st.level_occupancy) st.levels_used += n > 0;
  }

  // 3. Programming variation, 4. drift; both skip the stuck cells.
  st.variation =
      apply_programming_variation(r.g_s, options.variation, range, options.seed, &r.stuck_mask);
  st.drift = apply_drift(r.g_s, options.drift, options.seed, &r.stuck_mask);

  // End-to-end report.
  support::RunningMoments total;
  for (Eigen::Index k = 0; k < r.g_s.size(); ++k) {
    const double t = target_s.data()[k];
    if (t > 0) total.add((r.g_s.data()[k] - t) / t);
  }
  st.total_rel_error_cells = total.count();
  st.total_rel_error_mean = total.mean();
  st.total_rel_error_sigma = total.sigma();
  st.g_programmed_min_s = r.g_s.minCoeff();
  st.g_programmed_max_s = r.g_s.maxCoeff();
  st.message = make_message(st, options);
  return r;
}

}  // namespace xbar::devices
