// One array through the whole calibration pipeline: its uncompensated error, the compensation
// map and the error left after it, the calibration table and the error left after that, each
// measured on held-out inputs against the ideal product. `xbar calibrate` reports one
// evaluation; `xbar size` makes one per array size.
//
//   calib::EvaluationOptions o;                    // inputs, ADC, window, what to evaluate
//   calib::ArrayEvaluation e = calib::evaluate_array(spec, g, cell, o, solver_options);
//   e.error[kUncompensated].max_lsb, e.comp.g_s (the map), e.table (the ADC-side table)
//
// Linear cells: every current comes from the exact effective matrix T of the array (one
// factorization, min(M, N) solves), so a thousand held-out inputs cost one matrix product.
// Nonlinear cells have no T: the map is built at the operating input (every row at v-read,
// calib/nonlinear_compensation.h) and every held-out and calibration input is a Newton
// solve of the array, against the same cells without any wire, driver or sense resistance
// (the device's own nonlinearity is not IR drop and is not what the map corrects).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>

#include "calib/calibration_table.h"
#include "calib/compensation.h"
#include "calib/error_metrics.h"
#include "devices/cell_model.h"

namespace xbar::calib {

enum Criterion { kUncompensated = 0, kCompensated = 1, kCalibrated = 2 };
const char* criterion_name(int c);

struct EvaluationOptions {
  // Device window, tolerance, scale [keys g-min, g-max, comp-tol, ..., scale]: by default one
  // scale per column (nonlinear cells: one global scale, see ArrayEvaluation::scale_used).
  CompensationOptions comp = per_column_compensation();
  InputDistribution inputs = InputDistribution::kUniform;
  double v_read_v = 0.2;       // inputs lie in [0, v_read]; nonlinear maps: the operating input
  uint64_t seed = 1;           // held-out and calibration inputs (separate derived streams)
  int64_t heldout = 1000;      // held-out inputs the errors are measured on (>= 1)
  int64_t calib_inputs = 1000; // inputs the calibration table is fitted on (>= 2)
  int pwl_points = 0;          // calibration: piecewise-linear breakpoints (0 = gain/offset only)
  bool table_on_compensated = false;  // fit the table on the compensated array
  int adc_bits = 8;            // errors in LSB of this ADC
  double full_scale_a = 0;     // its full scale [A]; 0 = largest ideal column current at v_read
  bool compensate = true, calibrate = true;
  std::function<void(const std::string&)> progress;  // may be empty
  void validate() const;  // throws InputError naming the key
};

struct ArrayEvaluation {
  bool linear = true;
  RowMatrixXd t_before;  // linear: T of the array as given (M x N); empty for nonlinear cells
  Compensation comp;     // with options.compensate
  CalibrationTable table;  // with options.calibrate
  // The ADCs errors are expressed in: the compensated array computes s G^T v and is compared
  // with that, in the LSB of an ADC range scaled by the same s (a fixed range would lose
  // resolution by 1/s); the table is measured in the ADC of the array it was fitted on. With
  // per-column scales each column's current is divided by its own s_j (digitally, after the
  // ADC) and compared with G^T v in the unscaled ADC: the same LSB count as s_j G^T v in a
  // range scaled by s_j (adc_compensated is then adc).
  ReadoutSpec adc, adc_compensated, adc_table;
  // The scale the map used: "per-column", "auto", the fixed s, or "auto (...)" with the reason
  // when per-column was asked for and does not apply (nonlinear cells).
  std::string scale_used;
  std::array<ErrorStats, 3> error{};  // by Criterion
  std::array<bool, 3> evaluated{};
  ErrorStats calibrated_gain_offset;   // the table's gain/offset alone
  solvers::SolveSummary summary;       // linear: the factorization behind t_before
  std::string reference;               // what "ideal" means here, for result.json
  double seconds = 0;
};

ArrayEvaluation evaluate_array(const netlists::CrossbarSpec& spec, const RowMatrixXd& g_s,
                               std::shared_ptr<const devices::CellModel> cell,
                               const EvaluationOptions& options, const solvers::SolverOptions& solver);

}  // namespace xbar::calib
