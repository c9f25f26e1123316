// Array-size validation: how large may an array be before its column currents are off by
// more than an error budget (in ADC LSB), uncompensated, with the compensation map, and with
// ADC-side calibration tables?
//
//   calib::SizeOptions o;  o.sizes = {32, 64, 128, 256};  o.budget_lsb = 1;
//   calib::SizeSweep s = calib::sweep_sizes(spec, cell, o, eval_options, solver_options);
//   s.points (one per evaluated size, sorted), s.largest[criterion]
//
// Each size gets its own random target array (uniform in [g_off, g_on], the evaluation seed)
// and its own held-out inputs, and goes through calib::evaluate_array; the error is the largest |I - G^T v| over held-out inputs and
// columns, in LSB of an ADC with `adc_bits` over the full scale (auto: the largest ideal
// column current with every row at v_read, so the LSB grows with the array as a real ADC
// range would). A size passes a criterion when that error is within the budget. The answer
// for a criterion is the largest passing size below the first failing one; with `refine`,
// the integer sizes between them are bisected (assuming the error grows with size, which the
// reported points let the user check).
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "calib/array_evaluation.h"

namespace xbar::calib {

enum class SizeShape { kSquare, kCols, kRows };  // N = M = s; M fixed, N = s; N fixed, M = s
std::string to_string(SizeShape s);
SizeShape parse_size_shape(const std::string& s);  // throws InputError ("sweep")

struct SizeOptions {
  std::vector<int64_t> sizes = {16, 32, 64, 128, 256};
  SizeShape shape = SizeShape::kSquare;
  double budget_lsb = 1.0;
  double g_on_s = 1e-4, g_off_s = 1e-6;  // the random target arrays, siemens
  bool refine = true;
  void validate() const;  // throws InputError naming the key
};

struct SizePoint {
  int64_t rows = 0, cols = 0;
  double full_scale_a = 0, lsb_a = 0;
  std::array<ErrorStats, 3> error{};  // by Criterion
  std::array<bool, 3> evaluated{}, pass{};
  double scale = 1;       // compensation's target scale (per column: the smallest)
  double scale_mean = 1;  // the mean of the column scales (the global scale without per-column)
  std::string scale_used;  // ArrayEvaluation::scale_used
  int64_t needs_above_max = 0, needs_below_min = 0;
  int comp_iterations = 0;
  bool comp_converged = false;
  double comp_residual_rel = 0;
  double seconds = 0;
  bool refined = false;  // added by the bisection
};

struct SizeSweep {
  std::vector<SizePoint> points;        // sorted by size
  std::array<int64_t, 3> largest{};     // largest passing size per criterion (0: none passes)
  std::array<bool, 3> bounded{};        // a failing size above it was found
};

// eval.progress gets one line per size (not the compensation's own progress).
SizePoint evaluate_size(const netlists::CrossbarSpec& spec, int64_t rows, int64_t cols,
                        std::shared_ptr<const devices::CellModel> cell, const SizeOptions& o,
                        const EvaluationOptions& eval, const solvers::SolverOptions& solver);
SizeSweep sweep_sizes(const netlists::CrossbarSpec& spec, std::shared_ptr<const devices::CellModel> cell,
                      const SizeOptions& o, const EvaluationOptions& eval,
                      const solvers::SolverOptions& solver);

}  // namespace xbar::calib
