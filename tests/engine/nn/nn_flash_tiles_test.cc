// Network tiles of flash cells (engine/nn/flash_tiles.h), each answer against an independent
// referee: ngspice's solve of every tile's programmed thresholds, the cells' own wire-free
// reads against the mapped targets, the closed form of retention, and x W + b at the operating
// input for compensated tiles.
#include <doctest/doctest.h>

#include <cmath>

#include "devices/flash_cell.h"
#include "devices/registry.h"
#include "engine/nn/hardware_inference.h"
#include "tests/engine/nn/nn_test_networks.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "support/input_error.h"
#include "support/random_array.h"

using namespace xbar::engine::nn;
using xbar::solvers::BackendChoice;
using xbar::test::dense_net;

namespace {

// Native Newton (reltol 1e-9) against ngspice's Newton on the same deck, whose B-source
// constants keep 11 significant digits (devices/flash_cell.h: ~1e-9 relative): relative to the
// largest output.
constexpr double kNewtonRel = 1e-6;
// The verify read is wire-free at v_read; in the array a cell's drain sits a little below
// v_read and its source a little above 0 V, where the current's relative sensitivity to V_th
// differs by a few percent from the verify point's: a programming error of pv_tol at the verify
// read is at most this many times pv_tol in the array.
constexpr double kVerifyToArray = 1.5;
// Closed-form retention against the stored thresholds: rounding of V_th - alpha ln(1 + t/tau).
constexpr double kRetentionAbsV = 1e-12;

// Flash tiles with wires, driver and sense resistance, the default device (100 uA/V^2, n 1.5,
// 300 K, word lines at 1.8 V) and program-verify.
HardwareOptions flash_tiles(int64_t tile_rows, int64_t tile_cols) {
  HardwareOptions o;
  o.cell = "flash";
  o.mapping.tile_rows = tile_rows;
  o.mapping.tile_cols = tile_cols;
  o.wires.r_row_ohm = 2.5;
  o.wires.r_col_ohm = 2.5;
  o.wires.r_driver_ohm = 10;
  o.wires.r_sense_ohm = 5;
  o.threads = 1;
  return o;
}

std::shared_ptr<const xbar::devices::FlashCell> flash_cell(const HardwareOptions& o) {
  return std::dynamic_pointer_cast<const xbar::devices::FlashCell>(xbar::devices::make_cell_model(o.cell, o.cell_params));
}

// The referee: every tile of layer 0 solved from the thresholds it holds, by ngspice (or the
// native direct solver), signed, divided by its gain, summed, plus the bias.
RowMatrixXd referee_outputs(const HardwareNetwork& hw, const Network& n, const HardwareOptions& o, const RowMatrixXd& x,
                            BackendChoice backend) {
  const LayerState& ls = hw.layers()[0];
  const double vpu = o.v_read_v / ls.x_max;
  const RowMatrixXd v = x * vpu;
  RowMatrixXd y = RowMatrixXd::Zero(x.rows(), n.layers[0].fan_out());
  for (const TileState& t : ls.tiles) {
    xbar::netlists::CrossbarSpec spec = o.wires;
    spec.rows = t.plan.rows;
    spec.cols = t.plan.phys_cols;
    const auto circuit = xbar::netlists::build_crossbar(spec, t.flash.vth_v, flash_cell(o));
    xbar::solvers::CrossbarSolveOptions opt;
    opt.solver.backend = backend;
    opt.batch = xbar::solvers::BatchMethod::kDirect;
    xbar::solvers::CrossbarSolver solver(circuit, opt);
    const RowMatrixXd i = solver.solve(v.middleCols(t.plan.row0, t.plan.rows)).currents;
    REQUIRE(t.gain_s.size() == size_t(t.plan.outs));
    const Eigen::Map<const Eigen::ArrayXd> gain(t.gain_s.data(), t.plan.outs);
    y.middleCols(t.plan.out0, t.plan.outs).array() +=
        signed_currents(i, o.mapping.encoding, t.plan.outs).array().rowwise() / (gain * vpu).transpose();
  }
  return y.rowwise() + n.layers[0].b.transpose();
}

double max_abs(const RowMatrixXd& m) { return m.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("flash tiles: the hardware output equals ngspice's solve of every tile's programmed thresholds") {
  const Network n = dense_net(14, 5, 11);
  for (const auto layout : {xbar::devices::GateLayout::kPerRow, xbar::devices::GateLayout::kPerColumn}) {
    CAPTURE(xbar::devices::to_string(layout));
    HardwareOptions o = flash_tiles(8, 6);  // 2 row tiles (8, 6 rows) x 2 column tiles (3, 2 outputs)
    o.cell_params.set_gate_layout(layout);
    // Word lines per row at the default 1.8 V; per column at 2.5 V (other thresholds, further
    // into strong inversion).
    if (layout == xbar::devices::GateLayout::kPerColumn) o.cell_params.v_gate_v = 2.5;
    HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
    REQUIRE(hw.layers()[0].tiles.size() == 4);
    const RowMatrixXd x = xbar::support::uniform_matrix(5, 14, 0, 1, 5);
    hw.calibrate(x);
    const RowMatrixXd y = hw.forward(x, 0);
    const RowMatrixXd ref = referee_outputs(hw, n, o, x, BackendChoice::kNgspice);
    CHECK(max_abs(y - ref) <= kNewtonRel * max_abs(ref));
    // The cells and wires matter: the hardware is not the software product.
    const RowMatrixXd sw = (x * n.layers[0].w).rowwise() + n.layers[0].b.transpose();
    CHECK(max_abs(y - sw) > 1e-3 * max_abs(sw));
  }
}

TEST_CASE("every flash tile verifies its mapped targets: each cell's wire-free read at v-read within pv-tol") {
  const Network n = dense_net(12, 6, 21);
  HardwareOptions o = flash_tiles(6, 8);
  o.flash.program.pv_tol = 0.01;
  HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
  const auto cell = flash_cell(o);
  const double vg = o.cell_params.v_gate_v, vr = o.v_read_v;
  REQUIRE(hw.layers()[0].tiles.size() == 4);
  for (const TileState& t : hw.layers()[0].tiles) {
    const xbar::devices::FlashProgramStats& st = t.flash.program;
    CHECK(st.seed == t.seed);
    CHECK(st.verified == t.plan.rows * t.plan.phys_cols);
    REQUIRE(t.flash.vth_v.rows() == t.plan.rows);
    REQUIRE(t.flash.vth_v.cols() == t.plan.phys_cols);
    // The targets of weight_mapping.h for this block, independently of the tile's own record.
    const TileTarget want = map_tile(n.layers[0].w.block(t.plan.row0, t.plan.out0, t.plan.rows, t.plan.outs),
                                     o.mapping.encoding, o.mapping.range.g_min_s, o.mapping.range.g_max_s);
    for (Eigen::Index i = 0; i < want.g_s.rows(); ++i)
      for (Eigen::Index j = 0; j < want.g_s.cols(); ++j) {
        const double read = cell->evaluate_gated(t.flash.vth_v(i, j), vr, vg, 0.0).i_a;
        CHECK(std::abs(read / (want.g_s(i, j) * vr) - 1) <= o.flash.program.pv_tol);
        CHECK(std::abs(t.g_programmed(i, j) * vr - read) <= 1e-12 * read);  // conductance equivalents
      }
  }
  // Each tile draws its own erase and pulse streams: two tiles never share thresholds' draws,
  // the same seed repeats them, another seed does not.
  CHECK(hw.layers()[0].tiles[0].seed != hw.layers()[0].tiles[1].seed);
  HardwareNetwork again(n, o, HardwareMode::kUncompensated);
  CHECK(again.layers()[0].tiles[2].flash.vth_v == hw.layers()[0].tiles[2].flash.vth_v);
  o.seed = 2;
  HardwareNetwork other(n, o, HardwareMode::kUncompensated);
  CHECK(other.layers()[0].tiles[2].flash.vth_v != hw.layers()[0].tiles[2].flash.vth_v);
}

TEST_CASE("retention lowers every tile's thresholds by alpha ln(1 + t / tau), and the tiles then read more") {
  const Network n = dense_net(10, 4, 31);
  HardwareOptions o = flash_tiles(10, 8);
  HardwareNetwork fresh(n, o, HardwareMode::kUncompensated);
  o.flash.retention.time_s = 3.15e7;  // a year
  o.flash.retention.tau_s = 10;
  o.flash.retention.alpha_v = 0.01;
  HardwareNetwork aged(n, o, HardwareMode::kUncompensated);
  const double shift = 0.01 * std::log(1 + 3.15e7 / 10);
  const TileState& a = fresh.layers()[0].tiles[0];
  const TileState& b = aged.layers()[0].tiles[0];
  CHECK(b.flash.retention.cells == 80);
  CHECK(max_abs(b.flash.vth_v - (a.flash.vth_v.array() - shift).matrix()) <= kRetentionAbsV);
  CHECK((b.g_programmed.array() > a.g_programmed.array()).all());
}

TEST_CASE("compensated flash tiles compute x W + b through the wires at the operating input") {
  const Network n = dense_net(24, 6, 41);
  HardwareOptions o = flash_tiles(24, 12);
  o.wires.r_driver_ohm = o.wires.r_sense_ohm = 0;
  o.wires.r_row_ohm = o.wires.r_col_ohm = 10;  // strong IR drop
  o.comp.tol = 1e-9;
  // A tight program-verify: 20 uV pulses without spread never step over the 0.2% window (its
  // narrowest, at g_min = 10 uS, is ~0.2 mV of threshold), from an erase at 0.6 V to the
  // thresholds of the window, 0.65 .. 1.4 V.
  o.mapping.range.g_min_s = 1e-5;
  o.flash.program.pv_tol = 2e-3;
  o.flash.program.pv_step_v = 2e-5;
  o.flash.program.pv_sigma_v = 0;
  o.flash.program.erase_vth_v = 0.6;
  o.flash.program.erase_sigma_v = 0.01;
  o.flash.program.pv_max_pulses = 100000;
  // Every row at the largest input: every row at v_read, where the map holds for every cell.
  const RowMatrixXd x = RowMatrixXd::Constant(1, 24, 1.0);
  const RowMatrixXd sw = (x * n.layers[0].w).rowwise() + n.layers[0].b.transpose();
  HardwareNetwork unc(n, o, HardwareMode::kUncompensated);
  unc.calibrate(x);
  const double unc_err = max_abs(unc.forward(x, 0) - sw);
  HardwareNetwork hw(n, o, HardwareMode::kCompensated);
  const TileState& t = hw.layers()[0].tiles[0];
  INFO(t.comp_message);
  CHECK(t.scale < 0.97);
  CHECK(t.needs_above_max == 0);
  CHECK(t.flash.program.verified == 24 * 12);
  hw.calibrate(x);
  const double err = max_abs(hw.forward(x, 0) - sw);
  // Output j = sum_i (I+_ij - I-_ij) / (s a v_read / x_max) with every cell's current s G v_read
  // up to the programming error (kVerifyToArray pv_tol of it) and the map's residual
  // (residual s max(G) v_read per cell): |error| <= x_max / a (kVerifyToArray pv_tol sum_i (G+ + G-)
  // + 2 rows residual max(G)), x_max = 1.
  const double a = t.target.g_per_weight_s;
  double bound = 0;
  for (int64_t j = 0; j < 6; ++j) {
    const double sum_g = t.target.g_s.col(2 * j).sum() + t.target.g_s.col(2 * j + 1).sum();
    bound = std::max(bound, (kVerifyToArray * o.flash.program.pv_tol * sum_g +
                             2 * 24 * std::max(t.comp_residual, o.comp.tol) * t.target.g_s.maxCoeff()) / a);
  }
  CHECK(err <= bound);
  CHECK(unc_err > 10 * bound);
}

TEST_CASE("flash tiles refuse what does not apply to them, naming the key") {
  auto refused = [](const HardwareOptions& o, const std::string& key) {
    try {
      o.validate();
    } catch (const xbar::InputError& e) {
      return std::string(e.what()).find(key) != std::string::npos;
    }
    return false;
  };
  HardwareOptions o = flash_tiles(8, 8);
  CHECK_NOTHROW(o.validate());
  HardwareOptions v = o;
  v.programming.variation.model = xbar::devices::VariationModel::kGaussian;
  CHECK(refused(v, "key variation"));
  HardwareOptions s = o;
  s.programming.stuck.stuck_on_rate = 0.01;
  CHECK(refused(s, "key stuck-on-rate"));
  HardwareOptions r = o;
  r.read_noise.relative_sigma = 0.01;
  CHECK(refused(r, "key read-noise-sigma"));
  HardwareOptions g = o;
  g.mapping.range.g_min_s = 0;
  CHECK(refused(g, "key g-min"));
  HardwareOptions p = o;
  p.flash.program.pv_step_v = 0;
  CHECK(refused(p, "pv-step"));
  HardwareOptions t = o;
  t.flash.retention.time_s = -1;
  CHECK(refused(t, "retention-time"));
}

TEST_CASE("a flash map whose Newton solve fails names the tile of the layer it was building") {
  const Network n = dense_net(24, 6, 41);
  HardwareOptions o = flash_tiles(24, 12);
  o.wires.r_row_ohm = o.wires.r_col_ohm = 10;
  // One Newton iteration per run cannot converge from the zero-bias start of a nonlinear tile
  // (its update is not below vntol), nor can the gmin and source stepping built from such runs.
  o.solver.newton.max_iterations = 1;
  std::string message;
  try {
    HardwareNetwork hw(n, o, HardwareMode::kCompensated);
  } catch (const xbar::NumericalError& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("layer fc: the flash map of the tile of inputs 0..23 and outputs 0..5 (24 x 12 cells, floor attempt 1)") !=
        std::string::npos);
  CHECK(message.find("Newton did not converge") != std::string::npos);
}
