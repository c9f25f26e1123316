// calib::effective_matrix and calib::LineModel against independent referees: direct solves of
// the circuit (one factorization, one right-hand side per input, no effective matrix), closed
// forms (no wires: T = G; a 1 x 1 array: resistors in series) and, for the line model, the
// exact effective matrix in the one case where the model has nothing to approximate.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>

#include "calib/effective.h"
#include "calib/line_model.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "support/input_error.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "tests/calib/direct_referee.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;

namespace {

// T and a direct solve are two sparse Cholesky solves of the same SPD system (T through unit
// right-hand sides or the adjoint, the direct path through the actual inputs): they differ by
// rounding, ~1e-14 of the largest current. 1e-10 is the brief's bound; a modelling error (a
// missing sense resistor, a transposed T, a wrong end) shows up at 1e-3 or worse.
constexpr double kDirectRelTol = 1e-10;
// No wire, driver or sense resistance: T = G up to one rounding per entry.
constexpr double kIdealRelTol = 1e-12;

using test::direct_currents;

CrossbarSpec make_spec(int64_t m, int64_t n, double r_row, double r_col, double r_drv, double r_sns,
                       DriveSide d, SenseSide s) {
  CrossbarSpec spec;
  spec.rows = m;
  spec.cols = n;
  spec.r_row_ohm = r_row;
  spec.r_col_ohm = r_col;
  spec.r_driver_ohm = r_drv;
  spec.r_sense_ohm = r_sns;
  spec.drive = d;
  spec.sense = s;
  return spec;
}

double max_abs(const RowMatrixXd& a) { return a.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("effective matrix reproduces direct solves for every drive/sense option and shape") {
  struct Shape {
    int64_t m, n;
  };
  int cases = 0;
  for (Shape sh : {Shape{9, 9}, Shape{5, 13}, Shape{13, 5}})
    for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
      for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
        for (double r_end : {0.0, 40.0}) {
          CAPTURE(sh.m);
          CAPTURE(sh.n);
          CAPTURE(netlists::to_string(d));
          CAPTURE(netlists::to_string(s));
          CAPTURE(r_end);
          // Wires heavy enough that T departs from G by tens of percent.
          const CrossbarSpec spec = make_spec(sh.m, sh.n, 6.0, 9.0, r_end, 0.5 * r_end, d, s);
          const uint64_t seed = 1000 + uint64_t(cases++);
          const RowMatrixXd g = support::uniform_matrix(sh.m, sh.n, 1e-6, 1e-3, seed);
          const RowMatrixXd v = support::uniform_matrix(20, sh.m, -0.2, 0.3, seed + 7777);
          const calib::Effective e = calib::effective_matrix(spec, g, {});
          REQUIRE(e.t.rows() == sh.m);
          REQUIRE(e.t.cols() == sh.n);
          const RowMatrixXd ref = direct_currents(spec, g, v);
          CHECK(max_abs(v * e.t - ref) <= kDirectRelTol * max_abs(ref));
          // Entry by entry: the direct response to a unit volt on each row is T's row.
          const RowMatrixXd eye = RowMatrixXd::Identity(sh.m, sh.m);
          const RowMatrixXd t_ref = direct_currents(spec, g, eye);
          CHECK(max_abs(e.t - t_ref) <= kDirectRelTol * max_abs(t_ref));
          // The test has teeth: the wires make T visibly different from G.
          CHECK(max_abs(e.t - g) > 1e-2 * max_abs(g));
        }
}

TEST_CASE("effective matrix agrees with ngspice on a small array") {
  const CrossbarSpec spec = make_spec(7, 11, 5.0, 3.0, 20.0, 10.0, DriveSide::kBoth, SenseSide::kBottom);
  const RowMatrixXd g = support::uniform_matrix(7, 11, 1e-6, 1e-3, 42);
  const RowMatrixXd v = support::uniform_matrix(4, 7, 0.0, 0.3, 43);
  const RowMatrixXd ref = direct_currents(spec, g, v, BackendChoice::kNgspice);
  const calib::Effective e = calib::effective_matrix(spec, g, {});
  // ngspice and the native solver agree to ~1e-13 (tests/solvers/ngspice_agreement_test.cc).
  CHECK(max_abs(v * e.t - ref) <= 1e-9 * max_abs(ref));
}

TEST_CASE("effective matrix refuses the ngspice back end") {
  const CrossbarSpec spec = make_spec(3, 3, 1.0, 1.0, 0, 0, DriveSide::kLeft, SenseSide::kBottom);
  solvers::SolverOptions so;
  so.backend = BackendChoice::kNgspice;
  CHECK_THROWS_AS(calib::effective_matrix(spec, RowMatrixXd::Constant(3, 3, 1e-5), so), InputError);
}

TEST_CASE("without wire, driver or sense resistance T = G") {
  const std::pair<int64_t, int64_t> kShapes[] = {{6, 10}, {10, 6}};
  for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight})
    for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop}) {
      CAPTURE(netlists::to_string(d));
      CAPTURE(netlists::to_string(s));
      for (const auto& shape : kShapes) {
        const int64_t m = shape.first, n = shape.second;
        const CrossbarSpec spec = make_spec(m, n, 0, 0, 0, 0, d, s);
        const RowMatrixXd g = support::uniform_matrix(m, n, 1e-7, 1e-4, uint64_t(m * 31 + n));
        const calib::Effective e = calib::effective_matrix(spec, g, {});
        CHECK(max_abs(e.t - g) <= kIdealRelTol * max_abs(g));
      }
    }
}

TEST_CASE("1 x 1 array: T = 1 / (1/G + R_driver + R_sense)") {
  // One cell, no segments: driver, cell and sense resistor in series (the wire values are
  // irrelevant and deliberately large).
  const std::pair<double, double> kEnds[] = {{0, 0}, {150, 0}, {0, 80}, {150, 80}};
  for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight})
    for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop})
      for (const auto& ends : kEnds) {
        const double rd = ends.first, rs = ends.second;
        CAPTURE(rd);
        CAPTURE(rs);
        const CrossbarSpec spec = make_spec(1, 1, 1000, 1000, rd, rs, d, s);
        const double g = 3.7e-3;
        const calib::Effective e = calib::effective_matrix(spec, RowMatrixXd::Constant(1, 1, g), {});
        const double expect = 1.0 / (1.0 / g + rd + rs);
        CHECK(std::abs(e.t(0, 0) - expect) <= 1e-13 * expect);
      }
  // Both ends driven and sensed: the two driver resistors are in parallel, as are the two
  // sense resistors.
  const CrossbarSpec both = make_spec(1, 1, 1000, 1000, 150, 80, DriveSide::kBoth, SenseSide::kBoth);
  const double g = 3.7e-3;
  const calib::Effective e = calib::effective_matrix(both, RowMatrixXd::Constant(1, 1, g), {});
  const double expect = 1.0 / (1.0 / g + 75 + 40);
  CHECK(std::abs(e.t(0, 0) - expect) <= 1e-13 * expect);
}

TEST_CASE("line model: inverse(forward(G); G) = G") {
  for (DriveSide d : {DriveSide::kLeft, DriveSide::kBoth})
    for (SenseSide s : {SenseSide::kBottom, SenseSide::kBoth})
      for (double r_end : {0.0, 30.0}) {
        CAPTURE(netlists::to_string(d));
        CAPTURE(netlists::to_string(s));
        CAPTURE(r_end);
        const CrossbarSpec spec = make_spec(17, 23, 4.0, 2.5, r_end, r_end, d, s);
        const RowMatrixXd g = support::uniform_matrix(17, 23, 1e-6, 1e-4, 7);
        const calib::LineModel model(spec);
        const RowMatrixXd t = model.forward(g);
        // Not the identity map: the model attenuates.
        CHECK(max_abs(t - g) > 1e-3 * max_abs(g));
        const RowMatrixXd back = model.inverse(t, g);
        CHECK(((back - g).cwiseAbs().array() / g.array()).maxCoeff() <= 1e-12);
      }
}

TEST_CASE("line model is exact without column coupling (one row) and without row coupling (one column)") {
  // The model stands in 1e-9 ohm for every 0-ohm driver, sense or wire (line_model.h). That
  // stand-in is the only thing it gets wrong here, and its effect is bounded: an ideal driver
  // becomes 1e-9 ohm carrying at most the whole line's current, sum G per volt, so the line
  // voltage moves by at most 1e-9 * sum(G) relative; an ideal sense or wire moves a cell's
  // current by at most 1e-9 * G relative (series resistor), 1e-9 * sum(G) for a whole column
  // ladder. Twice that plus 1e-13 of rounding is the bound; with resistive ends there is no
  // stand-in and the bound is rounding alone.
  auto stand_in_bound = [](const RowMatrixXd& g, bool ideal_ends) {
    return (ideal_ends ? 2 * 1e-9 * g.sum() : 0.0) + 1e-13;
  };
  // One row: the column node of each cell goes straight to its sense end(s); the cells are
  // shunts on one row ladder, which the model solves exactly.
  const std::pair<double, double> kEnds[] = {{0, 0}, {25, 0}, {0, 60}, {25, 60}};
  int k = 0;
  for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
    for (SenseSide s : {SenseSide::kBottom, SenseSide::kBoth})
      for (const auto& ends : kEnds) {
        const double rd = ends.first, rs = ends.second;
        // Sensing both ends of a one-row array through 0 ohm is rejected by the spec (the split
        // between two ideal grounds on one node is undefined).
        if (s == SenseSide::kBoth && rs == 0) continue;
        CAPTURE(netlists::to_string(d));
        CAPTURE(netlists::to_string(s));
        CAPTURE(rd);
        CAPTURE(rs);
        const CrossbarSpec row = make_spec(1, 40, 3.0, 0.0, rd, rs, d, s);
        const RowMatrixXd g = support::uniform_matrix(1, 40, 1e-6, 1e-3, uint64_t(100 + k++));
        const RowMatrixXd exact = calib::effective_matrix(row, g, {}).t;
        const RowMatrixXd model = calib::LineModel(row).forward(g);
        CHECK(max_abs(model - exact) <= stand_in_bound(g, rd == 0 || rs == 0) * max_abs(exact));
        CHECK(max_abs(exact - g) > 1e-2 * max_abs(g));  // the row's IR drop is real
      }
  // One column with ideal rows (0-ohm driver: stand-in): every row node sits at its source
  // voltage, so for "1 V on row i" the column is a ladder fed through cell i, the other cells
  // shunting to 0 V: the model's driving-point resistance and sense fraction are exact there.
  for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
    for (double rs : {0.0, 60.0}) {
      CAPTURE(netlists::to_string(s));
      CAPTURE(rs);
      const CrossbarSpec col = make_spec(40, 1, 0.0, 3.0, 0.0, rs, DriveSide::kLeft, s);
      const RowMatrixXd g = support::uniform_matrix(40, 1, 1e-6, 1e-3, uint64_t(200 + k++));
      const RowMatrixXd exact = calib::effective_matrix(col, g, {}).t;
      const RowMatrixXd model = calib::LineModel(col).forward(g);
      CHECK(max_abs(model - exact) <= stand_in_bound(g, true) * max_abs(exact));
      CHECK(max_abs(exact - g) > 1e-2 * max_abs(g));
    }
}

TEST_CASE("line model is an approximation once rows and columns couple, and a good one") {
  // Not exact (so the exactness test above is not vacuous) but within a few percent of the
  // cell's own scale for a moderately resistive 16 x 16 array, where T itself departs from G
  // by much more.
  const CrossbarSpec spec = make_spec(16, 16, 3.0, 3.0, 0, 0, DriveSide::kLeft, SenseSide::kBottom);
  const RowMatrixXd g = support::uniform_matrix(16, 16, 1e-5, 1e-3, 5);
  const RowMatrixXd exact = calib::effective_matrix(spec, g, {}).t;
  const RowMatrixXd model = calib::LineModel(spec).forward(g);
  const double model_err = max_abs(model - exact), raw_err = max_abs(exact - g);
  CHECK(model_err > 1e-9 * max_abs(exact));
  CHECK(model_err < 0.1 * raw_err);
}
