// ADC-side calibration tables: per column, the correction a read-out would apply to the
// measured current to estimate the ideal one, fitted on calibration inputs.
//
//   CalibrationTable tab = calib::fit_calibration(measured, ideal, /*pwl_points=*/0);
//   RowMatrixXd corrected = tab.apply(measured_heldout);
//
// Gain/offset: I_ideal ~ gain_j * I_meas + offset_j, least squares per column. With
// pwl_points = P >= 2, additionally a piecewise-linear curve per column: P breakpoints at
// equally spaced quantiles of that column's measured currents (first = smallest, last =
// largest), values fitted by least squares on the hat-function basis, so the curve is
// continuous and exact for any relation that is linear between breakpoints; outside the
// fitted range it extends its end segments. A gain/offset table cannot undo IR drop that
// depends on which rows are active; the PWL curve catches the part that depends on the
// column's total current (the dominant one for inputs that are all alike). Errors are
// always reported on held-out inputs, never the fitting ones.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "netlists/crossbar_builder.h"

namespace xbar::calib {

using netlists::RowMatrixXd;

struct CalibrationTable {
  Eigen::VectorXd gain, offset_a;  // N, dimensionless and amperes
  Eigen::VectorXd fit_rms_a;       // N, rms residual of the gain/offset fit on its inputs
  int pwl_points = 0;              // 0 = no piecewise-linear curve
  RowMatrixXd pwl_x_a, pwl_y_a;    // N x P breakpoints: measured -> corrected, amperes
  Eigen::VectorXd pwl_fit_rms_a;   // N, rms residual of the curve on its inputs

  // K x N measured currents -> corrected (the PWL curve when present, else gain/offset).
  RowMatrixXd apply(const RowMatrixXd& measured_a) const;
  RowMatrixXd apply_gain_offset(const RowMatrixXd& measured_a) const;
};

// measured and ideal: K x N, K >= 2 (and K >= P with a curve). Throws InputError otherwise.
CalibrationTable fit_calibration(const RowMatrixXd& measured_a, const RowMatrixXd& ideal_a,
                                 int pwl_points);

// CSV, header row, one row per column:
//   column,gain,offset_a,fit_rms_a[,x0_a..x{P-1}_a,y0_a..y{P-1}_a,pwl_fit_rms_a]
void write_calibration_csv(std::ostream& os, const CalibrationTable& t);

}  // namespace xbar::calib
