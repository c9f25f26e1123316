// Hardware inference of small networks, each answer against an independent referee: the
// programmed tiles solved directly by ngspice (linear and sinh cells) or by direct native solves,
// the closed form x W + b for ideal and compensated hardware, quantization steps and read-noise
// statistics.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "support/random_array.h"
#include "devices/stuck_at.h"
#include "engine/nn/hardware_inference.h"
#include "tests/engine/nn/nn_test_networks.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"

using namespace xbar::engine::nn;
using xbar::solvers::BackendChoice;
using xbar::test::dense_net;

namespace {

// ngspice and the native solvers agree to ~1e-13 on these circuits (bench/README.md); the
// effective matrix adds its own rounding. Relative to the largest output.
constexpr double kCircuitRel = 1e-9;
// Newton (reltol 1e-9, SPICE-style) against ngspice's own Newton on sinh cells.
constexpr double kNewtonRel = 1e-6;
// A compensation map worth the name: every cell's effective conductance within 1e-5 of the
// largest target (calib/compensation.h; its default tolerance is 1e-6).
constexpr double kMapResidualMax = 1e-5;
// Rounding of the digital steps on outputs of order 10.
constexpr double kRoundingAbs = 1e-12;

HardwareOptions wired(int64_t tile_rows, int64_t tile_cols) {
  HardwareOptions o;
  o.mapping.tile_rows = tile_rows;
  o.mapping.tile_cols = tile_cols;
  o.wires.r_row_ohm = 2.5;
  o.wires.r_col_ohm = 2.5;
  o.wires.r_driver_ohm = 10;
  o.wires.r_sense_ohm = 5;
  o.threads = 1;
  return o;
}

// Column currents by direct solves (never an effective matrix) of the crossbar of g with `cell`.
RowMatrixXd direct_currents(const xbar::netlists::CrossbarSpec& spec, const RowMatrixXd& g, const RowMatrixXd& v,
                            BackendChoice backend, std::shared_ptr<const xbar::devices::CellModel> cell) {
  const auto x = xbar::netlists::build_crossbar(spec, g, std::move(cell));
  xbar::solvers::CrossbarSolveOptions opt;
  opt.solver.backend = backend;
  opt.batch = xbar::solvers::BatchMethod::kDirect;
  xbar::solvers::CrossbarSolver solver(x, opt);
  const auto sol = solver.solve(v);
  if (backend != BackendChoice::kNgspice) REQUIRE(sol.summary.batch_method != "effective-matrix");
  return sol.currents;
}

// One tile solved directly (native direct solves or ngspice) from the conductances it was
// programmed with: the signed currents of its outputs for the layer's volts v.
RowMatrixXd referee_signed_currents(const TileState& t, const HardwareOptions& o, const RowMatrixXd& v,
                                    BackendChoice backend) {
  xbar::netlists::CrossbarSpec spec = o.wires;
  spec.rows = t.plan.rows;
  spec.cols = t.plan.phys_cols;
  const RowMatrixXd i = direct_currents(spec, t.g_programmed, v.middleCols(t.plan.row0, t.plan.rows), backend,
                                        xbar::devices::make_cell_model(o.cell, o.cell_params));
  return signed_currents(i, o.mapping.encoding, t.plan.outs);
}

// Signed currents -> weight units: output q divided by its own gain g_q v_read / x_max.
RowMatrixXd in_weight_units(const RowMatrixXd& signed_a, const TileState& t, double volts_per_unit) {
  REQUIRE(t.gain_s.size() == size_t(t.plan.outs));
  RowMatrixXd y = signed_a;
  for (int64_t q = 0; q < t.plan.outs; ++q) y.col(q) /= t.gain_s[size_t(q)] * volts_per_unit;
  return y;
}

// The referee of one MVM layer: every tile solved directly, in weight units, summed over the
// row tiles (no bias).
RowMatrixXd referee_mvm(const LayerState& ls, int64_t fan_out, const HardwareOptions& o, const RowMatrixXd& x,
                        BackendChoice backend) {
  const double vpu = o.v_read_v / ls.x_max;
  const RowMatrixXd v = x * vpu;
  RowMatrixXd y = RowMatrixXd::Zero(x.rows(), fan_out);
  for (const TileState& t : ls.tiles)
    y.middleCols(t.plan.out0, t.plan.outs) += in_weight_units(referee_signed_currents(t, o, v, backend), t, vpu);
  return y;
}

// The referee of a one-layer network: its layer, plus the bias.
RowMatrixXd referee_outputs(const HardwareNetwork& hw, const Network& n, const HardwareOptions& o, const RowMatrixXd& x,
                            BackendChoice backend) {
  return referee_mvm(hw.layers()[0], n.layers[0].fan_out(), o, x, backend).rowwise() + n.layers[0].b.transpose();
}

double spread(const std::vector<double>& v) {
  return *std::max_element(v.begin(), v.end()) / *std::min_element(v.begin(), v.end());
}

double max_abs(const RowMatrixXd& m) { return m.cwiseAbs().maxCoeff(); }

}  // namespace

TEST_CASE("a programmed tile's hardware output equals ngspice's solve of that tile (linear cells, wires)") {
  const Network n = dense_net(12, 5, 11);
  HardwareOptions o = wired(12, 10);  // one tile: 12 rows x 5 differential pairs
  o.programming.variation.model = xbar::devices::VariationModel::kGaussian;
  o.programming.variation.relative_sigma = 0.05;
  o.programming.stuck.stuck_on_rate = 0.05;
  o.programming.stuck.stuck_off_rate = 0.05;
  HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
  REQUIRE(hw.layers()[0].tiles.size() == 1);
  const RowMatrixXd x = xbar::support::uniform_matrix(6, 12, 0, 1, 5);
  hw.calibrate(x);
  const RowMatrixXd y = hw.forward(x, 0);
  const RowMatrixXd ref = referee_outputs(hw, n, o, x, BackendChoice::kNgspice);
  CHECK(max_abs(y - ref) <= kCircuitRel * max_abs(ref));
  // The wires matter here: the hardware is not the software product.
  const RowMatrixXd sw = (x * n.layers[0].w).rowwise() + n.layers[0].b.transpose();
  CHECK(max_abs(y - sw) > 1e-3 * max_abs(sw));
}

TEST_CASE("a layer cut into many tiles (both encodings) sums each tile's direct circuit solve") {
  const Network n = dense_net(20, 7, 21);
  for (WeightEncoding e : {WeightEncoding::kDifferential, WeightEncoding::kOffset}) {
    CAPTURE(to_string(e));
    HardwareOptions o = wired(8, 6);
    o.mapping.encoding = e;
    o.threads = 2;
    o.programming.variation.model = xbar::devices::VariationModel::kLognormal;
    o.programming.variation.relative_sigma = 0.1;
    HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
    // 3 row tiles (8, 8, 4 rows) x 3 (differential: 3, 3, 1 outputs) or 2 (offset: 5, 2) column tiles.
    CHECK(hw.layers()[0].tiles.size() == (e == WeightEncoding::kDifferential ? 9u : 6u));
    const RowMatrixXd x = xbar::support::uniform_matrix(5, 20, 0, 1, 6);
    hw.calibrate(x);
    const RowMatrixXd y = hw.forward(x, 0);
    const RowMatrixXd ref = referee_outputs(hw, n, o, x, BackendChoice::kNative);
    CHECK(max_abs(y - ref) <= kCircuitRel * max_abs(ref));
  }
}

TEST_CASE("nonlinear (sinh) cells: the hardware output equals ngspice's solve of the programmed tile") {
  const Network n = dense_net(10, 4, 31);
  HardwareOptions o = wired(10, 8);
  o.cell = "sinh";
  o.cell_params.nl_k_per_v = 3.0;
  o.v_read_v = 0.4;  // far into the sinh: 8% above linear at full scale
  HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
  const RowMatrixXd x = xbar::support::uniform_matrix(4, 10, 0, 1, 8);
  hw.calibrate(x);
  const RowMatrixXd y = hw.forward(x, 0);
  const RowMatrixXd ref = referee_outputs(hw, n, o, x, BackendChoice::kNgspice);
  CHECK(max_abs(y - ref) <= kNewtonRel * max_abs(ref));
}

TEST_CASE("ideal hardware computes x W + b to rounding") {
  const Network n = dense_net(30, 9, 41);
  HardwareOptions o = wired(7, 4);
  o.programming.variation.model = xbar::devices::VariationModel::kGaussian;  // ignored by ideal
  o.programming.variation.relative_sigma = 0.2;
  o.adc_bits = 3;                                                             // ignored by ideal
  HardwareNetwork hw(n, o, HardwareMode::kIdeal);
  const RowMatrixXd x = xbar::support::uniform_matrix(8, 30, 0, 1, 9);
  hw.calibrate(x);
  const RowMatrixXd sw = (x * n.layers[0].w).rowwise() + n.layers[0].b.transpose();
  CHECK(max_abs(hw.forward(x, 0) - sw) <= 1e-13 * max_abs(sw));
}

TEST_CASE("compensated hardware computes x W + b through the wires: per-pair gains, in-map floor, every target reached") {
  const Network n = dense_net(24, 6, 51);
  HardwareOptions o = wired(24, 12);
  o.wires.r_driver_ohm = 0;
  o.wires.r_sense_ohm = 0;
  o.wires.r_row_ohm = o.wires.r_col_ohm = 10;  // strong IR drop: the scales fall well below 1
  o.comp.tol = 1e-10;
  const RowMatrixXd x = xbar::support::uniform_matrix(16, 24, 0, 1, 10);
  const RowMatrixXd sw = (x * n.layers[0].w).rowwise() + n.layers[0].b.transpose();
  HardwareNetwork unc(n, o, HardwareMode::kUncompensated);
  unc.calibrate(x);
  const double unc_err = max_abs(unc.forward(x, 0) - sw);
  HardwareNetwork hw(n, o, HardwareMode::kCompensated);
  const TileState& t = hw.layers()[0].tiles[0];
  INFO(t.comp_message);
  CHECK(t.scale < 0.95);
  // One gain per pair: the far pairs need more compensation than the near ones.
  CHECK(spread(t.gain_s) > 1.01);
  // The targets start at g_min; s g_min < g_min needs the in-map floor, which every cell reached.
  CHECK(t.target.g_low_s == o.mapping.range.g_min_s);
  CHECK(t.lifted_cells > 0);
  CHECK(t.needs_below_min == 0);
  CHECK(t.needs_above_max == 0);
  // The map's own accuracy (calib's iteration may stop on a stall short of tol; it reports
  // the residual it reached, measured on the exact T).
  CHECK(t.comp_residual <= kMapResidualMax);
  hw.calibrate(x);
  const RowMatrixXd err = hw.forward(x, 0) - sw;
  // Per cell |T(G') - target| <= residual max(target) <= residual g_max (1 + residual) (every
  // target reached, T(G') <= G' <= g_max); the floor cancels in a pair's difference. Summed
  // over the 24 rows (inputs <= 1) of both columns of a pair and divided by the output's gain
  // g_q: |error_q| <= 2 residual g_max (1 + residual) 24 / g_q.
  const double g_max = o.mapping.range.g_max_s, res = std::max(t.comp_residual, o.comp.tol);
  double worst_bound = 0;
  for (int64_t q = 0; q < 6; ++q) {
    const double bound = 2 * res * g_max * (1 + res) * 24 / t.gain_s[size_t(q)] + kRoundingAbs;
    CAPTURE(q);
    CHECK(err.col(q).cwiseAbs().maxCoeff() <= bound);
    worst_bound = std::max(worst_bound, bound);
  }
  CHECK(unc_err > 100 * worst_bound);
}

TEST_CASE("compensated tiles read through per-output ADC ranges equal direct solves of the programmed map") {
  const Network n = dense_net(20, 8, 55);
  HardwareOptions o = wired(10, 8);  // 2 row tiles x 2 column tiles of 4 pairs
  o.programming.variation.model = xbar::devices::VariationModel::kGaussian;
  o.programming.variation.relative_sigma = 0.05;
  o.programming.stuck.stuck_on_rate = 0.02;
  o.programming.stuck.stuck_off_rate = 0.02;
  o.wires.r_row_ohm = o.wires.r_col_ohm = 20;  // strong IR drop on a small tile
  const RowMatrixXd x = xbar::support::uniform_matrix(12, 20, 0, 1, 14);
  for (int bits : {0, 6}) {
    CAPTURE(bits);
    o.adc_bits = bits;
    HardwareNetwork hw(n, o, HardwareMode::kCompensated);
    hw.calibrate(x);
    const RowMatrixXd y = hw.forward(x, 0);
    const LayerState& ls = hw.layers()[0];
    REQUIRE(ls.tiles.size() == 4);
    if (bits == 0) {
      // No ADC: the programmed map (variation, stuck cells and all) solved tile by tile.
      const RowMatrixXd ref = referee_outputs(hw, n, o, x, BackendChoice::kNative);
      CHECK(max_abs(y - ref) <= kCircuitRel * max_abs(ref));
      continue;
    }
    // With the ADC: output q of a tile reads whole LSBs of its own range R g_q / g_top (R the
    // tile's calibrated range, g_top its largest gain), here applied to the directly solved
    // currents, then divided by the gains and summed over the row tiles.
    const double vpu = o.v_read_v / ls.x_max, half = std::ldexp(1.0, bits - 1) - 1;
    RowMatrixXd want = RowMatrixXd::Zero(x.rows(), 8);
    for (const TileState& t : ls.tiles) {
      CAPTURE(t.plan.row_tile);
      CAPTURE(t.plan.col_tile);
      CHECK(spread(t.gain_s) > 1.001);  // the ranges differ per output
      const RowMatrixXd ref = referee_signed_currents(t, o, x * vpu, BackendChoice::kNative);
      const double g_top = *std::max_element(t.gain_s.begin(), t.gain_s.end());
      RowMatrixXd read_a(ref.rows(), ref.cols());
      for (int64_t q = 0; q < t.plan.outs; ++q) {
        const double lsb = t.adc_range_a * t.gain_s[size_t(q)] / g_top / half;
        for (Eigen::Index r = 0; r < ref.rows(); ++r) read_a(r, q) = std::round(ref(r, q) / lsb) * lsb;
      }
      want.middleCols(t.plan.out0, t.plan.outs) += in_weight_units(read_a, t, vpu);
    }
    want = want.rowwise() + n.layers[0].b.transpose();
    // Equal codes give equal outputs to rounding; one code apart is an LSB, 1/31 of a range.
    // (A current within kCircuitRel of a decision threshold could flip a code: improbable.)
    CHECK(max_abs(y - want) <= kCircuitRel * max_abs(want));
    int64_t clipped = 0;
    for (const TileState& t : ls.tiles) clipped += t.adc_counts.clipped_low + t.adc_counts.clipped_high;
    CHECK(clipped == 0);
  }
}

TEST_CASE("a compensated two-layer network predicts what tile-by-tile direct solves of its programmed maps predict") {
  // 16 -> 12 (ReLU) -> 5 on 8 x 8 tiles (2 x 3 and 2 x 2 tiles), wires, 5% programming variation.
  Network n;
  n.arch = "test";
  n.input_c = 16;
  n.input_h = n.input_w = 1;
  Layer d1, relu, d2;
  d1.kind = d2.kind = LayerKind::kDense;
  d1.name = "fc1";
  d2.name = "fc2";
  d1.w = xbar::support::uniform_matrix(16, 12, -1, 1, 91);
  d1.b = xbar::support::uniform_matrix(12, 1, -0.1, 0.1, 92).col(0);
  d2.w = xbar::support::uniform_matrix(12, 5, -1, 1, 93);
  d2.b = xbar::support::uniform_matrix(5, 1, -0.1, 0.1, 94).col(0);
  relu.kind = LayerKind::kRelu;
  relu.name = "relu";
  n.layers = {d1, relu, d2};
  n.infer_shapes();
  HardwareOptions o = wired(8, 8);
  o.wires.r_row_ohm = o.wires.r_col_ohm = 20;
  o.programming.variation.model = xbar::devices::VariationModel::kGaussian;
  o.programming.variation.relative_sigma = 0.05;
  HardwareNetwork hw(n, o, HardwareMode::kCompensated);
  REQUIRE(hw.layers().size() == 2);
  const RowMatrixXd x = xbar::support::uniform_matrix(60, 16, 0, 1, 95);
  hw.calibrate(x);
  std::vector<float> pixels(size_t(x.size()));
  for (Eigen::Index k = 0; k < x.size(); ++k) pixels[size_t(k)] = float(x.data()[k]);
  const std::vector<int> pred = hw.predict(pixels, x.rows());
  // The referee: the same network, each MVM layer through direct solves of every tile.
  const RowMatrixXd xf = Eigen::Map<const Eigen::Matrix<float, -1, -1, Eigen::RowMajor>>(pixels.data(), 60, 16).cast<double>();
  const RowMatrixXd logits = forward(n, xf, [&](size_t layer, const RowMatrixXd& in) {
    const LayerState& ls = hw.layers()[layer == 0 ? 0 : 1];
    return referee_mvm(ls, n.layers[layer].fan_out(), o, in, BackendChoice::kNative);
  });
  CHECK(max_abs(hw.forward(xf, 0) - logits) <= kCircuitRel * max_abs(logits));
  CHECK(pred == argmax_rows(logits));
  // The wires and the variation matter: software predicts differently somewhere, or at least
  // its logits differ.
  const RowMatrixXd sw = forward(n, xf, [&](size_t layer, const RowMatrixXd& in) { return RowMatrixXd(in * n.layers[layer].w); });
  CHECK(max_abs(sw - logits) > 1e-3 * max_abs(sw));
}

TEST_CASE("the ADC returns whole LSBs of its range and counts what it clips") {
  const Network n = dense_net(6, 3, 61);
  HardwareOptions o = wired(6, 6);
  o.adc_bits = 4;
  HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
  const RowMatrixXd x = xbar::support::uniform_matrix(20, 6, 0, 1, 12);
  hw.calibrate(x);
  const TileState& t = hw.layers()[0].tiles[0];
  // Calibrated range = the largest |signed current| on these very inputs: nothing clips.
  CHECK(t.adc_range_a == t.calib_max_a);
  const RowMatrixXd y = hw.forward(x, 0);
  const double vpu = o.v_read_v / hw.layers()[0].x_max, lsb = t.adc_range_a / 7;  // 2^(4-1) - 1
  // Uncompensated: every output has the tile's gain a and the tile's range.
  REQUIRE(spread(t.gain_s) == 1.0);
  const RowMatrixXd codes = ((y.rowwise() - n.layers[0].b.transpose()) * (t.gain_s[0] * vpu)) / lsb;
  CHECK((codes - codes.array().round().matrix()).cwiseAbs().maxCoeff() <= 1e-9);
  CHECK(codes.maxCoeff() <= 7 + 1e-9);
  CHECK(codes.minCoeff() >= -8 - 1e-9);
  CHECK(t.adc_counts.values == 60);
  CHECK(t.adc_counts.clipped_low + t.adc_counts.clipped_high == 0);
  // Twice the inputs: the largest outputs now clip at the top code, counted.
  hw.forward(2 * x, 1);
  CHECK(t.adc_counts.clipped_low + t.adc_counts.clipped_high > 0);
}

TEST_CASE("read noise: reproducible per batch index, with the variance of G (1 + r z) per read") {
  const Network n = dense_net(16, 2, 71);
  HardwareOptions o = wired(16, 4);
  o.wires.r_row_ohm = o.wires.r_col_ohm = 0;  // wire-free: the noise model is then exact
  o.wires.r_driver_ohm = o.wires.r_sense_ohm = 0;
  o.read_noise.relative_sigma = 0.1;
  HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
  const int64_t reads = 4000;
  const RowMatrixXd x = RowMatrixXd::Constant(reads, 16, 0.5);
  hw.calibrate(x.topRows(1));
  const RowMatrixXd a = hw.forward(x, 3), b = hw.forward(x, 3), c = hw.forward(x, 4);
  CHECK(a == b);
  CHECK(a != c);
  // Per output j: var = r^2 sum_i v_i^2 (G+_ij^2 + G-_ij^2), in weight units / (gain v/x)^2.
  const TileState& t = hw.layers()[0].tiles[0];
  const double vpu = o.v_read_v / hw.layers()[0].x_max;
  for (int j = 0; j < 2; ++j) {
    double var = 0;
    for (int i = 0; i < 16; ++i)
      var += 0.01 * std::pow(0.5 * vpu, 2) * (std::pow(t.g_programmed(i, 2 * j), 2) + std::pow(t.g_programmed(i, 2 * j + 1), 2));
    var /= std::pow(t.gain_s[size_t(j)] * vpu, 2);
    const double mean = a.col(j).mean();
    const double sample = (a.col(j).array() - mean).square().sum() / double(reads - 1);
    // Sample variance of 4000 normals: relative standard error sqrt(2 / 3999) = 2.2%; 5 SE.
    CHECK(std::abs(sample / var - 1) < 5 * std::sqrt(2.0 / double(reads - 1)));
    const double expect_mean = 0.5 * n.layers[0].w.col(j).sum() + n.layers[0].b(j);
    CHECK(std::abs(mean - expect_mean) < 5 * std::sqrt(var / double(reads)));
  }
}

TEST_CASE("defect-aware pairs keep the difference of every pair with one stuck cell, unless the partner hits a rail") {
  const Network n = dense_net(40, 12, 81);
  HardwareOptions o = wired(40, 24);
  o.wires.r_row_ohm = o.wires.r_col_ohm = o.wires.r_driver_ohm = o.wires.r_sense_ohm = 0;
  o.programming.stuck.stuck_on_rate = 0.1;
  o.programming.stuck.stuck_off_rate = 0.1;
  int64_t exact_plain = 0, exact_aware = 0, pairs_one_stuck = 0;
  for (bool aware : {false, true}) {
    o.defect_aware = aware;
    HardwareNetwork hw(n, o, HardwareMode::kUncompensated);
    const TileState& t = hw.layers()[0].tiles[0];
    const double lo = o.mapping.range.g_min_s, hi = o.mapping.range.g_max_s;
    // The same seed places the same defects whether or not the partners are adjusted.
    const xbar::devices::StuckMask mask = xbar::devices::place_stuck_cells(40, 24, o.programming.stuck, t.seed);
    for (int i = 0; i < 40; ++i)
      for (int j = 0; j < 12; ++j) {
        const bool sp = mask(i, 2 * j) != 0, sm = mask(i, 2 * j + 1) != 0;
        if (sp == sm) continue;  // none or both stuck: nothing to adjust
        if (!aware) ++pairs_one_stuck;
        const double d = t.g_programmed(i, 2 * j) - t.g_programmed(i, 2 * j + 1);
        const double want = t.target.g_per_weight_s * n.layers[0].w(i, j);
        const bool exact = std::abs(d - want) <= 1e-12 * hi;
        (aware ? exact_aware : exact_plain) += exact;
        if (aware && !exact) {
          // The partner could not follow: it sits at a rail, on the side that shrinks the error.
          const double partner = t.g_programmed(i, sp ? 2 * j + 1 : 2 * j);
          CHECK((partner == lo || partner == hi));
          // e.g. a stuck-on G+ under a negative weight: G- wants g_max + a|w|, gets g_max, the pair
          // reads 0 instead of about g_max - g_min: never worse than dropping the weight.
          CHECK(std::abs(d - want) <= std::abs(want) + 1e-12 * hi);
        }
      }
    if (aware) {
      CHECK(t.partners_adjusted == pairs_one_stuck);
      CHECK(t.partners_clipped == pairs_one_stuck - exact_aware);
    }
  }
  REQUIRE(pairs_one_stuck > 50);
  // Without adjustment a pair with a stuck cell is exact only when a stuck-off cell sat at the
  // floor anyway (about a quarter); with it also every stuck-on cell whose weight has its sign
  // (another quarter).
  CHECK(exact_aware > exact_plain + pairs_one_stuck / 8);
}
