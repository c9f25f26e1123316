// Flash arrays through Newton (issue 18): one cell against ngspice's B-source from deep
// subthreshold to strong inversion and against a scalar root-find behind driver and sense
// resistors; arrays up to 24 x 24 against ngspice with gate lines per row, per column and
// global (each line at its own voltage), wires, driver and sense resistance; KCL at every
// node with the current written out independently; the region report.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <sstream>

#include "devices/flash_cell.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "solvers/mna_system.h"
#include "tests/solvers/referees.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;
using test::bisect;
using test::max_rel;

namespace {

// ngspice (reltol 1e-9, NgspiceOptions) and native Newton (reltol 1e-9): the bound of
// 1e-6 relative on every column current is three orders above either stopping rule.
constexpr double kNgspiceRelTol = 1e-6;
// Node voltages, volts: the same bound on reads of at most 0.5 V.
constexpr double kNodeTolV = 1e-6;
// A cell between ideal sources: ngspice evaluates its B-source at fixed node voltages, the
// same formula as natively, but ngspice keeps only 11 significant digits of each constant in
// a B-source expression (measured with ngspice 39: 12.345678901234567 evaluates as
// 12.345678901), a relative error up to 5e-12 per constant. Far below threshold the current
// goes as e^{2 x_f}, so that error reaches the current amplified by 2 |x_f| (<= 110 here):
// <= 4 constants x 5e-12 x 110 = 2.2e-9. Hence 1e-8; a wrong term would be O(1).
constexpr double kSingleCellRelTol = 1e-8;
// Against a scalar root found to machine precision: Newton's reltol plus rounding.
constexpr double kScalarRelTol = 1e-8;

// I = 2 n beta V_T^2 [ln^2(1 + e^{x_f}) - ln^2(1 + e^{x_r})], written out independently of
// devices/ (log1p for accuracy far below threshold; the arguments here stay below 700).
double ekv_current(const devices::FlashParams& p, double vth, double vd, double vg, double vs) {
  const double vt = 1.380649e-23 / 1.602176634e-19 * p.temperature_k;
  const double vp = (vg - vth) / p.n;
  auto f = [](double x) {
    const double l = x > 30 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    return l * l;
  };
  return 2 * p.n * p.beta_a_per_v2 * vt * vt * (f((vp - vs) / (2 * vt)) - f((vp - vd) / (2 * vt)));
}

struct Solved {
  RowMatrixXd currents;
  Eigen::MatrixXd nodes;  // every circuit node, num_nodes x K
  solvers::SolveSummary summary;
  solvers::CellRegions regions;
};

Solved solve(const netlists::CrossbarCircuit& x, const RowMatrixXd& v, BackendChoice be) {
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = be;
  opt.keep_voltages = true;
  opt.keep_regions = true;
  solvers::CrossbarSolver s(x, opt);
  auto r = s.solve(v);
  return {r.currents, r.all_node_voltages, r.summary, r.regions};
}

devices::CellParams flash_params(double v_gate) {
  devices::CellParams p;
  p.flash_beta_a_per_v2 = 1e-4;
  p.flash_n = 1.5;
  p.temperature_k = 300;
  p.v_gate_v = v_gate;
  return p;
}

}  // namespace

TEST_CASE("one flash cell between ideal sources reads ngspice's B-source current from 1e-30 A to 1e-4 A") {
  // No unknowns but the source branches: ngspice evaluates the expression at the driven node
  // voltages, which checks the deck's formula (and its softplus far below threshold, where
  // ln(1 + e^x) would round to 0) against the native one.
  CrossbarSpec spec;
  spec.rows = spec.cols = 1;
  const devices::CellParams p = flash_params(1.8);
  const auto cell = devices::make_cell_model("flash", p);
  int regions[4] = {0, 0, 0, 0};
  for (double vth : {6.0, 4.0, 3.0, 2.2, 1.9, 1.75, 1.5, 1.0, 0.3, -0.5})
    for (double v : {-0.3, 0.05, 0.2, 0.8}) {
      const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(1, 1, vth), cell);
      const RowMatrixXd in = RowMatrixXd::Constant(1, 1, v);
      const Solved a = solve(x, in, BackendChoice::kNative);
      const Solved b = solve(x, in, BackendChoice::kNgspice);
      CAPTURE(vth);
      CAPTURE(v);
      CAPTURE(b.currents(0, 0));
      CHECK(std::abs(a.currents(0, 0) - b.currents(0, 0)) <= kSingleCellRelTol * std::abs(b.currents(0, 0)));
      CHECK(a.currents(0, 0) == doctest::Approx(ekv_current(p.flash_params(), vth, v, 1.8, 0)).epsilon(1e-13));
      ++regions[a.regions.region(0, 0)];
    }
  for (int q = 0; q < 4; ++q) CHECK_MESSAGE(regions[q] > 0, "region " << q << " never read");
}

TEST_CASE("one flash cell behind driver and sense resistors matches a scalar root-find in each region") {
  struct Case {
    const char* what;
    double vth_v, v_read_v;
    devices::FlashRegion expect;
  };
  const Case cases[] = {{"subthreshold", 2.6, 0.3, devices::FlashRegion::kSubthreshold},
                        {"moderate", 1.75, 0.3, devices::FlashRegion::kModerate},
                        {"linear", 0.4, 0.1, devices::FlashRegion::kLinear},
                        {"saturation", 1.3, 1.0, devices::FlashRegion::kSaturation}};
  const devices::CellParams p = flash_params(1.8);
  const double r_drv = 2000, r_sns = 1000;
  for (const Case& c : cases) {
    CAPTURE(c.what);
    // One current I flows V -> r_drv -> cell -> r_sense -> 0 V: drain at V - I r_drv, source at
    // I r_sense. I minus the cell's current there increases with I: bisect on I.
    const double i_expect = bisect(
        [&](double i) { return i - ekv_current(p.flash_params(), c.vth_v, c.v_read_v - i * r_drv, 1.8, i * r_sns); },
        0.0, c.v_read_v / (r_drv + r_sns));
    CrossbarSpec spec;
    spec.rows = spec.cols = 1;
    spec.r_driver_ohm = r_drv;
    spec.r_sense_ohm = r_sns;
    const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(1, 1, c.vth_v), devices::make_cell_model("flash", p));
    const Solved s = solve(x, RowMatrixXd::Constant(1, 1, c.v_read_v), BackendChoice::kNative);
    CHECK(std::abs(s.currents(0, 0) - i_expect) <= kScalarRelTol * i_expect);
    CHECK(s.summary.backend_used == "klu");  // the Jacobian is not symmetric
    CHECK(s.regions.region(0, 0) == uint8_t(c.expect));
    const Solved b = solve(x, RowMatrixXd::Constant(1, 1, c.v_read_v), BackendChoice::kNgspice);
    CHECK(max_rel(s.currents, b.currents) < kNgspiceRelTol);
  }
}

TEST_CASE("flash arrays agree with ngspice: gates per row, per column and global, wires, drivers and sense resistors") {
  struct Config {
    const char* what;
    double vth_lo_v, vth_hi_v, v_lo_v, v_hi_v;
    devices::FlashRegion dominant;
  };
  // Gates at about 1.8 V. High thresholds: every cell below threshold (read currents of pA to
  // nA). Low thresholds with small reads: strongly inverted channels, the linear region (also
  // negative reads: drain and source swap). Mid thresholds with 1 V reads: saturation.
  const Config configs[] = {
      {"subthreshold", 2.3, 3.0, 0.1, 0.5, devices::FlashRegion::kSubthreshold},
      {"linear", 0.2, 0.9, -0.2, 0.2, devices::FlashRegion::kLinear},
      {"saturation", 0.9, 1.3, 0.8, 1.0, devices::FlashRegion::kSaturation}};
  const int64_t sizes[][2] = {{24, 24}, {7, 13}, {16, 5}};
  int which = 0;
  for (const Config& cfg : configs)
    for (devices::GateLayout layout :
         {devices::GateLayout::kPerRow, devices::GateLayout::kPerColumn, devices::GateLayout::kGlobal}) {
      CrossbarSpec spec;
      spec.rows = sizes[which % 3][0];
      spec.cols = sizes[which % 3][1];
      ++which;
      spec.r_row_ohm = 2.5;
      spec.r_col_ohm = 4;
      spec.r_driver_ohm = which % 2 ? 0 : 20;
      spec.r_sense_ohm = which % 3 ? 10 : 0;
      spec.drive = which % 2 ? DriveSide::kLeft : DriveSide::kBoth;
      spec.sense = which % 4 < 2 ? SenseSide::kBottom : SenseSide::kBoth;
      CAPTURE(std::string(cfg.what));
      CAPTURE(devices::to_string(layout));
      CAPTURE(spec.rows);
      CAPTURE(spec.cols);
      devices::CellParams p = flash_params(1.8);
      p.gate_per_row = layout == devices::GateLayout::kPerRow;
      p.gate_global = layout == devices::GateLayout::kGlobal;
      // Each line at its own voltage (1.7-1.9 V), so that per-row and per-column gates are
      // really different circuits.
      const int64_t lines = layout == devices::GateLayout::kPerRow      ? spec.rows
                            : layout == devices::GateLayout::kPerColumn ? spec.cols
                                                                        : 1;
      const RowMatrixXd vg = support::uniform_matrix(1, lines, 1.7, 1.9, 500 + which);
      p.v_gate_lines_v.assign(vg.data(), vg.data() + lines);
      const RowMatrixXd vth = support::uniform_matrix(spec.rows, spec.cols, cfg.vth_lo_v, cfg.vth_hi_v, 300 + which);
      const RowMatrixXd v = support::uniform_matrix(2, spec.rows, cfg.v_lo_v, cfg.v_hi_v, 400 + which);
      const auto x = netlists::build_crossbar(spec, vth, devices::make_cell_model("flash", p));
      const Solved a = solve(x, v, BackendChoice::kNative);
      const Solved b = solve(x, v, BackendChoice::kNgspice);
      CHECK(max_rel(a.currents, b.currents) < kNgspiceRelTol);
      CHECK((a.nodes - b.nodes).cwiseAbs().maxCoeff() < kNodeTolV);
      CHECK(a.summary.newton_iterations > 2);  // really nonlinear
      // The cells are where the configuration puts them (the native report), and the report
      // from ngspice's node voltages says the same.
      INFO("regions: " << a.regions.counts[0] << " subthreshold, " << a.regions.counts[1] << " moderate, "
                       << a.regions.counts[2] << " linear, " << a.regions.counts[3] << " saturation");
      CHECK(a.regions.counts[size_t(cfg.dominant)] >= int64_t(0.9 * 2 * double(spec.rows * spec.cols)));
      CHECK(a.regions.region == b.regions.region);
    }
}

TEST_CASE("a solved flash array satisfies KCL at every node with the EKV current written out independently") {
  CrossbarSpec spec;
  spec.rows = 9;
  spec.cols = 11;
  spec.r_row_ohm = 5;
  spec.r_col_ohm = 8;
  spec.r_driver_ohm = 50;
  spec.r_sense_ohm = 30;
  spec.drive = DriveSide::kBoth;
  devices::CellParams p = flash_params(1.8);
  p.gate_per_row = false;
  const RowMatrixXd vth = support::uniform_matrix(spec.rows, spec.cols, 0.3, 2.4, 31);
  const RowMatrixXd v = support::uniform_matrix(1, spec.rows, 0.05, 0.6, 32);
  const auto x = netlists::build_crossbar(spec, vth, devices::make_cell_model("flash", p));
  const Solved s = solve(x, v, BackendChoice::kNative);
  const netlists::Circuit& c = x.circuit;
  // Net current into every grid node: wire segments in, cells out.
  const double g_row = 1 / spec.r_row_ohm, g_col = 1 / spec.r_col_ohm;
  auto node = [&](int32_t id) { return s.nodes(id, 0); };
  double worst = 0, largest = 0;
  for (int32_t i = 0; i < spec.rows; ++i)
    for (int32_t j = 0; j < spec.cols; ++j) {
      const double ic = ekv_current(p.flash_params(), vth(i, j), node(c.row_node(i, j)), 1.8, node(c.col_node(i, j)));
      largest = std::max(largest, std::abs(ic));
      double kcl_r = -ic, kcl_c = ic;
      if (j > 0) kcl_r += g_row * (node(c.row_node(i, j - 1)) - node(c.row_node(i, j)));
      if (j + 1 < spec.cols) kcl_r += g_row * (node(c.row_node(i, j + 1)) - node(c.row_node(i, j)));
      if (i > 0) kcl_c += g_col * (node(c.col_node(i - 1, j)) - node(c.col_node(i, j)));
      if (i + 1 < spec.rows) kcl_c += g_col * (node(c.col_node(i + 1, j)) - node(c.col_node(i, j)));
      // The ends: the driver resistors (row ends) and the sense resistor (bottom column end).
      if (j == 0) kcl_r += (v(0, i) - node(c.row_node(i, j))) / spec.r_driver_ohm;
      if (j + 1 == spec.cols) kcl_r += (v(0, i) - node(c.row_node(i, j))) / spec.r_driver_ohm;
      if (i + 1 == spec.rows) kcl_c += (0 - node(c.col_node(i, j))) / spec.r_sense_ohm;
      worst = std::max({worst, std::abs(kcl_r), std::abs(kcl_c)});
    }
  // Newton's test: residual <= reltol * (largest cell current) + abstol, plus the rounding of
  // this independent evaluation (the node voltages carry ~1e-16 V, times ~1e-3 S).
  const solvers::NewtonOptions nt;
  CHECK(worst <= nt.reltol * largest + nt.abstol_a + 1e-16);
  // And the current sensed in column j is the one through its sense resistor.
  for (int32_t j = 0; j < spec.cols; ++j)
    CHECK(s.currents(0, j) == doctest::Approx(node(c.col_node(int32_t(spec.rows - 1), j)) / spec.r_sense_ohm).epsilon(1e-12));
}
