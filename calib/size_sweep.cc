#include "calib/size_sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "calib/calibration_table.h"
#include "support/format.h"
#include "support/input_error.h"
#include "support/random_array.h"

namespace xbar::calib {

std::string to_string(SizeShape s) {
  switch (s) {
    case SizeShape::kSquare: return "square";
    case SizeShape::kCols: return "cols";
    case SizeShape::kRows: return "rows";
  }
  return "?";
}

SizeShape parse_size_shape(const std::string& s) {
  if (s == "square") return SizeShape::kSquare;
  if (s == "cols") return SizeShape::kCols;
  if (s == "rows") return SizeShape::kRows;
  throw InputError("key sweep = '" + s + "': expected square (M = N = size), cols (M = --rows, "
                   "N = size) or rows (M = size, N = --cols)");
}

void SizeOptions::validate() const {
  if (sizes.empty()) throw InputError("key sizes: give at least one array size");
  for (int64_t s : sizes)
    if (s < 1) throw InputError("key sizes: size " + std::to_string(s) + " must be >= 1");
  if (!(budget_lsb > 0)) throw InputError("key budget-lsb = " + format_number(budget_lsb) + ": must be > 0");
  if (!(g_off_s >= 0) || !(g_on_s >= g_off_s) || !std::isfinite(g_on_s))
    throw InputError("keys g-off = " + format_number(g_off_s) + ", g-on = " + format_number(g_on_s) +
                     ": need 0 <= g-off <= g-on, finite [S]");
}

SizePoint evaluate_size(const netlists::CrossbarSpec& base, int64_t rows, int64_t cols,
                        std::shared_ptr<const devices::CellModel> cell, const SizeOptions& o,
                        const EvaluationOptions& eval, const solvers::SolverOptions& solver) {
  netlists::CrossbarSpec spec = base;
  spec.rows = rows;
  spec.cols = cols;
  spec.validate();
  SizePoint p;
  p.rows = rows;
  p.cols = cols;
  const RowMatrixXd g = support::uniform_matrix(rows, cols, o.g_off_s, o.g_on_s, eval.seed);
  EvaluationOptions e = eval;
  e.progress = nullptr;
  const ArrayEvaluation a = evaluate_array(spec, g, std::move(cell), e, solver);
  p.full_scale_a = a.adc.full_scale_a;
  p.lsb_a = a.adc.lsb_a();
  p.error = a.error;
  p.evaluated = a.evaluated;
  if (a.evaluated[kCompensated]) {
    p.scale = a.comp.scale;
    p.scale_mean = mean_column_scale(a.comp);
    p.scale_used = a.scale_used;
    p.needs_above_max = a.comp.needs_above_max;
    p.needs_below_min = a.comp.needs_below_min;
    p.comp_iterations = a.comp.iterations;
    p.comp_converged = a.comp.converged;
    p.comp_residual_rel = a.comp.residual_rel;
  }
  for (int k = 0; k < 3; ++k) p.pass[size_t(k)] = p.evaluated[size_t(k)] && p.error[size_t(k)].max_lsb <= o.budget_lsb;
  p.seconds = a.seconds;
  if (eval.progress) {
    std::string msg = std::to_string(rows) + " x " + std::to_string(cols) + ": max error " +
                      format_3g(p.error[kUncompensated].max_lsb) + " LSB uncompensated";
    if (p.evaluated[kCompensated]) msg += ", " + format_3g(p.error[kCompensated].max_lsb) + " compensated";
    if (p.evaluated[kCalibrated]) msg += ", " + format_3g(p.error[kCalibrated].max_lsb) + " calibrated";
    eval.progress(msg + " (" + format_3g(p.seconds) + " s)");
  }
  return p;
}

SizeSweep sweep_sizes(const netlists::CrossbarSpec& spec, std::shared_ptr<const devices::CellModel> cell,
                      const SizeOptions& o, const EvaluationOptions& eval,
                      const solvers::SolverOptions& solver) {
  o.validate();
  eval.validate();
  auto shape = [&](int64_t s) {
    return o.shape == SizeShape::kSquare ? std::pair<int64_t, int64_t>{s, s}
         : o.shape == SizeShape::kCols   ? std::pair<int64_t, int64_t>{spec.rows, s}
                                         : std::pair<int64_t, int64_t>{s, spec.cols};
  };
  std::map<int64_t, SizePoint> done;
  auto point = [&](int64_t s, bool refined) -> const SizePoint& {
    auto it = done.find(s);
    if (it != done.end()) return it->second;
    const auto [m, n] = shape(s);
    SizePoint p = evaluate_size(spec, m, n, cell, o, eval, solver);
    p.refined = refined;
    return done.emplace(s, p).first->second;
  };
  std::vector<int64_t> sizes = o.sizes;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (int64_t s : sizes) point(s, false);
  SizeSweep r;
  for (int c = 0; c < 3; ++c) {
    if (!done.begin()->second.evaluated[size_t(c)]) continue;
    // Largest passing size below the first failing one.
    int64_t lo = 0, hi = 0;
    for (int64_t s : sizes) {
      if (done.at(s).pass[size_t(c)]) lo = s;
      else {
        hi = s;
        break;
      }
    }
    // A failing smallest size is bisected down from 1 (size 0 trivially passes).
    if (o.refine && hi > 0)
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (point(mid, true).pass[size_t(c)]) lo = mid;
        else hi = mid;
      }
    r.largest[size_t(c)] = lo;
    r.bounded[size_t(c)] = hi > 0;
  }
  for (auto& [s, p] : done) r.points.push_back(p);
  return r;
}

}  // namespace xbar::calib
