// Closed-form referees for the native solvers: a single driven row and a single sensed column
// are uniform resistive ladders with exact solutions, and an array without any wire, driver
// or sense resistance computes exactly I = G^T V.
#include <doctest/doctest.h>

#include <cmath>

#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;

namespace {

// Direct solvers on these well-conditioned ladders lose a few ulps per elimination step;
// 1e-12 relative leaves room for that and still catches any modelling error (which shows up
// at the 1e-3 level for these wire resistances).
constexpr double kLadderRelTol = 1e-12;
// Without wire resistance every current is one product and one sum: rounding only.
constexpr double kIdealRelTol = 1e-14;

RowMatrixXd solve_currents(const CrossbarSpec& spec, const RowMatrixXd& g, const RowMatrixXd& v,
                           BackendChoice backend) {
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = backend;
  solvers::CrossbarSolver solver(x, opt);
  return solver.solve(v).currents;
}

double max_rel_diff(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  double worst = 0;
  for (Eigen::Index k = 0; k < a.size(); ++k)
    worst = std::max(worst, std::abs(a(k) - b(k)) / std::max(std::abs(b(k)), 1e-300));
  return worst;
}

// Row ladder: node voltages v_k = C cosh((k - (N - 1/2)) theta), cosh theta = 1 + R G / 2
// (the far end is open, so the ladder is symmetric about k = N - 1/2), C fixed by the driver:
// (V - v_0) / R_drv = (v_{-1} - v_0) / R. Cell currents G v_k flow into ideal virtual grounds.
Eigen::VectorXd row_ladder_currents(int n, double v, double g, double r, double r_drv) {
  const double theta = std::acosh(1 + r * g / 2), c = n - 0.5;
  const double amp =
      v / (std::cosh(c * theta) + (r_drv / r) * (std::cosh((c + 1) * theta) - std::cosh(c * theta)));
  Eigen::VectorXd i(n);
  for (int k = 0; k < n; ++k) i(k) = g * amp * std::cosh((k - c) * theta);
  return i;
}

// Column ladder, every row at V through an ideal driver: u_k = V - c_k = C cosh((k + 1/2) theta)
// (open top end), with R_s (u_M - u_{M-1}) = R (V - u_{M-1}) at the sensed bottom end.
// The sensed current is the sum of all cell currents, G sum u_k.
double column_ladder_current(int m, double v, double g, double r, double r_s) {
  const double theta = std::acosh(1 + r * g / 2);
  auto ch = [&](double k) { return std::cosh((k + 0.5) * theta); };
  const double amp = r * v / (r_s * (ch(m) - ch(m - 1)) + r * ch(m - 1));
  double sum = 0;
  for (int k = 0; k < m; ++k) sum += amp * ch(k);
  return g * sum;
}

}  // namespace

TEST_CASE("a single driven row matches the exact ladder solution on every back end") {
  for (BackendChoice be : {BackendChoice::kCholmod, BackendChoice::kKlu}) {
    for (double r_drv : {0.0, 25.0}) {
      CAPTURE(solvers::to_string(be));
      CAPTURE(r_drv);
      const int n = 200;
      const double g = 1e-4, r = 2.5, v = 0.3;
      CrossbarSpec spec;
      spec.rows = 1;
      spec.cols = n;
      spec.r_row_ohm = r;
      spec.r_col_ohm = 7.0;  // irrelevant with one row: the column node is its own bottom end
      spec.r_driver_ohm = r_drv;
      const RowMatrixXd gm = RowMatrixXd::Constant(1, n, g);
      const RowMatrixXd vin = RowMatrixXd::Constant(1, 1, v);
      const Eigen::VectorXd expect = row_ladder_currents(n, v, g, r, r_drv);
      const RowMatrixXd left = solve_currents(spec, gm, vin, be);
      CHECK(max_rel_diff(left.row(0).transpose(), expect) < kLadderRelTol);
      // Driven from the right, the same ladder mirrored.
      spec.drive = DriveSide::kRight;
      const RowMatrixXd right = solve_currents(spec, gm, vin, be);
      CHECK(max_rel_diff(right.row(0).reverse().transpose(), expect) < kLadderRelTol);
      // The IR drop is real: the far cell carries visibly less than G V.
      CHECK(expect(n - 1) < 0.9 * g * v);
    }
  }
}

TEST_CASE("a single sensed column matches the exact ladder solution on every back end") {
  for (BackendChoice be : {BackendChoice::kCholmod, BackendChoice::kKlu}) {
    for (double r_s : {0.0, 40.0}) {
      CAPTURE(solvers::to_string(be));
      CAPTURE(r_s);
      const int m = 150;
      const double g = 2e-4, r = 3.0, v = 0.2;
      CrossbarSpec spec;
      spec.rows = m;
      spec.cols = 1;
      spec.r_row_ohm = 11.0;  // irrelevant with one column
      spec.r_col_ohm = r;
      spec.r_sense_ohm = r_s;
      const RowMatrixXd gm = RowMatrixXd::Constant(m, 1, g);
      const RowMatrixXd vin = RowMatrixXd::Constant(1, m, v);
      const double expect = column_ladder_current(m, v, g, r, r_s);
      const double bottom = solve_currents(spec, gm, vin, be)(0, 0);
      CHECK(std::abs(bottom - expect) / expect < kLadderRelTol);
      spec.sense = SenseSide::kTop;  // mirrored: same current
      const double top = solve_currents(spec, gm, vin, be)(0, 0);
      CHECK(std::abs(top - expect) / expect < kLadderRelTol);
      CHECK(expect < 0.95 * m * g * v);
    }
  }
}

TEST_CASE("zero wire, driver and sense resistance leaves no unknowns and gives I = G^T V to rounding") {
  const int m = 37, n = 23;
  RowMatrixXd g(m, n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) g(i, j) = 1e-6 + 1e-4 * std::fmod(0.618034 * (i * n + j + 1), 1.0);
  RowMatrixXd v(3, m);
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < m; ++i) v(k, i) = 0.2 * std::sin(1.0 + k + 0.7 * i);
  const RowMatrixXd ideal = v * g;
  for (BackendChoice be : {BackendChoice::kCholmod, BackendChoice::kKlu})
    for (auto drive : {DriveSide::kLeft, DriveSide::kRight})
      for (auto sense : {SenseSide::kBottom, SenseSide::kTop}) {
        CrossbarSpec spec;
        spec.rows = m;
        spec.cols = n;
        spec.r_row_ohm = spec.r_col_ohm = 0;
        spec.drive = drive;
        spec.sense = sense;
        const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
        solvers::CrossbarSolveOptions opt;
        opt.solver.backend = be;
        solvers::CrossbarSolver solver(x, opt);
        const RowMatrixXd got = solver.solve(v).currents;
        // Every node is shorted to a source or a virtual ground: the currents come from KCL
        // at the fixed nodes alone, with no factorization at all.
        CHECK(solver.summary().unknowns == 0);
        CHECK(solver.summary().backend_used == "none");
        const double scale = ideal.cwiseAbs().maxCoeff();
        CHECK((got - ideal).cwiseAbs().maxCoeff() / scale < kIdealRelTol);
      }
}
