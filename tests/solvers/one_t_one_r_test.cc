// 1T1R cells through Newton (issue 4, item 1): a memory element in series with a level-1
// access NMOS whose internal node is an unknown of the nodal system. A single cell against an
// independent scalar root-find in both transistor regions, arrays against ngspice's own
// level-1 MOSFET in both regions with gates per row and per column, and cut-off transistors.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <functional>

#include "support/input_error.h"
#include "devices/linear_cell.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "tests/solvers/referees.h"
#include "solvers/mna_system.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;
using test::bisect;
using test::max_rel;

namespace {

// ngspice runs with reltol 1e-9 (NgspiceOptions) and Newton natively with reltol 1e-9: 1e-6
// is the acceptance bound, three orders above either solver's stopping rule.
constexpr double kNgspiceRelTol = 1e-6;
// Node voltages, volts: the same bound relative to the 1 V full-scale read.
constexpr double kNodeTolV = 1e-6;
// Against a scalar root found to machine precision: Newton's reltol plus rounding.
constexpr double kScalarRelTol = 1e-8;
// ngspice's default gmin, which the native model carries as the drain-source leakage.
constexpr double kGmin = 1e-12;

// The Shichman-Hodges drain current written out independently of devices/, for V_ds >= 0
// (the single-cell tests read with positive voltages), plus ngspice's gmin across the drain
// junction.
double level1_current(double beta, double vto, double lambda, double vgs, double vds) {
  const double vov = vgs - vto;
  double i = 0;
  if (vov > 0 && vds >= vov) i = 0.5 * beta * vov * vov * (1 + lambda * vds);       // saturation
  else if (vov > 0) i = beta * (vov - 0.5 * vds) * vds * (1 + lambda * vds);         // linear
  return i + kGmin * vds;
}

enum class Region { kCutoff, kLinear, kSaturation };
Region region_of(double vto, double vgs, double vds) {
  if (vgs - vto <= 0) return Region::kCutoff;
  return vds >= vgs - vto ? Region::kSaturation : Region::kLinear;
}

struct Solved {
  RowMatrixXd currents;
  Eigen::MatrixXd nodes;  // every circuit node, num_nodes x K
  solvers::SolveSummary summary;
};

Solved solve(const netlists::CrossbarCircuit& x, const RowMatrixXd& v, BackendChoice be) {
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = be;
  opt.keep_voltages = true;
  solvers::CrossbarSolver s(x, opt);
  auto r = s.solve(v);
  return {r.currents, r.all_node_voltages, r.summary};
}

// Counts the access transistors of input k in each region, from solved node voltages.
std::array<int, 3> count_regions(const netlists::CrossbarCircuit& x, const Eigen::MatrixXd& nodes,
                                 Eigen::Index k, double vto) {
  std::array<int, 3> n{0, 0, 0};
  for (const auto& e : x.circuit.elements()) {
    if (e.kind != netlists::ElementKind::kTransistor) continue;
    double vd = nodes(e.pos, k), vs = nodes(e.neg, k);
    const double vg = nodes(e.gate, k);
    if (vd < vs) std::swap(vd, vs);  // symmetric device: the lower terminal acts as source
    ++n[size_t(region_of(vto, vg - vs, vd - vs))];
  }
  return n;
}

}  // namespace

TEST_CASE("a single 1T1R cell matches a scalar root-find in saturation and in the linear region") {
  struct Case {
    const char* what;
    double g_s, v_read_v, v_gate_v, r_driver_ohm, r_sense_ohm;
    Region expect;
  };
  // Near threshold (0.3 V overdrive) a 1 mS cell leaves almost the whole read voltage on the
  // transistor: saturation. At 2.5 V overdrive a 100 uS cell read at 0.3 V leaves it a few
  // tens of mV: linear. Each once between ideal sources (the source terminal sits on the
  // fixed virtual ground) and once behind driver and sense resistors (a free source node).
  const Case cases[] = {{"saturation, ideal sources", 1e-3, 1.0, 0.8, 0, 0, Region::kSaturation},
                        {"saturation, resistive ends", 1e-3, 1.0, 0.8, 200, 300, Region::kSaturation},
                        {"linear, ideal sources", 1e-4, 0.3, 3.0, 0, 0, Region::kLinear},
                        {"linear, resistive ends", 1e-4, 0.3, 3.0, 200, 300, Region::kLinear}};
  devices::CellParams p;
  p.mos_vto_v = 0.5;
  p.mos_kp_a_per_v2 = 2e-4;
  p.mos_w_over_l = 2.0;
  p.mos_lambda_per_v = 0.05;
  const double beta = p.mos_kp_a_per_v2 * p.mos_w_over_l;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    p.v_gate_v = c.v_gate_v;
    // One current I flows V -> r_drv -> 1/G -> transistor -> r_sense -> 0 V, so for a trial I
    // the drain sits at V - I (r_drv + 1/G) and the source at I r_sense. I minus the
    // transistor current at those terminal voltages increases with I: bisect on I.
    const double r_total = c.r_driver_ohm + 1.0 / c.g_s;
    const double i_expect = bisect(
        [&](double i) {
          const double vd = c.v_read_v - i * r_total, vs = i * c.r_sense_ohm;
          return i - level1_current(beta, p.mos_vto_v, p.mos_lambda_per_v, c.v_gate_v - vs, vd - vs);
        },
        0.0, c.v_read_v / r_total);
    const double vd = c.v_read_v - i_expect * r_total, vs = i_expect * c.r_sense_ohm;
    CHECK(region_of(p.mos_vto_v, c.v_gate_v - vs, vd - vs) == c.expect);

    CrossbarSpec spec;
    spec.rows = spec.cols = 1;
    spec.r_driver_ohm = c.r_driver_ohm;
    spec.r_sense_ohm = c.r_sense_ohm;
    const auto cell = devices::make_cell_model("1t1r", p);
    const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(1, 1, c.g_s), cell);
    const Solved s = solve(x, RowMatrixXd::Constant(1, 1, c.v_read_v), BackendChoice::kNative);
    CHECK(std::abs(s.currents(0, 0) - i_expect) / i_expect < kScalarRelTol);
    CHECK(s.summary.backend_used == "klu");  // the Jacobian is not symmetric
    CHECK(s.summary.newton_iterations > 1);  // really nonlinear
    // The internal node is a solved unknown, at the voltage the root-find implies.
    CHECK(std::abs(s.nodes(x.circuit.cell_node(0, 0), 0) - vd) < kScalarRelTol * c.v_read_v);
    // The cell's own two-terminal characteristic (column at 0 V) is the same series pair.
    if (c.r_driver_ohm == 0 && c.r_sense_ohm == 0)
      CHECK(std::abs(cell->evaluate(c.g_s, c.v_read_v).i_a - i_expect) / i_expect < kScalarRelTol);
  }
}

TEST_CASE("1T1R arrays agree with ngspice in both regions, gates per row and per column") {
  struct Config {
    const char* what;
    double v_gate_v, v_lo_v, v_hi_v, g_lo_s, g_hi_s;
    Region dominant;
  };
  // Near threshold the access transistors saturate (the cell current is the transistor's);
  // with a high gate and small (also negative: inverse mode) reads they are linear resistors.
  const Config configs[] = {{"near threshold", 0.85, 0.7, 1.0, 5e-5, 2e-4, Region::kSaturation},
                            {"high gate", 2.5, -0.3, 0.3, 1e-6, 1e-4, Region::kLinear}};
  const int64_t sizes[][2] = {{24, 24}, {7, 13}, {16, 5}};
  int which = 0;
  for (const Config& cfg : configs)
    for (bool per_row : {true, false})
      for (auto sense : {SenseSide::kBottom, SenseSide::kBoth}) {
        CrossbarSpec spec;
        spec.rows = sizes[which % 3][0];
        spec.cols = sizes[which % 3][1];
        ++which;
        spec.r_row_ohm = 2.5;
        spec.r_col_ohm = 4;
        spec.r_driver_ohm = which % 2 ? 0 : 20;
        spec.r_sense_ohm = which % 3 ? 10 : 0;
        spec.drive = which % 2 ? DriveSide::kLeft : DriveSide::kBoth;
        spec.sense = sense;
        CAPTURE(std::string(cfg.what));
        CAPTURE(per_row);
        CAPTURE(spec.rows);
        CAPTURE(spec.cols);
        CAPTURE(netlists::to_string(sense));
        devices::CellParams p;
        p.mos_vto_v = 0.5;
        p.mos_lambda_per_v = 0.08;
        p.mos_w_over_l = 1.5;
        p.v_gate_v = cfg.v_gate_v;
        p.gate_per_row = per_row;
        RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, cfg.g_lo_s, cfg.g_hi_s, 300 + which);
        g(0, 0) = 0;  // an open memory element: its internal node hangs on the transistor alone
        const RowMatrixXd v = support::uniform_matrix(2, spec.rows, cfg.v_lo_v, cfg.v_hi_v, 400 + which);
        const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("1t1r", p));
        const Solved a = solve(x, v, BackendChoice::kNative);
        const Solved b = solve(x, v, BackendChoice::kNgspice);
        CHECK(max_rel(a.currents, b.currents) < kNgspiceRelTol);
        // Every node too, the internal ones included (volts; the reads are up to 1 V).
        CHECK((a.nodes - b.nodes).cwiseAbs().maxCoeff() < kNodeTolV);
        // The transistors really are where the configuration puts them (counted natively).
        const auto n = count_regions(x, a.nodes, 0, p.mos_vto_v);
        INFO("cutoff " << n[0] << ", linear " << n[1] << ", saturation " << n[2]);
        CHECK(n[size_t(cfg.dominant)] >= int(0.9 * double(spec.rows * spec.cols)));
      }
}

TEST_CASE("internal cell nodes are condensed out of the factorization and still satisfy KCL") {
  // Newton eliminates each m(i,j) from the linearized system before factorizing and recovers
  // it by back substitution (newton.h): those are exactly the internal nodes, and at every one
  // of them the memory element's current must equal the transistor's, written out
  // independently above, to Newton's current tolerance.
  CrossbarSpec spec;
  spec.rows = 9;
  spec.cols = 11;
  spec.r_row_ohm = 2.5;
  spec.r_col_ohm = 4;
  spec.r_driver_ohm = 20;  // every grid node free: each m(i,j) has two free neighbours
  spec.r_sense_ohm = 10;
  devices::CellParams p;
  p.mos_vto_v = 0.5;
  p.mos_lambda_per_v = 0.08;
  p.mos_w_over_l = 1.5;
  p.v_gate_v = 0.9;  // 0.4 V of overdrive: the larger cells saturate their transistors
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 1e-6, 3e-4, 21);
  const RowMatrixXd v = support::uniform_matrix(1, spec.rows, 0.2, 1.0, 22);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("1t1r", p));

  solvers::CrossbarSolveOptions opt;
  opt.keep_voltages = true;
  solvers::CrossbarSolver native(x, opt);
  const solvers::MnaSystem& mna = native.circuit_solver().mna();
  REQUIRE(mna.internal_nodes().size() == size_t(spec.rows * spec.cols));
  for (int64_t k : mna.internal_nodes()) CHECK_MESSAGE(mna.unknown_name(k).rfind("node m", 0) == 0, mna.unknown_name(k));
  const auto a = native.solve(v);
  const Eigen::MatrixXd& nodes = a.all_node_voltages;

  const double beta = p.mos_kp_a_per_v2 * p.mos_w_over_l;
  double largest = 0, worst = 0;
  std::array<int, 3> regions{0, 0, 0};
  for (int32_t i = 0; i < spec.rows; ++i)
    for (int32_t j = 0; j < spec.cols; ++j) {
      const double vr = nodes(x.circuit.row_node(i, j), 0), vm = nodes(x.circuit.cell_node(i, j), 0);
      const double vc = nodes(x.circuit.col_node(i, j), 0);
      const double i_mem = g(i, j) * (vr - vm);
      const double i_tr = level1_current(beta, p.mos_vto_v, p.mos_lambda_per_v, p.v_gate_v - vc, vm - vc);
      largest = std::max(largest, std::abs(i_mem));
      worst = std::max(worst, std::abs(i_mem - i_tr));
      ++regions[size_t(region_of(p.mos_vto_v, p.v_gate_v - vc, vm - vc))];
    }
  CHECK(worst <= solvers::NewtonOptions{}.reltol * largest + solvers::NewtonOptions{}.abstol_a);
  CHECK(regions[size_t(Region::kLinear)] > 0);
  CHECK(regions[size_t(Region::kSaturation)] > 0);

  // And the whole answer is ngspice's, internal nodes included.
  const Solved b = solve(x, v, BackendChoice::kNgspice);
  CHECK(max_rel(a.currents, b.currents) < kNgspiceRelTol);
  CHECK((nodes - b.nodes).cwiseAbs().maxCoeff() < kNodeTolV);
}

TEST_CASE("nonlinear two-terminal cells leave no internal nodes to condense") {
  CrossbarSpec spec;
  spec.rows = 3;
  spec.cols = 4;
  const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(3, 4, 5e-5),
                                          devices::make_cell_model("sinh", {}));
  CHECK(solvers::MnaSystem(x.circuit).internal_nodes().empty());
}

TEST_CASE("a cut-off access transistor passes only gmin leakage and Newton still converges") {
  CrossbarSpec spec;
  spec.rows = 12;
  spec.cols = 9;
  spec.r_row_ohm = 2.5;
  spec.r_col_ohm = 4;
  devices::CellParams p;
  p.mos_vto_v = 0.5;
  p.v_gate_v = 0.3;  // below threshold with the columns near 0 V: every transistor is off
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 1e-6, 1e-4, 11);
  const RowMatrixXd v = support::uniform_matrix(1, spec.rows, 0.1, 0.5, 12);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("1t1r", p));
  const Solved a = solve(x, v, BackendChoice::kNative);
  CHECK(count_regions(x, a.nodes, 0, p.mos_vto_v)[0] == spec.rows * spec.cols);
  // Each cell is then G in series with gmin: I = V G gmin / (G + gmin), up to the wires' drops
  // (pA through ohms: far below the tolerance).
  for (int64_t j = 0; j < spec.cols; ++j) {
    double expect = 0;
    for (int64_t i = 0; i < spec.rows; ++i) expect += v(0, i) * g(i, j) * kGmin / (g(i, j) + kGmin);
    CHECK(std::abs(a.currents(0, j) - expect) / expect < 1e-6);
  }
  const Solved b = solve(x, v, BackendChoice::kNgspice);
  CHECK(max_rel(a.currents, b.currents) < kNgspiceRelTol);
}

TEST_CASE("the 1T1R Jacobian is not symmetric: a cholmod request falls back to klu and says why") {
  CrossbarSpec spec;
  spec.rows = 3;
  spec.cols = 4;
  const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(3, 4, 5e-5),
                                          devices::make_cell_model("1t1r", {}));
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = BackendChoice::kCholmod;
  solvers::CrossbarSolver s(x, opt);
  CHECK(!s.circuit_solver().mna().symmetric());
  CHECK(s.summary().backend_used == "klu");
  CHECK(s.summary().message.find("12 transistor(s)") != std::string::npos);
  // 3 x 4 cells: 2MN grid nodes + MN internal nodes are unknowns (row ends and gates fixed).
  CHECK(s.circuit_solver().mna().num_free_nodes() == 3 * 3 * 4 - 3 - 4);
}

TEST_CASE("a 1t1r cell that was not expanded by the builder is refused with its name") {
  netlists::Circuit c;
  c.set_grid(1, 1);
  const uint16_t m = c.add_cell_model(devices::make_cell_model("1t1r", {}));
  c.add_element(netlists::ElementKind::kVoltageSource, netlists::Role::kSourceLeft, 0, 0,
                c.row_node(0, 0), netlists::kGround, 0.2);
  c.add_element(netlists::ElementKind::kCell, netlists::Role::kCell, 0, 0, c.row_node(0, 0),
                c.col_node(0, 0), 1e-4, m);
  c.add_element(netlists::ElementKind::kVoltageSource, netlists::Role::kVgndBottom, 0, 0,
                c.col_node(0, 0), netlists::kGround, 0.0);
  CHECK_THROWS_WITH_AS(solvers::MnaSystem{c}, doctest::Contains("cell 'rcell_0_0': model '1t1r'"),
                       InputError);
}
