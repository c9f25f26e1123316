// The exact step (or ramp) response of a small crossbar with capacitors, for the transient
// tests: a dense nodal model assembled here from the circuit's definition (DESIGN.md), not
// from MnaSystem, and its closed-form solution through the eigen-decomposition of the
// symmetric reduced system.
#pragma once

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <vector>

#include "netlists/crossbar_builder.h"
#include "solvers/transient.h"

namespace xbar::test {

using netlists::CrossbarSpec;
using netlists::RowMatrixXd;

// A dense nodal model of a drive-left, sense-bottom crossbar with r_driver > 0 and
// r_sense > 0 (so every grid node is an unknown with its capacitance), assembled from the
// circuit's definition (DESIGN.md), not from MnaSystem: D x' + A x = b, x = (r(i,j), c(i,j)).
struct DenseModel {
  Eigen::MatrixXd a;
  Eigen::VectorXd d, b, v;
  int m = 0, n = 0;
  double r_drv = 0, r_s = 0;
  int row(int i, int j) const { return i * n + j; }
  int col(int i, int j) const { return m * n + i * n + j; }
};

inline DenseModel dense_model(const CrossbarSpec& s, const RowMatrixXd& g, const Eigen::VectorXd& v) {
  DenseModel dm;
  dm.m = int(s.rows);
  dm.n = int(s.cols);
  dm.r_drv = s.r_driver_ohm;
  dm.r_s = s.r_sense_ohm;
  dm.v = v;
  const int u = 2 * dm.m * dm.n;
  dm.a = Eigen::MatrixXd::Zero(u, u);
  dm.b = Eigen::VectorXd::Zero(u);
  dm.d = Eigen::VectorXd::Zero(u);
  auto stamp = [&](int p, int q, double gc) {
    dm.a(p, p) += gc;
    dm.a(q, q) += gc;
    dm.a(p, q) -= gc;
    dm.a(q, p) -= gc;
  };
  for (int i = 0; i < dm.m; ++i)
    for (int j = 0; j < dm.n; ++j) {
      stamp(dm.row(i, j), dm.col(i, j), g(i, j));
      if (j + 1 < dm.n) stamp(dm.row(i, j), dm.row(i, j + 1), 1 / s.r_row_ohm);
      if (i + 1 < dm.m) stamp(dm.col(i, j), dm.col(i + 1, j), 1 / s.r_col_ohm);
      dm.d(dm.row(i, j)) = s.c_row_f;
      dm.d(dm.col(i, j)) = s.c_col_f;
    }
  for (int i = 0; i < dm.m; ++i) {
    dm.a(dm.row(i, 0), dm.row(i, 0)) += 1 / s.r_driver_ohm;
    dm.b(dm.row(i, 0)) += v(i) / s.r_driver_ohm;
  }
  for (int j = 0; j < dm.n; ++j) dm.a(dm.col(dm.m - 1, j), dm.col(dm.m - 1, j)) += 1 / s.r_sense_ohm;
  return dm;
}

// The exact solution from rest. Nodes without capacitance (a) follow the others (c)
// algebraically, x_a = A_aa^-1 (b_a r(t) - A_ac x_c), so x_c obeys D_c x_c' + S x_c = b_s r(t)
// with the Schur complement S = A_cc - A_ca A_aa^-1 A_ac and b_s = b_c - A_ca A_aa^-1 b_a. In
// the modes of the symmetric D_c^-1/2 S D_c^-1/2 = W L W^T (well conditioned, unlike the
// exponential of the stiff D^-1 S), z = W^T D_c^1/2 x_c obeys z' = -L z + beta r(t), beta =
// W^T D_c^-1/2 b_s, with r(t) = min(t / t_rise, 1) (r = 1 for the ideal step): closed form per mode.
struct ExactSolution {
  DenseModel dm;
  std::vector<int> c, a;  // unknowns with and without capacitance
  Eigen::MatrixXd a_ac, aa_inv;
  Eigen::VectorXd x_dc, lambda, beta, dc_sqrt, b_a;
  Eigen::MatrixXd w;
  double t_rise = 0;
  double ramp(double t) const { return t_rise == 0 ? 1.0 : std::min(t / t_rise, 1.0); }
  Eigen::VectorXd state(double t) const {
    Eigen::VectorXd z(lambda.size());
    for (Eigen::Index k = 0; k < z.size(); ++k) {
      const double l = lambda(k), b = beta(k);
      if (t_rise == 0) {
        z(k) = -b / l * std::expm1(-l * t);
      } else {
        // Ramp phase: z = b / t_rise (t / l - (1 - e^-lt) / l^2), then the step's decay.
        const double tr = std::min(t, t_rise);
        const double zr = b / t_rise * (l * tr + std::expm1(-l * tr)) / (l * l);
        z(k) = t <= t_rise ? zr : b / l + (zr - b / l) * std::exp(-l * (t - t_rise));
      }
    }
    const Eigen::VectorXd xc = (w * z).cwiseQuotient(dc_sqrt);
    Eigen::VectorXd x(dm.d.size());
    for (size_t k = 0; k < c.size(); ++k) x(c[k]) = xc(Eigen::Index(k));
    if (!a.empty()) {
      const Eigen::VectorXd xa = aa_inv * (b_a * ramp(t) - a_ac * xc);
      for (size_t k = 0; k < a.size(); ++k) x(a[k]) = xa(Eigen::Index(k));
    }
    return x;
  }
  Eigen::VectorXd columns_of(const Eigen::VectorXd& x) const {
    Eigen::VectorXd i(dm.n);
    for (int j = 0; j < dm.n; ++j) i(j) = x(dm.col(dm.m - 1, j)) / dm.r_s;
    return i;
  }
  Eigen::VectorXd columns(double t) const { return columns_of(state(t)); }
  // Energy the row sources deliver over [0, t] after an ideal step, given the state at t:
  // sum_i V_i (V_i t - int v_r(i,0)) / R_drv with int_0^t x = A^-1 (b t - D x(t)), the charge
  // balance of D x' + A x = b from x(0) = 0.
  double energy(double t, const Eigen::VectorXd& x_t) const {
    const Eigen::VectorXd ix = dm.a.ldlt().solve(dm.b * t - dm.d.cwiseProduct(x_t));
    double e = 0;
    for (int i = 0; i < dm.m; ++i) e += dm.v(i) * (dm.v(i) * t - ix(dm.row(i, 0))) / dm.r_drv;
    return e;
  }
};

inline ExactSolution exact(const CrossbarSpec& s, const RowMatrixXd& g, const Eigen::VectorXd& v,
                    double t_rise = 0) {
  ExactSolution e;
  e.dm = dense_model(s, g, v);
  e.t_rise = t_rise;
  e.x_dc = e.dm.a.ldlt().solve(e.dm.b);
  for (int k = 0; k < int(e.dm.d.size()); ++k) (e.dm.d(k) > 0 ? e.c : e.a).push_back(k);
  auto sub = [&](const std::vector<int>& r, const std::vector<int>& q) {
    Eigen::MatrixXd m(r.size(), q.size());
    for (size_t i = 0; i < r.size(); ++i)
      for (size_t j = 0; j < q.size(); ++j) m(Eigen::Index(i), Eigen::Index(j)) = e.dm.a(r[i], q[j]);
    return m;
  };
  auto part = [&](const Eigen::VectorXd& x, const std::vector<int>& r) {
    Eigen::VectorXd y(r.size());
    for (size_t i = 0; i < r.size(); ++i) y(Eigen::Index(i)) = x(r[i]);
    return y;
  };
  Eigen::MatrixXd schur = sub(e.c, e.c);
  Eigen::VectorXd b_s = part(e.dm.b, e.c);
  if (!e.a.empty()) {
    e.aa_inv = sub(e.a, e.a).inverse();
    e.a_ac = sub(e.a, e.c);
    e.b_a = part(e.dm.b, e.a);
    schur -= e.a_ac.transpose() * e.aa_inv * e.a_ac;
    b_s -= e.a_ac.transpose() * e.aa_inv * e.b_a;
  }
  e.dc_sqrt = part(e.dm.d, e.c).cwiseSqrt();
  const Eigen::VectorXd isq = e.dc_sqrt.cwiseInverse();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(isq.asDiagonal() * schur * isq.asDiagonal());
  e.lambda = es.eigenvalues();
  e.w = es.eigenvectors();
  e.beta = e.w.transpose() * isq.cwiseProduct(b_s);
  return e;
}

// Largest |native - exact| over every recorded time and column, as a fraction of full scale.
inline double max_error(const solvers::TransientRun& r, const ExactSolution& ex) {
  double err = 0;
  for (Eigen::Index k = 0; k < r.times_s.size(); ++k)
    err = std::max(err, (r.outputs.row(k).transpose() - ex.columns(r.times_s(k))).cwiseAbs().maxCoeff());
  return err / r.output_scale;
}

}  // namespace xbar::test
