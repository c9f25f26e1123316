#include "calib/compensation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "calib/fixed_point.h"
#include "calib/linear_map.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

void CompensationOptions::validate() const {
  range.validate();
  if (!(tol > 0) || !std::isfinite(tol))
    throw InputError("key comp-tol = " + format_number(tol) + ": must be finite and > 0");
  if (max_iterations < 1)
    throw InputError("key comp-max-iterations = " + std::to_string(max_iterations) + ": must be >= 1");
  if (anderson_depth < 0 || anderson_depth > 50)
    throw InputError("key anderson-depth = " + std::to_string(anderson_depth) + ": must be in [0, 50]");
  if (!scale_auto && !(scale > 0 && scale <= 1))
    throw InputError("key scale = " + format_number(scale) + ": must be in (0, 1], or per-column or auto");
  if (scale_per_column && !scale_auto)
    throw InputError("key scale = per-column: one scale per column is searched like auto; give scale_auto too");
  if (!scale_groups.empty() && !scale_per_column)
    throw InputError("scale groups are given but the scale is not per column");
}

void CompensationOptions::validate(int64_t cols) const {
  validate();
  auto check = [&](const std::vector<int32_t>& ids, const char* what) {
    if (ids.empty()) return;
    if (int64_t(ids.size()) != cols)
      throw InputError(std::string(what) + ": " + std::to_string(ids.size()) + " entries, expected one per column (" +
                       std::to_string(cols) + ")");
    for (size_t j = 0; j < ids.size(); ++j)
      if (ids[j] < 0 || ids[j] >= cols)
        throw InputError(std::string(what) + "[" + std::to_string(j) + "] = " + std::to_string(ids[j]) +
                         ": must be in [0, " + std::to_string(cols) + ")");
  };
  check(scale_groups, "scale groups");
  check(lift_groups, "lift groups");
}

CompensationOptions per_column_compensation() {
  CompensationOptions o;
  o.scale_auto = o.scale_per_column = true;
  return o;
}

std::string scale_key(const CompensationOptions& o) {
  if (o.scale_auto) return o.scale_per_column ? "per-column" : "auto";
  return format_number(o.scale);
}

void parse_scale_key(const std::string& value, CompensationOptions& o) {
  if (value == "per-column" || value == "auto") {
    o.scale_auto = true;
    o.scale_per_column = value == "per-column";
    return;
  }
  size_t used = 0;
  double s = NAN;
  try {
    s = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (value.empty() || used != value.size())
    throw InputError("key scale = '" + value + "': expected per-column, auto or a number in (0, 1]");
  o.scale = s;
  o.scale_auto = o.scale_per_column = false;
}

double mean_column_scale(const Compensation& c) {
  if (c.column_scales.empty()) return c.scale;
  double sum = 0;
  for (double s : c.column_scales) sum += s;
  return sum / double(c.column_scales.size());
}

Compensation compensate(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_target_s,
                        const CompensationOptions& o, const solvers::SolverOptions& solver) {
  o.validate(g_target_s.cols());
  const auto t0 = std::chrono::steady_clock::now();
  require_in_window(g_target_s, o.range);
  if (g_target_s.rows() != spec.rows || g_target_s.cols() != spec.cols)
    throw InputError("target conductance matrix is " + std::to_string(g_target_s.rows()) + " x " +
                     std::to_string(g_target_s.cols()) + ", expected rows x cols = " + std::to_string(spec.rows) +
                     " x " + std::to_string(spec.cols));
  return internal::compensate_linear(spec, g_target_s, o, solver, t0);
}

}  // namespace xbar::calib
