#include "calib/calibration_table.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "support/input_error.h"

namespace xbar::calib {

namespace {

// Position of x among sorted breakpoints: segment index s (0..P-2) and weight on bp[s+1].
void locate(const double* bp, int p, double x, int& s, double& w) {
  s = int(std::upper_bound(bp, bp + p, x) - bp) - 1;
  s = std::clamp(s, 0, p - 2);
  const double span = bp[s + 1] - bp[s];
  w = span > 0 ? (x - bp[s]) / span : 0.0;  // < 0 or > 1 outside: end segments extended
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

CalibrationTable fit_calibration(const RowMatrixXd& meas, const RowMatrixXd& ideal, int pwl_points) {
  const Eigen::Index k = meas.rows(), n = meas.cols();
  if (k < 2) throw InputError("key calib-inputs = " + std::to_string(k) + ": a gain/offset fit needs at least 2 inputs");
  if (pwl_points == 1 || pwl_points < 0)
    throw InputError("key pwl-points = " + std::to_string(pwl_points) + ": must be 0 (off) or >= 2");
  if (pwl_points > 0 && k < 2 * pwl_points)
    throw InputError("key calib-inputs = " + std::to_string(k) + ": a " + std::to_string(pwl_points) +
                     "-point curve needs at least " + std::to_string(2 * pwl_points) + " inputs");
  CalibrationTable t;
  t.gain.resize(n);
  t.offset_a.resize(n);
  t.fit_rms_a.resize(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    const Eigen::VectorXd x = meas.col(j), y = ideal.col(j);
    const double mx = x.mean(), my = y.mean();
    const double sxx = (x.array() - mx).square().sum(), sxy = ((x.array() - mx) * (y.array() - my)).sum();
    // A column whose current never changes over the inputs (e.g. all-zero conductances) gets
    // unit gain and the mean difference as offset.
    t.gain[j] = sxx > 0 ? sxy / sxx : 1.0;
    t.offset_a[j] = my - t.gain[j] * mx;
    t.fit_rms_a[j] = std::sqrt(((t.gain[j] * x.array() + t.offset_a[j]) - y.array()).square().mean());
  }
  if (pwl_points >= 2) {
    const int p = pwl_points;
    t.pwl_points = p;
    t.pwl_x_a.resize(n, p);
    t.pwl_y_a.resize(n, p);
    t.pwl_fit_rms_a.resize(n);
    for (Eigen::Index j = 0; j < n; ++j) {
      std::vector<double> xs(static_cast<size_t>(k));
      for (Eigen::Index r = 0; r < k; ++r) xs[size_t(r)] = meas(r, j);
      std::sort(xs.begin(), xs.end());
      std::vector<double> bp(static_cast<size_t>(p));
      for (int q = 0; q < p; ++q) bp[size_t(q)] = xs[size_t(std::llround(double(q) * double(k - 1) / double(p - 1)))];
      // Repeated breakpoints (a column with few distinct currents) fall back to gain/offset.
      bool distinct = true;
      for (int q = 1; q < p; ++q) distinct = distinct && bp[size_t(q)] > bp[size_t(q - 1)];
      Eigen::VectorXd values(p);
      if (!distinct) {
        for (int q = 0; q < p; ++q) values[q] = t.gain[j] * bp[size_t(q)] + t.offset_a[j];
      } else {
        Eigen::MatrixXd ata = Eigen::MatrixXd::Zero(p, p);
        Eigen::VectorXd atb = Eigen::VectorXd::Zero(p);
        for (Eigen::Index r = 0; r < k; ++r) {
          int s;
          double w;
          locate(bp.data(), p, meas(r, j), s, w);
          const double a0 = 1 - w, a1 = w;
          ata(s, s) += a0 * a0, ata(s, s + 1) += a0 * a1, ata(s + 1, s) += a0 * a1, ata(s + 1, s + 1) += a1 * a1;
          atb[s] += a0 * ideal(r, j), atb[s + 1] += a1 * ideal(r, j);
        }
        values = ata.ldlt().solve(atb);
      }
      for (int q = 0; q < p; ++q) {
        t.pwl_x_a(j, q) = bp[size_t(q)];
        t.pwl_y_a(j, q) = values[q];
      }
    }
    const RowMatrixXd fitted = t.apply(meas);
    for (Eigen::Index j = 0; j < n; ++j)
      t.pwl_fit_rms_a[j] = std::sqrt((fitted.col(j) - ideal.col(j)).array().square().mean());
  }
  return t;
}

RowMatrixXd CalibrationTable::apply_gain_offset(const RowMatrixXd& m) const {
  RowMatrixXd out(m.rows(), m.cols());
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.col(j) = (gain[j] * m.col(j).array() + offset_a[j]).matrix();
  return out;
}

RowMatrixXd CalibrationTable::apply(const RowMatrixXd& m) const {
  if (pwl_points < 2) return apply_gain_offset(m);
  RowMatrixXd out(m.rows(), m.cols());
  std::vector<double> bp(static_cast<size_t>(pwl_points));
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (int q = 0; q < pwl_points; ++q) bp[size_t(q)] = pwl_x_a(j, q);
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
      int s;
      double w;
      locate(bp.data(), pwl_points, m(r, j), s, w);
      out(r, j) = (1 - w) * pwl_y_a(j, s) + w * pwl_y_a(j, s + 1);
    }
  }
  return out;
}

void write_calibration_csv(std::ostream& os, const CalibrationTable& t) {
  os << "column,gain,offset_a,fit_rms_a";
  for (int q = 0; q < t.pwl_points; ++q) os << ",x" << q << "_a";
  for (int q = 0; q < t.pwl_points; ++q) os << ",y" << q << "_a";
  if (t.pwl_points) os << ",pwl_fit_rms_a";
  os << "\n";
  for (Eigen::Index j = 0; j < t.gain.size(); ++j) {
    os << j << "," << num(t.gain[j]) << "," << num(t.offset_a[j]) << "," << num(t.fit_rms_a[j]);
    for (int q = 0; q < t.pwl_points; ++q) os << "," << num(t.pwl_x_a(j, q));
    for (int q = 0; q < t.pwl_points; ++q) os << "," << num(t.pwl_y_a(j, q));
    if (t.pwl_points) os << "," << num(t.pwl_fit_rms_a[j]);
    os << "\n";
  }
}

}  // namespace xbar::calib
