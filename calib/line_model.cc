#include "calib/line_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "support/contract.h"

namespace xbar::calib {

namespace {
constexpr double kIdealOhm = 1e-9;  // stand-in for 0-ohm wires, drivers and senses
}

LineModel::LineModel(const netlists::CrossbarSpec& spec) : m_(spec.rows), n_(spec.cols) {
  g_seg_ = 1.0 / std::max(spec.row_segment_ohm(), kIdealOhm);
  const double g_drv = 1.0 / std::max(spec.r_driver_ohm, kIdealOhm);
  g_left_ = spec.drive != netlists::DriveSide::kRight ? g_drv : 0.0;
  g_right_ = spec.drive != netlists::DriveSide::kLeft ? g_drv : 0.0;
  g_col_seg_ = 1.0 / std::max(spec.col_segment_ohm(), kIdealOhm);
  const double g_sense = 1.0 / std::max(spec.r_sense_ohm, kIdealOhm);
  g_bottom_ = spec.sense != netlists::SenseSide::kTop ? g_sense : 0.0;
  g_top_ = spec.sense != netlists::SenseSide::kBottom ? g_sense : 0.0;
}

void LineModel::column_factors(const RowMatrixXd& g, RowMatrixXd& z, RowMatrixXd& phi) const {
  const int64_t m = m_;
  z.resize(m_, n_);
  phi.resize(m_, n_);
  auto series = [](double a, double b) { return a + b > 0 ? a * b / (a + b) : 0.0; };
  std::vector<double> a_dn(static_cast<size_t>(m)), a_up(static_cast<size_t>(m)),
      p_dn(static_cast<size_t>(m)), p_up(static_cast<size_t>(m));
  for (int64_t j = 0; j < n_; ++j) {
    // a_dn[l]: admittance at node l looking down, node l's own shunt included; a_up likewise.
    for (int64_t l = m - 1; l >= 0; --l)
      a_dn[size_t(l)] = g(l, j) + (l == m - 1 ? g_bottom_ : series(g_col_seg_, a_dn[size_t(l + 1)]));
    for (int64_t l = 0; l < m; ++l)
      a_up[size_t(l)] = g(l, j) + (l == 0 ? g_top_ : series(g_col_seg_, a_up[size_t(l - 1)]));
    // Seen from node i without its own shunt (the injecting cell): y_dn(i), y_up(i).
    auto y_dn = [&](int64_t i) { return i == m - 1 ? g_bottom_ : series(g_col_seg_, a_dn[size_t(i + 1)]); };
    auto y_up = [&](int64_t i) { return i == 0 ? g_top_ : series(g_col_seg_, a_up[size_t(i - 1)]); };
    // p_dn[i]: fraction of the current leaving node i downwards that reaches the bottom sense:
    // at each node below, the part not taken by that node's shunt goes on.
    p_dn[size_t(m - 1)] = 1.0;
    for (int64_t l = m - 2; l >= 0; --l) {
      const double a = a_dn[size_t(l + 1)];
      p_dn[size_t(l)] = p_dn[size_t(l + 1)] * (a > 0 ? y_dn(l + 1) / a : 0.0);
    }
    p_up[0] = 1.0;
    for (int64_t l = 1; l < m; ++l) {
      const double a = a_up[size_t(l - 1)];
      p_up[size_t(l)] = p_up[size_t(l - 1)] * (a > 0 ? y_up(l - 1) / a : 0.0);
    }
    for (int64_t i = 0; i < m; ++i) {
      const double yd = y_dn(i), yu = y_up(i), y = yd + yu;
      z(i, j) = y > 0 ? 1.0 / y : 0.0;
      phi(i, j) = y > 0 ? (yd * p_dn[size_t(i)] + yu * p_up[size_t(i)]) / y : 0.0;
    }
  }
}

void LineModel::solve_row(const double* shunt, const double* sink, double* r) const {
  // Tridiagonal (Thomas) solve; the matrix is a weakly diagonally dominant M-matrix with at
  // least one driven end, so no pivoting is needed.
  const int64_t n = n_;
  std::vector<double> c(static_cast<size_t>(n)), d(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    double diag = shunt[j] + (j > 0 ? g_seg_ : 0) + (j + 1 < n ? g_seg_ : 0);
    double rhs = -sink[j];
    if (j == 0) diag += g_left_, rhs += g_left_;  // 1 V source behind the driver
    if (j == n - 1) diag += g_right_, rhs += g_right_;
    const double lower = j > 0 ? -g_seg_ : 0, upper = j + 1 < n ? -g_seg_ : 0;
    const double denom = diag - (j > 0 ? lower * c[size_t(j - 1)] : 0);
    c[size_t(j)] = upper / denom;
    d[size_t(j)] = (rhs - (j > 0 ? lower * d[size_t(j - 1)] : 0)) / denom;
  }
  r[n - 1] = d[size_t(n - 1)];
  for (int64_t j = n - 2; j >= 0; --j) r[j] = d[size_t(j)] - c[size_t(j)] * r[j + 1];
}

LineModel::ColumnFactors LineModel::factors(const RowMatrixXd& g) const {
  ColumnFactors f;
  column_factors(g, f.z, f.phi);
  return f;
}

RowMatrixXd LineModel::forward(const RowMatrixXd& g, const ColumnFactors& f) const {
  XBAR_EXPECTS(f.z.rows() == m_ && f.z.cols() == n_ && g.rows() == m_ && g.cols() == n_,
               "LineModel::forward: factors() of an M x N array");
  const RowMatrixXd& z = f.z;
  const RowMatrixXd& phi = f.phi;
  RowMatrixXd t(m_, n_), shunt(1, n_), r(1, n_);
  const Eigen::RowVectorXd zero = Eigen::RowVectorXd::Zero(n_);
  for (int64_t i = 0; i < m_; ++i) {
    for (int64_t j = 0; j < n_; ++j) shunt(0, j) = g(i, j) / (1 + g(i, j) * z(i, j));
    solve_row(shunt.data(), zero.data(), r.data());
    t.row(i) = phi.row(i).cwiseProduct(shunt.cwiseProduct(r));
  }
  return t;
}

RowMatrixXd LineModel::inverse(const RowMatrixXd& t, const ColumnFactors& f0) const {
  XBAR_EXPECTS(f0.z.rows() == m_ && f0.z.cols() == n_ && t.rows() == m_ && t.cols() == n_,
               "LineModel::inverse: factors() of an M x N array");
  const RowMatrixXd& z = f0.z;
  const RowMatrixXd& phi = f0.phi;
  RowMatrixXd g(m_, n_), r(1, n_), sink(1, n_);
  const Eigen::RowVectorXd zero = Eigen::RowVectorXd::Zero(n_);
  for (int64_t i = 0; i < m_; ++i) {
    for (int64_t j = 0; j < n_; ++j) sink(0, j) = phi(i, j) > 0 ? t(i, j) / phi(i, j) : INFINITY;
    solve_row(zero.data(), sink.data(), r.data());
    for (int64_t j = 0; j < n_; ++j) {
      const double across = r(0, j) - sink(0, j) * z(i, j);
      g(i, j) = t(i, j) == 0 ? 0.0 : across > 0 ? sink(0, j) / across : INFINITY;
    }
  }
  return g;
}

}  // namespace xbar::calib
