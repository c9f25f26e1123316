// Compensation maps of nonlinear arrays, checked by independent solves: ngspice on the map at
// the operating input must give the wire-free column currents (closed form from the cell's
// characteristic), cells pinned at g_max must really fall short there, and the map must
// lower the error over random inputs it was not built for.
#include <doctest/doctest.h>

#include <cmath>

#include "calib/array_evaluation.h"
#include "calib/nonlinear_compensation.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "tests/calib/direct_referee.h"

namespace xbar::calib {
namespace {

netlists::CrossbarSpec spec_of(int64_t m, int64_t n, double r_wire) {
  netlists::CrossbarSpec s;
  s.rows = m;
  s.cols = n;
  s.r_row_ohm = s.r_col_ohm = r_wire;
  s.r_driver_ohm = 10;
  s.r_sense_ohm = 5;
  return s;
}

double max_abs(const RowMatrixXd& a) { return a.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("nonlinear map: ngspice at the operating input gives the wire-free column currents") {
  const int64_t m = 7, n = 6;
  const double v_read = 0.3;
  for (const char* name : {"sinh", "selector", "1t1r"}) {
    CAPTURE(name);
    const auto cell = devices::make_cell_model(name);
    const netlists::CrossbarSpec spec = spec_of(m, n, 8.0);
    const RowMatrixXd g = support::uniform_matrix(m, n, 5e-6, 5e-5, 21);
    CompensationOptions o;
    o.tol = 1e-11;
    o.range = {1e-7, 1e-3};
    const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(m, v_read);
    const Compensation c = compensate_nonlinear(spec, g, cell, v_op, o, {});
    REQUIRE(c.converged);
    CHECK(c.needs_above_max + c.needs_below_min == 0);
    CHECK(c.g_s.minCoeff() >= o.range.g_min_s);
    CHECK(c.g_s.maxCoeff() <= o.range.g_max_s);
    const RowMatrixXd vop = RowMatrixXd::Constant(1, m, v_read);
    const RowMatrixXd want = wire_free_currents(*cell, g, vop);
    const RowMatrixXd spice = test::direct_currents(spec, c.g_s, vop, solvers::BackendChoice::kNgspice, name);
    const RowMatrixXd before = test::direct_currents(spec, g, vop, solvers::BackendChoice::kNgspice, name);
    CHECK(max_abs(before - want) > 1e-3 * max_abs(want));  // the wires matter here
    CHECK(max_abs(spice - want) <= 1e-8 * max_abs(want));
  }
}

TEST_CASE("nonlinear map: wire-free reference is the cell characteristic summed down each column") {
  const auto cell = devices::make_cell_model("sinh");
  const RowMatrixXd g = support::uniform_matrix(3, 2, 1e-6, 1e-4, 2);
  RowMatrixXd v(2, 3);
  v << 0.1, 0.2, 0.3, 0.0, -0.25, 0.05;
  const RowMatrixXd i = wire_free_currents(*cell, g, v);
  const double k = 2.0;  // the sinh cell's default nl-k
  for (int q = 0; q < 2; ++q)
    for (int j = 0; j < 2; ++j) {
      double want = 0;
      for (int r = 0; r < 3; ++r) want += g(r, j) / k * std::sinh(k * v(q, r));
      CHECK(i(q, j) == doctest::Approx(want).epsilon(1e-14));
    }
}

TEST_CASE("nonlinear map: cells pinned at g-max really fall short there; scale auto makes them fit") {
  const int64_t m = 12, n = 10;
  const double v_read = 0.3;
  const auto cell = devices::make_cell_model("1t1r");
  const netlists::CrossbarSpec spec = spec_of(m, n, 20.0);
  const RowMatrixXd g = support::uniform_matrix(m, n, 1e-6, 1e-4, 5);
  CompensationOptions o;
  o.range = {1e-6, 1e-4};
  o.tol = 1e-9;
  const Eigen::VectorXd v_op = Eigen::VectorXd::Constant(m, v_read);
  const Compensation c = compensate_nonlinear(spec, g, cell, v_op, o, {});
  REQUIRE(c.needs_above_max > 0);
  // Referee: the map at g_max everywhere it is pinned, solved natively cell by cell: a pinned
  // cell at g_max must carry less than its target even with the rest of the map as it is.
  const RowMatrixXd vop = RowMatrixXd::Constant(1, m, v_read);
  const RowMatrixXd want = wire_free_currents(*cell, g, vop);
  const RowMatrixXd got = test::direct_currents(spec, c.g_s, vop, solvers::BackendChoice::kNative, "1t1r");
  int64_t pinned = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (c.status(i, j) == uint8_t(CellStatus::kNeedsAboveMax)) {
        ++pinned;
        CHECK(c.g_s(i, j) == o.range.g_max_s);
      }
  CHECK(pinned == c.needs_above_max);
  // Columns holding a pinned cell fall short of their wire-free current.
  for (int64_t j = 0; j < n; ++j)
    if ((c.status.col(j).array() == uint8_t(CellStatus::kNeedsAboveMax)).any()) CHECK(got(0, j) < want(0, j));

  CompensationOptions a = o;
  a.scale_auto = true;
  const Compensation s = compensate_nonlinear(spec, g, cell, v_op, a, {});
  REQUIRE(s.converged);
  CHECK(s.scale < 1.0);
  CHECK(s.needs_above_max == 0);
  CHECK(s.g_s.maxCoeff() <= o.range.g_max_s);
  const RowMatrixXd scaled = test::direct_currents(spec, s.g_s, vop, solvers::BackendChoice::kNative, "1t1r");
  CHECK(max_abs(scaled - s.scale * want) <= 1e-6 * max_abs(want));
}

TEST_CASE("nonlinear evaluation: the map lowers the error over held-out inputs it was not built on") {
  const int64_t m = 16, n = 12;
  const netlists::CrossbarSpec spec = spec_of(m, n, 5.0);
  const RowMatrixXd g = support::uniform_matrix(m, n, 1e-6, 1e-4, 8);
  EvaluationOptions o;
  o.comp.range = {1e-7, 1e-3};
  o.heldout = 40;
  o.calib_inputs = 40;
  o.seed = 4;
  const ArrayEvaluation e = evaluate_array(spec, g, devices::make_cell_model("selector"), o, {});
  REQUIRE(!e.linear);
  REQUIRE(e.comp.converged);
  // Referee for the uncompensated figure: ngspice on the first held-out inputs.
  const RowMatrixXd v = heldout_inputs(o.heldout, m, o.v_read_v, o.inputs, o.seed);
  const RowMatrixXd v3 = v.topRows(3);
  const RowMatrixXd ideal3 = wire_free_currents(*devices::make_cell_model("selector"), g, v3);
  const RowMatrixXd spice3 = test::direct_currents(spec, g, v3, solvers::BackendChoice::kNgspice, "selector");
  const double worst3 = max_abs(spice3 - ideal3);
  CHECK(e.error[kUncompensated].max_abs_a >= worst3 * (1 - 1e-9));
  CHECK(e.error[kUncompensated].max_lsb > 1.0);
  CHECK(e.error[kCompensated].max_lsb < 0.25 * e.error[kUncompensated].max_lsb);
  CHECK(e.reference.find("selector") != std::string::npos);
}

}  // namespace xbar::calib
