// The flash compensation map (calib/flash_compensation.h), checked by direct solves: the
// thresholds of the map, solved with their wires by ngspice (an independent solver reading
// the cells from B-source expressions), must carry s times the wire-free target currents at
// the operating input, where each target cell carries exactly G v_read; the threshold <->
// conductance-equivalent conversion is checked against the EKV formula written out here.
#include "calib/flash_compensation.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "support/input_error.h"
#include "support/random_array.h"

namespace xbar::calib {

namespace {

// The comp-tol the maps below are built with, and what it allows on a column current: every
// cell within kCompTol of max(target), so a column of M cells within M kCompTol of max(target)
// relative to the largest column current (~ M max(target)) ... within kCompTol of it. ngspice
// keeps 11 digits of each B-source constant (flash_cell.h), ~1e-9 relative in the currents.
constexpr double kCompTol = 1e-7;
constexpr double kColumnTol = 1e-6;
// The conversions: threshold_for_current stops at a 1e-12 relative step of V_P (flash_cell.cc),
// which moves a strong-inversion current by ~1e-11 and a subthreshold one by ~1e-10.
constexpr double kInverseTol = 1e-9;

std::shared_ptr<const devices::FlashCell> flash_cell(const devices::CellParams& p) {
  return std::dynamic_pointer_cast<const devices::FlashCell>(devices::make_cell_model("flash", p));
}

// EKV written out (flash_cell.h): source at 0 V.
double ekv_read(const devices::FlashParams& fp, double vth, double vd, double vg) {
  const double vt = 1.380649e-23 / 1.602176634e-19 * fp.temperature_k;
  auto f = [](double x) {
    const double l = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    return l * l;
  };
  const double vp = (vg - vth) / fp.n;
  return 2 * fp.n * fp.beta_a_per_v2 * vt * vt * (f(vp / (2 * vt)) - f((vp - vd) / (2 * vt)));
}

// Column currents of the array of thresholds vth at every row at v, solved by ngspice.
RowMatrixXd ngspice_columns(const netlists::CrossbarSpec& spec, const RowMatrixXd& vth,
                            std::shared_ptr<const devices::FlashCell> cell, double v) {
  const auto x = netlists::build_crossbar(spec, vth, cell);
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = solvers::BackendChoice::kNgspice;
  return solvers::CrossbarSolver(x, opt).solve(RowMatrixXd::Constant(1, spec.rows, v)).currents;
}

double max_rel(const RowMatrixXd& got, const RowMatrixXd& want) {
  return (got - want).cwiseAbs().maxCoeff() / want.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("flash thresholds and conductance equivalents invert each other and read G v_read in the EKV closed form") {
  devices::CellParams p;
  p.gate_per_row = false;
  p.v_gate_lines_v = {1.5, 1.8, 2.1};  // one word line per column
  const auto cell = flash_cell(p);
  const double v_read = 0.2;
  // Strong inversion (uS) and subthreshold (nS) targets side by side.
  RowMatrixXd g(4, 3);
  g << 1e-4, 5e-5, 1e-5, 1e-6, 2e-7, 5e-8, 1e-8, 1e-9, 3e-10, 7e-5, 3e-6, 4e-9;
  const RowMatrixXd vth = flash_thresholds_for(*cell, g, v_read);
  for (Eigen::Index i = 0; i < g.rows(); ++i)
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      INFO("cell (" << i << ", " << j << "), G = " << g(i, j));
      const double i_read = ekv_read(p.flash_params(), vth(i, j), v_read, p.v_gate_lines_v[size_t(j)]);
      CHECK(std::abs(i_read - g(i, j) * v_read) <= kInverseTol * g(i, j) * v_read);
    }
  const RowMatrixXd back = flash_conductance_equivalent(*cell, vth, v_read);
  CHECK(((back - g).cwiseAbs().array() / g.array()).maxCoeff() <= kInverseTol);
  RowMatrixXd bad = g;
  bad(2, 1) = 0;
  CHECK_THROWS_WITH_AS(flash_thresholds_for(*cell, bad, v_read), doctest::Contains("(2, 1) = 0 S"), InputError);
}

TEST_CASE("the flash map makes every column carry its wire-free target at the operating input, solved by ngspice") {
  netlists::CrossbarSpec spec;
  spec.rows = 6;
  spec.cols = 5;
  spec.r_row_ohm = 20;
  spec.r_col_ohm = 30;
  spec.r_driver_ohm = 15;
  spec.r_sense_ohm = 10;
  const double v_read = 0.2;
  for (const bool per_row : {true, false}) {
    CAPTURE(per_row);
    devices::CellParams p;
    p.gate_per_row = per_row;
    const auto cell = flash_cell(p);
    const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 1e-5, 1e-4, per_row ? 11 : 12);
    CompensationOptions o;
    o.tol = kCompTol;
    const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(spec.rows, v_read);
    const Compensation c = compensate_flash(spec, g, cell, v_op, v_read, o, solvers::SolverOptions{});
    REQUIRE(c.converged);
    REQUIRE(c.needs_above_max + c.needs_below_min == 0);
    // At v_read on every row each target cell reads G v_read without wires: the ideal is G^T v.
    const RowMatrixXd ideal = RowMatrixXd::Constant(1, spec.rows, v_read) * g;
    const RowMatrixXd before = ngspice_columns(spec, flash_thresholds_for(*cell, g, v_read), cell, v_read);
    const RowMatrixXd after = ngspice_columns(spec, flash_thresholds_for(*cell, c.g_s, v_read), cell, v_read);
    CHECK(max_rel(after, ideal) <= kColumnTol);
    // The wires do matter here: the uncompensated array misses by orders of magnitude more.
    CHECK(max_rel(before, ideal) > 1000 * kColumnTol);
    // The map stays inside the window.
    CHECK(c.g_s.minCoeff() >= o.range.g_min_s);
    CHECK(c.g_s.maxCoeff() <= o.range.g_max_s);
  }
}

TEST_CASE("in subthreshold the flash map reaches its tolerance too, checked by ngspice") {
  // nA cells (read current and conductance equivalent both go as e^{-V_th / (n V_T)}): 200 k
  // segments make their currents drop visible voltages (a 19% error before the map).
  netlists::CrossbarSpec spec;
  spec.rows = 5;
  spec.cols = 4;
  spec.r_row_ohm = spec.r_col_ohm = 2e5;
  const double v_read = 0.2;
  const auto cell = flash_cell(devices::CellParams{});
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 5e-10, 5e-8, 21);
  CompensationOptions o;
  o.tol = kCompTol;
  o.range.g_min_s = 1e-10;
  o.range.g_max_s = 1e-7;
  const Compensation c = compensate_flash(spec, g, cell, Eigen::VectorXd::Constant(spec.rows, v_read), v_read, o,
                                          solvers::SolverOptions{});
  REQUIRE(c.converged);
  const RowMatrixXd ideal = RowMatrixXd::Constant(1, spec.rows, v_read) * g;
  CHECK(max_rel(ngspice_columns(spec, flash_thresholds_for(*cell, c.g_s, v_read), cell, v_read), ideal) <= kColumnTol);
  CHECK(max_rel(ngspice_columns(spec, flash_thresholds_for(*cell, g, v_read), cell, v_read), ideal) > 1000 * kColumnTol);
}

TEST_CASE("flash cells the window cannot reach are reported, and scale auto fits every cell under g-max") {
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = 8;
  spec.r_row_ohm = spec.r_col_ohm = 40;
  const double v_read = 0.2;
  const auto cell = flash_cell(devices::CellParams{});
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 6e-5, 1e-4, 31);
  CompensationOptions o;
  o.tol = kCompTol;
  const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(spec.rows, v_read);
  const Compensation fixed = compensate_flash(spec, g, cell, v_op, v_read, o, solvers::SolverOptions{});
  // Near g-max the far cells need more than the window allows: pinned at g-max and counted.
  CHECK(fixed.needs_above_max > 0);
  int64_t pinned = 0;
  for (Eigen::Index k = 0; k < fixed.status.size(); ++k)
    if (fixed.status.data()[k] == uint8_t(CellStatus::kNeedsAboveMax)) {
      ++pinned;
      CHECK(fixed.g_s.data()[k] == o.range.g_max_s);
    }
  CHECK(pinned == fixed.needs_above_max);
  o.scale_auto = true;
  const Compensation scaled = compensate_flash(spec, g, cell, v_op, v_read, o, solvers::SolverOptions{});
  REQUIRE(scaled.converged);
  CHECK(scaled.needs_above_max == 0);
  CHECK(scaled.scale < 1.0);
  const RowMatrixXd ideal = RowMatrixXd::Constant(1, spec.rows, v_read) * g;
  CHECK(max_rel(ngspice_columns(spec, flash_thresholds_for(*cell, scaled.g_s, v_read), cell, v_read),
                scaled.scale * ideal) <= kColumnTol);
}

TEST_CASE("a flash map with g-min = 0 is refused, naming the key") {
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = 2;
  CompensationOptions o;
  o.range.g_min_s = 0;
  CHECK_THROWS_WITH_AS(compensate_flash(spec, RowMatrixXd::Constant(2, 2, 5e-5), flash_cell(devices::CellParams{}),
                                        Eigen::VectorXd::Constant(2, 0.2), 0.2, o, solvers::SolverOptions{}),
                       doctest::Contains("key g-min = 0"), InputError);
}

}  // namespace xbar::calib
