// ngspice as the referee: random crossbars of several sizes, square and not, every drive and
// sense option, ideal and resistive virtual grounds, solved natively and by libngspice
// in-process; every node voltage and every column current must agree.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_reader.h"
#include "solvers/circuit_solver.h"
#include "solvers/cholmod_backend.h"
#include "solvers/crossbar_solver.h"
#include "tests/solvers/referees.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;

namespace {

// The acceptance bound: native and ngspice agree to 1e-9 relative. Both are direct
// LU/Cholesky solves of the same linear system, so the true difference is rounding (~1e-13);
// a modelling difference (a missing element, a sign) shows up at 1e-3 or worse.
constexpr double kAgreeRelTol = 1e-9;
// Nodes held at (or within rounding of) 0 V, such as an ideal virtual ground, have no
// meaningful relative error; below 1e-9 of the largest node voltage the comparison is
// absolute against that floor.
constexpr double kVoltageFloorRel = 1e-9;

RowMatrixXd random_matrix(int64_t rows, int64_t cols, double lo, double hi, uint64_t seed) {
  return support::uniform_matrix(rows, cols, lo, hi, seed);
}

struct Agreement {
  double voltage_rel = 0;  // max |dV| / max |V| over every node
  double current_rel = 0;  // max over columns of |dI_j| / |I_j|
  std::string used;        // the native back end that solved
};

Agreement compare(const CrossbarSpec& spec, const RowMatrixXd& g, const RowMatrixXd& v,
                  BackendChoice native) {
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions opt;
  opt.keep_voltages = true;
  opt.solver.backend = native;
  solvers::CrossbarSolver ns(x, opt);
  const auto a = ns.solve(v);
  opt.solver.backend = BackendChoice::kNgspice;
  solvers::CrossbarSolver ng(x, opt);
  const auto b = ng.solve(v);
  REQUIRE(a.all_node_voltages.rows() == x.circuit.num_nodes());
  REQUIRE(b.all_node_voltages.rows() == x.circuit.num_nodes());
  Agreement r;
  r.used = a.summary.backend_used;
  // Node by node, each relative to its own voltage; nodes within kVoltageFloorRel of 0 V
  // (relative to the largest node voltage) are compared on that floor instead.
  const double floor_v = kVoltageFloorRel * b.all_node_voltages.cwiseAbs().maxCoeff();
  r.voltage_rel = ((a.all_node_voltages - b.all_node_voltages).cwiseAbs().array() /
                   b.all_node_voltages.cwiseAbs().array().max(floor_v))
                      .maxCoeff();
  for (Eigen::Index k = 0; k < a.currents.size(); ++k)
    r.current_rel = std::max(r.current_rel, std::abs(a.currents(k) - b.currents(k)) /
                                                std::abs(b.currents(k)));
  return r;
}

}  // namespace

TEST_CASE("native and ngspice agree to 1e-9 on every drive and sense option") {
  // Shapes cycle through square and non-square arrays up to 32 x 32.
  const int64_t shapes[][2] = {{32, 32}, {7, 19}, {24, 5}, {16, 16}, {1, 12}, {9, 1}};
  test::for_each_drive_and_sense(shapes, [&](const CrossbarSpec& spec, int which) {
        const int64_t m = spec.rows, n = spec.cols;
        const RowMatrixXd g = random_matrix(m, n, 1e-6, 1e-4, 1000 + which);
        const RowMatrixXd v = random_matrix(2, m, -0.3, 0.3, 2000 + which);
        // native: Eigen's LDL' at these sizes (solvers/eigen_backend.h); CHOLMOD by name.
        for (BackendChoice b : {BackendChoice::kNative, BackendChoice::kCholmod}) {
          CAPTURE(solvers::to_string(b));
          const Agreement a = compare(spec, g, v, b);
          CHECK(a.used == (b == BackendChoice::kNative ? "eigen" : "cholmod"));
          CHECK(a.voltage_rel < kAgreeRelTol);
          CHECK(a.current_rel < kAgreeRelTol);
        }
  });
}

TEST_CASE("the KLU path agrees with ngspice too") {
  CrossbarSpec spec;
  spec.rows = 20;
  spec.cols = 28;
  spec.r_row_ohm = 5;
  spec.r_col_ohm = 1;
  spec.r_sense_ohm = 3;
  spec.drive = DriveSide::kBoth;
  spec.r_driver_ohm = 7;
  const Agreement a = compare(spec, random_matrix(20, 28, 1e-5, 1e-3, 7),
                              random_matrix(1, 20, 0, 0.5, 8), BackendChoice::kKlu);
  CHECK(a.voltage_rel < kAgreeRelTol);
  CHECK(a.current_rel < kAgreeRelTol);
}

TEST_CASE("the exact effective matrix reproduces ngspice's currents for both solve directions") {
  // M < N solves the forward system per row, M > N the adjoint per column.
  for (auto mn : {std::pair<int64_t, int64_t>{6, 15}, {15, 6}}) {
    CrossbarSpec spec;
    spec.rows = mn.first;
    spec.cols = mn.second;
    spec.r_row_ohm = 3;
    spec.r_col_ohm = 2;
    spec.r_sense_ohm = 10;
    spec.sense = SenseSide::kBoth;
    const RowMatrixXd g = random_matrix(spec.rows, spec.cols, 1e-6, 5e-4, 11);
    const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
    solvers::CrossbarSolveOptions opt;
    solvers::CrossbarSolver ns(x, opt);
    const RowMatrixXd t = ns.effective_matrix();
    const RowMatrixXd v = random_matrix(3, spec.rows, -0.2, 0.2, 12);
    opt.solver.backend = BackendChoice::kNgspice;
    solvers::CrossbarSolver ng(x, opt);
    const RowMatrixXd ref = ng.solve(v).currents;
    const RowMatrixXd got = v * t;
    CHECK(((got - ref).cwiseAbs().array() / ref.cwiseAbs().array()).maxCoeff() < kAgreeRelTol);
    // And the effective matrix is not the ideal one: the wires matter at these values.
    CHECK((t - g).cwiseAbs().maxCoeff() > 1e-3 * g.maxCoeff());
  }
}

TEST_CASE("wide batches (simplicial copy, split over threads) agree with ngspice input by input") {
  // 40 inputs in one direct pass and a 20-row effective matrix both exceed the width at
  // which CholmodBackend switches to its threaded simplicial solve.
  CrossbarSpec spec;
  spec.rows = 20;
  spec.cols = 24;
  spec.r_row_ohm = 2;
  spec.r_col_ohm = 3;
  spec.r_sense_ohm = 5;
  const RowMatrixXd g = random_matrix(spec.rows, spec.cols, 1e-6, 2e-4, 21);
  const RowMatrixXd v = random_matrix(40, spec.rows, -0.25, 0.25, 22);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = BackendChoice::kNgspice;
  solvers::CrossbarSolver ng(x, opt);
  const RowMatrixXd ref = ng.solve(v).currents;
  for (auto method : {solvers::BatchMethod::kDirect, solvers::BatchMethod::kEffective}) {
    CAPTURE(solvers::to_string(method));
    opt.solver.backend = BackendChoice::kCholmod;
    opt.batch = method;
    // The effective matrix through min(M, N) solves (the port reduction needs none).
    opt.effective = solvers::EffectiveMethod::kSolves;
    solvers::CrossbarSolver ns(x, opt);
    const RowMatrixXd got = ns.solve(v).currents;
    CHECK(((got - ref).cwiseAbs().array() / ref.cwiseAbs().array()).maxCoeff() < kAgreeRelTol);
    const auto* be = dynamic_cast<const solvers::CholmodBackend*>(ns.circuit_solver().backend());
    REQUIRE(be != nullptr);
    CHECK(be->uses_simplicial_copy());  // the path this test is about really ran
  }
}

TEST_CASE("wires given by geometry agree with ngspice and equal the same wires given in ohms") {
  CrossbarSpec geo;
  geo.rows = 12;
  geo.cols = 18;
  // 2.2e-8 ohm m, 30 nm x 60 nm, 100 nm pitch: 1.2222 ohm per row segment; columns 0.6111.
  geo.row_geometry = {2.2e-8, 30e-9, 60e-9, 100e-9};
  geo.col_geometry = {2.2e-8, 60e-9, 60e-9, 100e-9};
  geo.r_sense_ohm = 4;
  const RowMatrixXd g = random_matrix(12, 18, 1e-6, 3e-4, 31);
  const RowMatrixXd v = random_matrix(2, 12, 0, 0.3, 32);
  const Agreement a = compare(geo, g, v, BackendChoice::kNative);
  CHECK(a.voltage_rel < kAgreeRelTol);
  CHECK(a.current_rel < kAgreeRelTol);
  // The same array with the closed-form segment ohms typed in: the same circuit.
  CrossbarSpec ohms = geo;
  ohms.row_geometry = {};
  ohms.col_geometry = {};
  ohms.r_row_ohm = 2.2e-8 * 100e-9 / (30e-9 * 60e-9);
  ohms.r_col_ohm = 2.2e-8 * 100e-9 / (60e-9 * 60e-9);
  const auto xg = netlists::build_crossbar(geo, g, devices::make_cell_model("linear"));
  const auto xo = netlists::build_crossbar(ohms, g, devices::make_cell_model("linear"));
  solvers::CrossbarSolveOptions opt;
  solvers::CrossbarSolver sg(xg, opt), so(xo, opt);
  const RowMatrixXd ig = sg.solve(v).currents, io = so.solve(v).currents;
  CHECK(((ig - io).cwiseAbs().array() / io.cwiseAbs().array()).maxCoeff() < 1e-14);
}

TEST_CASE("a 64 x 48 array with every end resistive agrees with ngspice node by node") {
  CrossbarSpec spec;
  spec.rows = 64;
  spec.cols = 48;
  spec.r_row_ohm = 2.5;
  spec.r_col_ohm = 2.5;
  spec.r_driver_ohm = 12;
  spec.r_sense_ohm = 8;
  spec.drive = DriveSide::kBoth;
  spec.sense = SenseSide::kBoth;
  const Agreement a = compare(spec, random_matrix(64, 48, 1e-6, 1e-4, 41),
                              random_matrix(1, 64, 0, 0.2, 42), BackendChoice::kNative);
  CHECK(a.voltage_rel < kAgreeRelTol);
  CHECK(a.current_rel < kAgreeRelTol);
}

TEST_CASE("nodes and sources with names ngspice gives back differently are solved by ngspice as written") {
  // Issue 17: ngspice returns a numeric node "1" as the vector "V(1)", and a node named
  // "v1#branch" collides with the branch current of v1, so `check --deck` of such usual SPICE
  // decks failed ("ngspice result has no vector '1'"). A series chain of 1k + 2k + 3k + 4k from a
  // 1 V source: 0.1 mA, node voltages 0.9, 0.7 and 0.4 V (closed form, exact to rounding). The
  // source "v.a" and the resistor "r+x" need new names in the deck too (`alter`, "#branch");
  // the second input (2 V) goes through `alter`.
  std::istringstream deck(
      "names ngspice gives back differently\n"
      "v.a 1 0 1\n"
      "r+x 1 0012 1k\n"
      "r2 0012 1e3 2k\n"
      "r3 1e3 v1#branch 3k\n"
      "r4 v1#branch 0 4k\n"
      "v1 v1#branch probe 0\n"
      "r5 probe 0 1meg\n"
      ".end\n");
  const netlists::Circuit c = netlists::read_spice(deck, "names.cir");
  solvers::SolverOptions opt;
  opt.backend = BackendChoice::kNgspice;
  solvers::CircuitSolver ng(c, opt);
  Eigen::MatrixXd s(2, 2);
  s << 1.0, 2.0,  // v.a: 1 V, then 2 V
      0.0, 0.0;   // v1: an ammeter
  const solvers::CircuitSolution sol = ng.solve(s);
  // Closed form with r5 (1 Mohm) from "v1#branch" to ground through the 0 V ammeter v1: the
  // lower part is 4k || 1M.
  const double r_low = 4e3 * 1e6 / (4e3 + 1e6), r_total = 6e3 + r_low;
  for (int k = 0; k < 2; ++k) {
    const double vs = s(0, k), i = vs / r_total;
    const std::vector<std::pair<std::string, double>> expected = {
        {"1", vs}, {"0012", vs - i * 1e3}, {"1e3", vs - i * 3e3}, {"v1#branch", i * r_low}, {"probe", i * r_low}};
    for (const auto& [name, v] : expected) {
      CAPTURE(name);
      CHECK(std::abs(sol.node_voltages(c.find_node(name), k) - v) <= kAgreeRelTol * vs);
    }
    CHECK(std::abs(sol.source_currents(0, k) + i) <= kAgreeRelTol * i);                    // into + of v.a: -i
    CHECK(std::abs(sol.source_currents(1, k) - i * r_low / 1e6) <= kAgreeRelTol * i);  // through the ammeter
  }
}
