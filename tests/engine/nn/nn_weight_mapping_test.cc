// Weight -> conductance mapping: every target inside the window, the sense subtraction gives
// back a w exactly (up to rounding), the tiles cover every weight once.
#include <doctest/doctest.h>

#include "support/input_error.h"
#include "support/random_array.h"
#include "engine/nn/weight_mapping.h"

using namespace xbar::engine::nn;

namespace {
// Relative rounding of g_low + a max(w, 0) - (g_low + a max(-w, 0)) against a w: a few ulps of
// g_max, relative to the largest conductance.
constexpr double kRoundingRel = 1e-14;
}  // namespace

TEST_CASE("differential and offset targets stay in [g_low, g_high] and subtract back to a w") {
  const RowMatrixXd w = xbar::support::uniform_matrix(9, 5, -0.7, 0.4, 3);
  const double g_low = 3e-6, g_high = 1e-4;
  for (WeightEncoding e : {WeightEncoding::kDifferential, WeightEncoding::kOffset}) {
    CAPTURE(to_string(e));
    const TileTarget t = map_tile(w, e, g_low, g_high);
    REQUIRE(t.g_s.rows() == 9);
    REQUIRE(t.g_s.cols() == (e == WeightEncoding::kDifferential ? 10 : 6));
    CHECK(t.g_s.minCoeff() >= g_low);
    CHECK(t.g_s.maxCoeff() <= g_high);
    // The largest |w| (here -0.7) reaches an end of the window: the whole window is used
    // (per-tile scaling): g_high on the G- column (differential), g_low (offset).
    if (e == WeightEncoding::kDifferential)
      CHECK(t.g_s.maxCoeff() == doctest::Approx(g_high).epsilon(1e-12));
    else
      CHECK(t.g_s.minCoeff() == doctest::Approx(g_low).epsilon(1e-12));
    const RowMatrixXd back = signed_columns(t.g_s, e, 5);
    CHECK((back - t.g_per_weight_s * w).cwiseAbs().maxCoeff() <= kRoundingRel * g_high);
    if (e == WeightEncoding::kDifferential) {
      // One of each pair sits at the floor.
      for (int i = 0; i < 9; ++i)
        for (int j = 0; j < 5; ++j) CHECK(std::min(t.g_s(i, 2 * j), t.g_s(i, 2 * j + 1)) == g_low);
      CHECK(t.g_per_weight_s == doctest::Approx((g_high - g_low) / 0.7));
    } else {
      CHECK(t.g_s.col(5).minCoeff() == t.g_s.col(5).maxCoeff());
      CHECK(t.g_per_weight_s == doctest::Approx((g_high - g_low) / 1.4));
    }
  }
}

TEST_CASE("a block of zero weights maps to the floor and reads zero") {
  const TileTarget t = map_tile(RowMatrixXd::Zero(3, 2), WeightEncoding::kDifferential, 1e-6, 1e-4);
  CHECK(t.g_s.maxCoeff() == 1e-6);
  CHECK(signed_columns(t.g_s, WeightEncoding::kDifferential, 2).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("the tiles of a layer cover every weight exactly once, edge tiles smaller") {
  for (WeightEncoding e : {WeightEncoding::kDifferential, WeightEncoding::kOffset}) {
    MappingOptions m;
    m.encoding = e;
    m.tile_rows = 128;
    m.tile_cols = 128;
    const int64_t in = 784, out = 256;
    const std::vector<TilePlan> tiles = plan_tiles(in, out, m);
    const int64_t per = e == WeightEncoding::kDifferential ? 64 : 127;
    CHECK(tiles.size() == size_t(7 * ((out + per - 1) / per)));
    Eigen::MatrixXi hits = Eigen::MatrixXi::Zero(in, out);
    for (const TilePlan& p : tiles) {
      CHECK(p.rows <= m.tile_rows);
      CHECK(p.phys_cols <= m.tile_cols);
      CHECK(p.phys_cols == (e == WeightEncoding::kDifferential ? 2 * p.outs : p.outs + 1));
      hits.block(p.row0, p.out0, p.rows, p.outs).array() += 1;
    }
    CHECK(hits.minCoeff() == 1);
    CHECK(hits.maxCoeff() == 1);
    CHECK(tiles.back().rows == 784 - 6 * 128);
  }
}

TEST_CASE("tile sizes and encodings are validated with the key named") {
  MappingOptions m;
  m.tile_cols = 1;
  CHECK_THROWS_WITH_AS(m.validate(), doctest::Contains("key tile-cols = 1: must be in [2, 8192] (a differential pair needs 2 columns)"),
                       xbar::InputError);
  m.tile_cols = 8;
  m.tile_rows = 0;
  CHECK_THROWS_WITH_AS(m.validate(), doctest::Contains("key tile-rows = 0"), xbar::InputError);
  CHECK_THROWS_WITH_AS(parse_weight_encoding("pair"), doctest::Contains("key weight-encoding = 'pair'"), xbar::InputError);
}
