#include "engine/nn/weight_mapping.h"

#include <cmath>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

std::string to_string(WeightEncoding e) { return e == WeightEncoding::kDifferential ? "differential" : "offset"; }

WeightEncoding parse_weight_encoding(const std::string& s) {
  if (s == "differential") return WeightEncoding::kDifferential;
  if (s == "offset") return WeightEncoding::kOffset;
  throw InputError("key weight-encoding = '" + s + "': expected differential (G+/G- column pairs) or offset "
                   "(one column per output plus a reference column)");
}

void MappingOptions::validate() const {
  range.validate();
  if (tile_rows < 1 || tile_rows > 8192)
    throw InputError("key tile-rows = " + std::to_string(tile_rows) + ": must be in [1, 8192]");
  if (tile_cols < 2 || tile_cols > 8192)
    throw InputError("key tile-cols = " + std::to_string(tile_cols) + ": must be in [2, 8192] (" +
                     (encoding == WeightEncoding::kDifferential ? "a differential pair needs 2 columns"
                                                                : "a weight column needs its reference column") +
                     ")");
}

int64_t MappingOptions::outputs_per_tile() const {
  return encoding == WeightEncoding::kDifferential ? tile_cols / 2 : tile_cols - 1;
}

int64_t physical_columns(int64_t fan_out, const MappingOptions& m) {
  const int64_t per = m.outputs_per_tile();
  return m.encoding == WeightEncoding::kDifferential ? 2 * fan_out : fan_out + (fan_out + per - 1) / per;
}

std::vector<TilePlan> plan_tiles(int64_t fan_in, int64_t fan_out, const MappingOptions& m) {
  std::vector<TilePlan> r;
  const int64_t per = m.outputs_per_tile();
  int64_t rt = 0;
  for (int64_t row0 = 0; row0 < fan_in; row0 += m.tile_rows, ++rt) {
    int64_t ct = 0;
    for (int64_t out0 = 0; out0 < fan_out; out0 += per, ++ct) {
      TilePlan p;
      p.row0 = row0;
      p.rows = std::min(m.tile_rows, fan_in - row0);
      p.out0 = out0;
      p.outs = std::min(per, fan_out - out0);
      p.row_tile = rt;
      p.col_tile = ct;
      p.phys_cols = m.encoding == WeightEncoding::kDifferential ? 2 * p.outs : p.outs + 1;
      r.push_back(p);
    }
  }
  return r;
}

TileTarget map_tile(const RowMatrixXd& w, WeightEncoding e, double g_low_s, double g_high_s) {
  TileTarget t;
  t.w_max = w.size() ? w.cwiseAbs().maxCoeff() : 0.0;
  const double w_scale = t.w_max > 0 ? t.w_max : 1.0;
  const int64_t rows = w.rows(), outs = w.cols();
  if (e == WeightEncoding::kDifferential) {
    t.g_low_s = g_low_s;
    t.g_per_weight_s = (g_high_s - g_low_s) / w_scale;
    t.g_s.resize(rows, 2 * outs);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < outs; ++j) {
        const double x = w(i, j);
        // min(): g_low + a max|w| may round one ulp above g_high.
        t.g_s(i, 2 * j) = std::min(g_high_s, g_low_s + t.g_per_weight_s * std::max(x, 0.0));
        t.g_s(i, 2 * j + 1) = std::min(g_high_s, g_low_s + t.g_per_weight_s * std::max(-x, 0.0));
      }
  } else {
    t.g_low_s = 0.5 * (g_low_s + g_high_s);
    t.g_per_weight_s = (g_high_s - g_low_s) / (2 * w_scale);
    t.g_s.resize(rows, outs + 1);
    t.g_s.leftCols(outs) = ((t.g_per_weight_s * w).array() + t.g_low_s).cwiseMax(g_low_s).cwiseMin(g_high_s);
    t.g_s.col(outs).setConstant(t.g_low_s);
  }
  return t;
}

RowMatrixXd signed_columns(const RowMatrixXd& c, WeightEncoding e, int64_t outs) {
  RowMatrixXd r(c.rows(), outs);
  if (e == WeightEncoding::kDifferential) {
    for (int64_t j = 0; j < outs; ++j) r.col(j) = c.col(2 * j) - c.col(2 * j + 1);
  } else {
    for (int64_t j = 0; j < outs; ++j) r.col(j) = c.col(j) - c.col(outs);
  }
  return r;
}

RowMatrixXd signed_currents(const RowMatrixXd& column_currents, WeightEncoding e, int64_t outs) {
  return signed_columns(column_currents, e, outs);
}

}  // namespace xbar::engine::nn
