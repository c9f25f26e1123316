// Flash arrays in calib/ (issue 18): the wire-free reference reads each cell with its own
// word line's voltage (and, with zero-ohm wires and ideal ends, is what the solved array
// gives); the conductance map does not take V_th cells (their map: flash_compensation_test).
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "calib/nonlinear_compensation.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"

namespace xbar::calib {

TEST_CASE("the wire-free flash reference reads every cell at its own word line's voltage") {
  const int64_t m = 5, n = 4;
  devices::CellParams p;
  p.gate_per_row = false;
  p.v_gate_lines_v = {1.6, 1.7, 1.8, 1.9};  // one per column
  const auto cell = devices::make_cell_model("flash", p);
  const RowMatrixXd vth = support::uniform_matrix(m, n, 0.6, 1.9, 3);
  const RowMatrixXd v = support::uniform_matrix(3, m, 0.05, 0.3, 4);
  const RowMatrixXd ideal = wire_free_currents(*cell, vth, v);
  // EKV written out: I = 2 n beta V_T^2 [ln^2(1 + e^{x_f}) - ln^2(1 + e^{x_r})], source at 0.
  const devices::FlashParams fp = p.flash_params();
  const double vt = 1.380649e-23 / 1.602176634e-19 * fp.temperature_k;
  auto f = [](double x) { const double l = std::log1p(std::exp(x)); return l * l; };
  for (int64_t q = 0; q < v.rows(); ++q)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t i = 0; i < m; ++i) {
        const double vp = (p.v_gate_lines_v[size_t(j)] - vth(i, j)) / fp.n;
        sum += 2 * fp.n * fp.beta_a_per_v2 * vt * vt * (f(vp / (2 * vt)) - f((vp - v(q, i)) / (2 * vt)));
      }
      CHECK(ideal(q, j) == doctest::Approx(sum).epsilon(1e-12));
    }
  // With ideal wires and ends the solved array is that reference (Newton's reltol 1e-9).
  netlists::CrossbarSpec spec;
  spec.rows = m;
  spec.cols = n;
  spec.r_row_ohm = spec.r_col_ohm = 0;
  const RowMatrixXd solved = array_currents(spec, vth, cell, v, solvers::SolverOptions{});
  CHECK(((solved - ideal).cwiseAbs().array() / ideal.cwiseAbs().array()).maxCoeff() < 1e-8);
}

TEST_CASE("the conductance map leaves flash cells to the map in conductance equivalents") {
  // compensate_nonlinear() iterates on the per-cell value as a conductance: handed V_th cells
  // it is a programming error (calib::compensate_flash is their map, flash_compensation_test).
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = 3;
  const auto cell = devices::make_cell_model("flash");
  CHECK_THROWS_AS(compensate_nonlinear(spec, RowMatrixXd::Constant(3, 3, 5e-5), cell, Eigen::VectorXd::Constant(3, 0.2),
                                       CompensationOptions{}, solvers::SolverOptions{}),
                  std::logic_error);
}

}  // namespace xbar::calib
