// HardwareLayer on its own (the crossbar layer xbar.torch and TorchScript models run): ideal
// tiles give the closed form x W; a layer built alone holds exactly the tiles the network builds
// for the same layer seed; the ADC ranges and counts follow the calibration; build_layers gives
// the same tiles on one thread as on two.
#include <doctest/doctest.h>

#include <cmath>

#include "devices/random_stream.h"
#include "engine/nn/hardware_inference.h"
#include "engine/nn/hardware_layer.h"
#include "support/random_array.h"

using namespace xbar::engine::nn;

namespace {

// Ideal tiles are their targets, and the signed columns times 1 / (gain v_read / x_max) give
// back w: rounding of a few operations on outputs of order 10.
constexpr double kRoundingAbs = 1e-12;

HardwareOptions small_tiles() {
  HardwareOptions o;
  o.mapping.tile_rows = 8;
  o.mapping.tile_cols = 6;
  o.wires.r_row_ohm = 2.5;
  o.wires.r_col_ohm = 2.5;
  o.programming.variation.model = xbar::devices::VariationModel::kGaussian;
  o.programming.variation.relative_sigma = 0.05;
  o.programming.stuck.stuck_on_rate = 0.02;
  o.read_noise.relative_sigma = 0.01;
  o.adc_bits = 6;
  o.threads = 1;
  return o;
}

}  // namespace

TEST_CASE("an ideal hardware layer computes x W to rounding, over several row and column tiles") {
  const RowMatrixXd w = xbar::support::uniform_matrix(20, 7, -1, 1, 3);
  HardwareLayer l("fc", w, small_tiles(), HardwareMode::kIdeal, 11);
  CHECK(l.tiles.size() == 3 * 3);  // 20 rows in 8-row tiles, 7 outputs in 3-output pairs
  build_layers({&l}, 1, HardwareMode::kIdeal);
  const RowMatrixXd x = xbar::support::uniform_matrix(5, 20, 0, 2, 4);
  l.set_input_full_scale(x.maxCoeff());
  LayerCallStats s = l.new_stats();
  RowMatrixXd scratch = x;
  const RowMatrixXd y = l.mvm(scratch, 0, false, s);
  const RowMatrixXd ref = x * w;
  CHECK((y - ref).cwiseAbs().maxCoeff() < kRoundingAbs);
}

TEST_CASE("a layer built alone holds the tiles the network builds for the same layer seed") {
  Network n;
  n.arch = "test";
  n.input_c = 20;
  n.input_h = n.input_w = 1;
  Layer d;
  d.kind = LayerKind::kDense;
  d.name = "fc";
  d.w = xbar::support::uniform_matrix(20, 7, -1, 1, 5);
  d.b = Eigen::VectorXd::Zero(7);
  n.layers = {d};
  n.infer_shapes();
  HardwareOptions o = small_tiles();
  o.seed = 9;
  const HardwareNetwork net(n, o, HardwareMode::kUncompensated);
  HardwareLayer alone("fc", d.w, o, HardwareMode::kUncompensated, xbar::devices::derive_seed(9, 0));
  build_layers({&alone}, 2, HardwareMode::kUncompensated);  // two threads: the same tiles
  REQUIRE(alone.tiles.size() == net.layers()[0].tiles.size());
  int64_t stuck = 0;
  for (size_t k = 0; k < alone.tiles.size(); ++k) {
    CHECK(alone.tiles[k].seed == net.layers()[0].tiles[k].seed);
    CHECK(alone.tiles[k].g_programmed == net.layers()[0].tiles[k].g_programmed);
    CHECK(alone.tiles[k].t_signed == net.layers()[0].tiles[k].t_signed);
    stuck += alone.tiles[k].programming.stuck.stuck_on;
  }
  CHECK(stuck > 0);  // the draws happened (2% of 9 tiles' cells)
}

TEST_CASE("calibration sets each tile's ADC range to its largest current and evaluation counts clipping") {
  const RowMatrixXd w = xbar::support::uniform_matrix(8, 3, -1, 1, 6);
  HardwareOptions o = small_tiles();
  o.read_noise.relative_sigma = 0;
  HardwareLayer l("fc", w, o, HardwareMode::kUncompensated, 2);
  build_layers({&l}, 1, HardwareMode::kUncompensated);
  REQUIRE(l.tiles.size() == 1);
  const RowMatrixXd x = xbar::support::uniform_matrix(10, 8, 0, 1, 7);
  l.set_input_full_scale(x.maxCoeff());
  LayerCallStats cal = l.new_stats();
  RowMatrixXd scratch = x;
  const RowMatrixXd y_cal = l.mvm(scratch, kCalibrationBatchBase, true, cal);
  // While calibrating the ADC is bypassed: the largest |signed current| is the largest output
  // times the tile's gain in amperes per unit.
  const double gain = l.tiles[0].gain_s[0] * o.v_read_v / l.x_max;  // uncompensated: one gain
  CHECK(cal.max_abs_a[0] == doctest::Approx(y_cal.cwiseAbs().maxCoeff() * gain).epsilon(1e-12));
  l.set_adc_ranges(cal.max_abs_a);
  CHECK(l.tiles[0].adc_range_a == cal.max_abs_a[0]);
  // Inputs twice as large clip at the ADC: the counts say so once merged.
  LayerCallStats s = l.new_stats();
  RowMatrixXd big = 2 * x;
  l.mvm(big, 0, false, s);
  CHECK(s.adc[0].values == 10 * 3);
  CHECK(s.adc[0].clipped_low + s.adc[0].clipped_high > 0);
  l.merge(s);
  CHECK(l.tiles[0].adc_counts.values == 30);
  CHECK(l.summary_json(true)["adc"]["values"] == 30);
}
