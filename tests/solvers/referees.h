// Small referees shared by the solver tests: an independent scalar root-find, the per-entry
// relative difference of two current matrices, and the drive/sense cases every back end meets.
#pragma once

#include <doctest/doctest.h>

#include <functional>

#include "netlists/crossbar_builder.h"

namespace xbar::test {

// Root of a monotone increasing function on [lo, hi] by bisection to machine precision.
inline double bisect(const std::function<double(double)>& f, double lo, double hi) {
  for (int k = 0; k < 2000 && hi - lo > 0; ++k) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    (f(mid) > 0 ? hi : lo) = mid;
  }
  return 0.5 * (lo + hi);
}

// Largest |a - b| / |b| over all entries (b is the referee).
inline double max_rel(const netlists::RowMatrixXd& a, const netlists::RowMatrixXd& b) {
  return ((a - b).cwiseAbs().array() / b.cwiseAbs().array()).maxCoeff();
}

// Calls f(spec, case_number) for every drive side x sense side x sense resistance (0 and 20 ohm):
// 18 arrays whose shapes cycle through `shapes`, 2.5 ohm row and 4 ohm column segments, the
// driver resistance alternating 15 and 0 ohm. Skips the two splits that are undefined (both
// ends sensed by ideal grounds on one row; both ends driven ideally on one column). The case
// is CAPTUREd for the checks f makes.
template <size_t K, class F>
void for_each_drive_and_sense(const int64_t (&shapes)[K][2], F&& f) {
  int which = 0;
  for (auto drive : {netlists::DriveSide::kLeft, netlists::DriveSide::kRight, netlists::DriveSide::kBoth})
    for (auto sense : {netlists::SenseSide::kBottom, netlists::SenseSide::kTop, netlists::SenseSide::kBoth})
      for (double r_sense : {0.0, 20.0}) {
        netlists::CrossbarSpec spec;
        spec.rows = shapes[which % K][0];
        spec.cols = shapes[which % K][1];
        ++which;
        spec.r_row_ohm = 2.5;
        spec.r_col_ohm = 4.0;
        spec.r_driver_ohm = (which % 2) ? 0.0 : 15.0;
        spec.r_sense_ohm = r_sense;
        spec.drive = drive;
        spec.sense = sense;
        if (sense == netlists::SenseSide::kBoth && spec.rows == 1 && r_sense == 0) continue;
        if (drive == netlists::DriveSide::kBoth && spec.cols == 1 && spec.r_driver_ohm == 0) continue;
        CAPTURE(spec.rows);
        CAPTURE(spec.cols);
        CAPTURE(netlists::to_string(drive));
        CAPTURE(netlists::to_string(sense));
        CAPTURE(r_sense);
        CAPTURE(spec.r_driver_ohm);
        f(spec, which);
      }
}

}  // namespace xbar::test
