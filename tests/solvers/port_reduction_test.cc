// PortReduction (the effective matrix from one factorization with the terminals last) against
// two referees: the min(M, N)-solve effective matrix of the assembled circuit
// (CrossbarSolver, the path it replaces: its own MNA assembly with Dirichlet sources, its own
// ordering) and ngspice solving the same circuit for each unit input, for every drive and sense
// option, ideal and resistive drivers and senses, geometry-derived wires, 0-ohm wires and
// single-line arrays.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "solvers/port_reduction.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;

namespace {

// Both routes factor the same SPD system (in different orders) and read T through different
// algebra; each is backward stable, so they differ by rounding amplified by the ratio of wire
// to cell conductance (here up to 1e3): measured <= 2e-14 of max |T|. The bound is
// 1e-12; a modelling error (a missing end, a sign, a transposed T) shows up at 1e-3 or worse.
constexpr double kAgreeRelTol = 1e-12;

double rel_diff(const RowMatrixXd& a, const RowMatrixXd& ref) {
  return (a - ref).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff();
}

CrossbarSpec make_spec(int64_t m, int64_t n, double r_row, double r_col, double r_drv, double r_sns, DriveSide d,
                       SenseSide s) {
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

// The referee: CrossbarSolver's min(M, N) solves through CHOLMOD, or ngspice's currents for
// one unit input per row.
RowMatrixXd solves_t(const CrossbarSpec& spec, const RowMatrixXd& g) {
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions o;
  o.solver.backend = BackendChoice::kCholmod;
  o.effective = solvers::EffectiveMethod::kSolves;
  solvers::CrossbarSolver s(x, o);
  return s.effective_matrix();
}

RowMatrixXd ngspice_t(const CrossbarSpec& spec, const RowMatrixXd& g) {
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions o;
  o.solver.backend = BackendChoice::kNgspice;
  solvers::CrossbarSolver s(x, o);
  return s.solve(RowMatrixXd::Identity(spec.rows, spec.rows)).currents;
}

RowMatrixXd port_t(const CrossbarSpec& spec, const RowMatrixXd& g,
                   solvers::Ordering ord = solvers::Ordering::kAuto) {
  solvers::PortReductionOptions o;
  o.ordering = ord;
  solvers::PortReduction pr(spec, o);
  return pr.effective_matrix(g);
}

}  // namespace

TEST_CASE("port reduction equals the min(M, N)-solve effective matrix for every drive, sense and end resistance") {
  struct Shape {
    int64_t m, n;
  };
  uint64_t seed = 100;
  for (Shape sh : {Shape{7, 11}, Shape{11, 7}})
    for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
      for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
        for (double r_drv : {0.0, 30.0})
          for (double r_sns : {0.0, 12.0}) {
            CAPTURE(sh.m);
            CAPTURE(sh.n);
            CAPTURE(netlists::to_string(d));
            CAPTURE(netlists::to_string(s));
            CAPTURE(r_drv);
            CAPTURE(r_sns);
            const CrossbarSpec spec = make_spec(sh.m, sh.n, 4.0, 7.0, r_drv, r_sns, d, s);
            RowMatrixXd g = support::uniform_matrix(sh.m, sh.n, 1e-6, 2e-3, ++seed);
            g(1, 2) = 0;  // an absent cell
            const RowMatrixXd ref = solves_t(spec, g);
            const RowMatrixXd t = port_t(spec, g);
            CHECK(rel_diff(t, ref) < kAgreeRelTol);
            // The wires matter at these values: T is not G.
            CHECK(rel_diff(g, ref) > 1e-2);
          }
}

TEST_CASE("port reduction equals ngspice's currents for unit inputs for every drive, sense and end resistance") {
  uint64_t seed = 300;
  for (DriveSide d : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
    for (SenseSide s : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
      for (double r_end : {0.0, 20.0}) {
        CAPTURE(netlists::to_string(d));
        CAPTURE(netlists::to_string(s));
        CAPTURE(r_end);
        const CrossbarSpec spec = make_spec(5, 6, 3.0, 5.0, r_end, 0.5 * r_end, d, s);
        const RowMatrixXd g = support::uniform_matrix(5, 6, 1e-6, 2e-3, ++seed);
        CHECK(rel_diff(port_t(spec, g), ngspice_t(spec, g)) < kAgreeRelTol);
      }
}

TEST_CASE("port reduction handles geometry-derived wires, 0-ohm wires and single lines like the solves") {
  struct Case {
    const char* what;
    CrossbarSpec spec;
  };
  std::vector<Case> cases;
  {
    CrossbarSpec s = make_spec(9, 6, 0, 0, 0, 5.0, DriveSide::kBoth, SenseSide::kBottom);
    s.row_geometry = {2.2e-8, 20e-9, 40e-9, 60e-9};  // 1.65 ohm per segment
    s.col_geometry = {1.7e-8, 25e-9, 50e-9, 80e-9};  // 1.09 ohm
    cases.push_back({"geometry", s});
  }
  cases.push_back({"0-ohm rows", make_spec(6, 8, 0.0, 6.0, 10.0, 0.0, DriveSide::kLeft, SenseSide::kBoth)});
  cases.push_back({"0-ohm columns", make_spec(6, 8, 6.0, 0.0, 0.0, 4.0, DriveSide::kBoth, SenseSide::kTop)});
  cases.push_back({"0-ohm both, ideal ends", make_spec(5, 4, 0.0, 0.0, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBottom)});
  cases.push_back({"one row", make_spec(1, 9, 5.0, 5.0, 0.0, 0.0, DriveSide::kBoth, SenseSide::kTop)});
  cases.push_back({"one row, resistive ends", make_spec(1, 9, 5.0, 5.0, 8.0, 3.0, DriveSide::kRight, SenseSide::kBoth)});
  cases.push_back({"one column", make_spec(9, 1, 5.0, 5.0, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBoth)});
  cases.push_back({"one column, both ends resistive", make_spec(9, 1, 5.0, 5.0, 8.0, 3.0, DriveSide::kBoth, SenseSide::kBoth)});
  cases.push_back({"one cell", make_spec(1, 1, 5.0, 5.0, 8.0, 3.0, DriveSide::kLeft, SenseSide::kTop)});
  uint64_t seed = 500;
  for (const Case& c : cases) {
    CAPTURE(std::string(c.what));
    const RowMatrixXd g = support::uniform_matrix(c.spec.rows, c.spec.cols, 1e-6, 2e-3, ++seed);
    const RowMatrixXd ref = solves_t(c.spec, g);
    CHECK(rel_diff(port_t(c.spec, g), ref) < kAgreeRelTol);
    CHECK(rel_diff(port_t(c.spec, g, solvers::Ordering::kAmd), ref) < kAgreeRelTol);
  }
}

TEST_CASE("one port reduction serves several conductance sets with one analysis") {
  const CrossbarSpec spec = make_spec(24, 20, 2.5, 2.5, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBottom);
  solvers::PortReduction pr(spec);
  for (uint64_t seed : {1, 2, 3}) {
    const RowMatrixXd g = support::uniform_matrix(24, 20, 1e-6, 1e-4, seed);
    CHECK(rel_diff(pr.effective_matrix(g), solves_t(spec, g)) < kAgreeRelTol);
  }
  CHECK(pr.stats().factorizations == 3);
  CHECK(pr.stats().terminals == 24 + 20);
  CHECK(pr.stats().ordering_used == "geometric-nd+ports");
}

TEST_CASE("port reduction rejects bad conductances and orderings naming them") {
  const CrossbarSpec spec = make_spec(3, 4, 2.5, 2.5, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBottom);
  solvers::PortReduction pr(spec);
  RowMatrixXd g = RowMatrixXd::Constant(3, 4, 1e-5);
  g(2, 1) = -1e-6;
  CHECK_THROWS_WITH_AS(pr.effective_matrix(g), doctest::Contains("G[2, 1]"), InputError);
  CHECK_THROWS_WITH_AS(pr.effective_matrix(RowMatrixXd::Constant(4, 3, 1e-5)), doctest::Contains("4 x 3"), InputError);
  solvers::PortReductionOptions o;
  o.ordering = solvers::Ordering::kMetis;
  CHECK_THROWS_WITH_AS(solvers::PortReduction(spec, o), doctest::Contains("key ordering"), InputError);
  o.ordering = solvers::Ordering::kGeometric;
  const CrossbarSpec merged = make_spec(3, 4, 0.0, 2.5, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBottom);
  CHECK_THROWS_WITH_AS(solvers::PortReduction(merged, o), doctest::Contains("key ordering = geometric"), InputError);
}

TEST_CASE("CrossbarSolver computes its effective matrix by port reduction under auto and by solves on request") {
  const CrossbarSpec spec = make_spec(12, 16, 3.0, 2.0, 5.0, 0.0, DriveSide::kBoth, SenseSide::kBottom);
  const RowMatrixXd g = support::uniform_matrix(12, 16, 1e-6, 1e-3, 77);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  const RowMatrixXd ref = solves_t(spec, g);
  struct Case {
    BackendChoice backend;
    solvers::EffectiveMethod method;
    const char* used;
  };
  for (Case c : {Case{BackendChoice::kCholmod, solvers::EffectiveMethod::kAuto, "port-reduction"},
                 Case{BackendChoice::kNative, solvers::EffectiveMethod::kAuto, "port-reduction"},
                 Case{BackendChoice::kKlu, solvers::EffectiveMethod::kAuto, "solves"},
                 Case{BackendChoice::kKlu, solvers::EffectiveMethod::kPortReduction, "port-reduction"},
                 Case{BackendChoice::kCholmod, solvers::EffectiveMethod::kSolves, "solves"}}) {
    CAPTURE(solvers::to_string(c.backend));
    CAPTURE(solvers::to_string(c.method));
    solvers::CrossbarSolveOptions o;
    o.solver.backend = c.backend;
    o.effective = c.method;
    solvers::CrossbarSolver s(x, o);
    CHECK(rel_diff(s.effective_matrix(), ref) < kAgreeRelTol);
    CHECK(s.summary().effective_method == c.used);
    // A batch wider than min(M, N) goes through T as well, and says how T was made.
    const solvers::CrossbarSolution r = s.solve(support::uniform_matrix(20, 12, 0, 0.2, 78));
    CHECK(r.summary.batch_method == "effective-matrix");
    CHECK(r.summary.effective_method == c.used);
  }
}

TEST_CASE("the PCG grid path under backend auto takes its effective matrix from the port reduction") {
  // From 2 x 128 x 128 unknowns backend auto solves by PCG on the operator written from the spec.
  const CrossbarSpec spec = make_spec(130, 130, 2.5, 2.5, 0.0, 0.0, DriveSide::kLeft, SenseSide::kBottom);
  const RowMatrixXd g = support::uniform_matrix(130, 130, 1e-6, 1e-4, 79);
  solvers::CrossbarSolveOptions o;
  solvers::CrossbarSolver s(spec, g, devices::make_cell_model("linear"), o);
  REQUIRE(s.from_spec());
  CHECK(rel_diff(s.effective_matrix(), solves_t(spec, g)) < kAgreeRelTol);
  CHECK(s.summary().effective_method == "port-reduction");
  CHECK(s.summary().linear_solves == 0);
}
