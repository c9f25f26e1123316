#include "calib/size_sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "calib/calibration_table.h"
#include "devices/format.h"
#include "devices/input_error.h"
#include "devices/random_array.h"

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

const char* criterion_name(int c) {
  return c == kUncompensated ? "uncompensated" : c == kCompensated ? "compensated" : "calibrated";
}

SizePoint evaluate_size(const netlists::CrossbarSpec& base, int64_t rows, int64_t cols,
                        const SizeOptions& o, const solvers::SolverOptions& solver) {
  const auto t0 = std::chrono::steady_clock::now();
  netlists::CrossbarSpec spec = base;
  spec.rows = rows;
  spec.cols = cols;
  spec.validate();
  SizePoint p;
  p.rows = rows;
  p.cols = cols;
  const RowMatrixXd g = devices::uniform_matrix(rows, cols, o.g_off_s, o.g_on_s, o.seed);
  const RowMatrixXd v = heldout_inputs(o.heldout, rows, o.v_read_v, o.inputs, o.seed);
  const RowMatrixXd ideal = v * g;
  p.full_scale_a = o.full_scale_a > 0 ? o.full_scale_a : full_scale_a(g, o.v_read_v);
  ReadoutSpec adc{o.adc_bits, p.full_scale_a};
  p.lsb_a = adc.lsb_a();
  const Effective e = effective_matrix(spec, g, solver);
  p.error[kUncompensated] = error_stats(v * e.t, ideal, adc);
  p.evaluated[kUncompensated] = true;
  if (o.calibrate) {
    const RowMatrixXd vc = random_inputs(o.calib_inputs, rows, o.v_read_v, o.inputs, o.seed,
                                         InputStream::kCalibration);
    const CalibrationTable tab = fit_calibration(vc * e.t, vc * g, o.pwl_points);
    p.error[kCalibrated] = error_stats(tab.apply(v * e.t), ideal, adc);
    p.evaluated[kCalibrated] = true;
  }
  if (o.compensate) {
    CompensationOptions co = o.comp;
    co.progress = nullptr;
    const Compensation c = compensate(spec, g, co, solver);
    // With a scale s the array computes s G^T v: compared with that, in the LSB of an ADC
    // whose range shrinks by s too (a fixed ADC range would lose resolution by 1/s).
    ReadoutSpec adc_s{o.adc_bits, p.full_scale_a * c.scale};
    p.error[kCompensated] = error_stats(v * c.t, c.scale * ideal, adc_s);
    p.evaluated[kCompensated] = true;
    p.scale = c.scale;
    p.needs_above_max = c.needs_above_max;
    p.needs_below_min = c.needs_below_min;
    p.comp_iterations = c.iterations;
    p.comp_converged = c.converged;
    p.comp_residual_rel = c.residual_rel;
  }
  for (int k = 0; k < 3; ++k) p.pass[size_t(k)] = p.evaluated[size_t(k)] && p.error[size_t(k)].max_lsb <= o.budget_lsb;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.progress) {
    auto f = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", v);
      return std::string(buf);
    };
    std::string msg = std::to_string(rows) + " x " + std::to_string(cols) + ": max error " +
                      f(p.error[kUncompensated].max_lsb) + " LSB uncompensated";
    if (p.evaluated[kCompensated]) msg += ", " + f(p.error[kCompensated].max_lsb) + " compensated";
    if (p.evaluated[kCalibrated]) msg += ", " + f(p.error[kCalibrated].max_lsb) + " calibrated";
    o.progress(msg + " (" + f(p.seconds) + " s)");
  }
  return p;
}

SizeSweep sweep_sizes(const netlists::CrossbarSpec& spec, const SizeOptions& o,
                      const solvers::SolverOptions& solver) {
  if (o.sizes.empty()) throw InputError("key sizes: give at least one array size");
  for (int64_t s : o.sizes)
    if (s < 1) throw InputError("key sizes: size " + std::to_string(s) + " must be >= 1");
  if (!(o.budget_lsb > 0)) throw InputError("key budget-lsb = " + format_number(o.budget_lsb) + ": must be > 0");
  if (o.adc_bits < 1 || o.adc_bits > 24)
    throw InputError("key adc-bits = " + std::to_string(o.adc_bits) + ": must be in [1, 24]");
  if (o.heldout < 1) throw InputError("key heldout = " + std::to_string(o.heldout) + ": must be >= 1");
  o.comp.validate();
  auto shape = [&](int64_t s) {
    return o.shape == SizeShape::kSquare ? std::pair<int64_t, int64_t>{s, s}
         : o.shape == SizeShape::kCols   ? std::pair<int64_t, int64_t>{spec.rows, s}
                                         : std::pair<int64_t, int64_t>{s, spec.cols};
  };
  std::map<int64_t, SizePoint> done;
  auto eval = [&](int64_t s, bool refined) -> const SizePoint& {
    auto it = done.find(s);
    if (it != done.end()) return it->second;
    const auto [m, n] = shape(s);
    SizePoint p = evaluate_size(spec, m, n, o, solver);
    p.refined = refined;
    return done.emplace(s, p).first->second;
  };
  std::vector<int64_t> sizes = o.sizes;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  for (int64_t s : sizes) eval(s, false);
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
        if (eval(mid, true).pass[size_t(c)]) lo = mid;
        else hi = mid;
      }
    r.largest[size_t(c)] = lo;
    r.bounded[size_t(c)] = hi > 0;
  }
  for (auto& [s, p] : done) r.points.push_back(p);
  return r;
}

}  // namespace xbar::calib
