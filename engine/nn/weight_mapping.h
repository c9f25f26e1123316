// Weight mapping: a layer's weight matrix (fan_in x fan_out, nn_network.h) -> target
// conductances on crossbar tiles, and the tiles' column currents -> signed layer outputs.
//
//   engine::nn::MappingOptions m;                      // tile size, encoding, device window
//   for (const engine::nn::TilePlan& p : engine::nn::plan_tiles(fan_in, fan_out, m)) {
//     RowMatrixXd block = w.block(p.row0, p.out0, p.rows, p.outs);
//     engine::nn::TileTarget t = engine::nn::map_tile(block, m.encoding, g_low_s, m.range.g_max_s);
//     ... program t.g_s, solve, I (K x phys_cols) ...
//     RowMatrixXd y = engine::nn::signed_currents(I, m.encoding, p.outs) / (t.g_per_weight_s * ...);
//   }
//
// Tiling: a layer is cut into tiles of at most tile_rows inputs by tile_cols physical columns;
// the edge tiles are smaller. Partial sums of the row tiles of one output are added digitally
// (after each tile's ADC).
//
// Encodings [key weight-encoding] (a weight is signed, a conductance is not):
//   differential  each output j uses two adjacent columns 2j (G+) and 2j+1 (G-):
//                 G+ = g_low + a max(w, 0),  G- = g_low + a max(-w, 0),  a = (g_high - g_low) / max|w|,
//                 and the sense amplifier takes I(2j) - I(2j+1) = a w^T v: tile_cols / 2 outputs.
//   offset        each output j is one column, G = g_ref + a w with g_ref = (g_low + g_high) / 2,
//                 a = (g_high - g_low) / (2 max|w|), and one reference column of g_ref cells
//                 (the last column) is subtracted: I(j) - I(ref) = a w^T v: tile_cols - 1 outputs.
//                 Half the conductance swing of the differential pair, fewer columns.
// Per-tile scaling: a is chosen per tile from the tile's own max|w|, so every tile uses the
// whole window; the digital side divides by a (and by the output's compensation scale s_q, see
// hardware_layer.h).
//
// The floor g_low (>= g_min): the compensation map can only make the array compute s G with
// s < 1 (far cells need more than g_max otherwise), and every target below g_min / s then
// needs less than g_min (bench/README.md, compensation section). Both encodings take the
// difference of two columns, so lifting targets by a common offset leaves the signal a w^T v
// unchanged. Linear tiles are mapped with g_low = g_min and the map lifts, per row and pair,
// only the cells that need it (calib/compensation.h, the in-map floor); nonlinear tiles lift
// every target to a g_low chosen in hardware_layer.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/conductance_range.h"
#include "netlists/crossbar_builder.h"

namespace xbar::engine::nn {

using netlists::RowMatrixXd;

enum class WeightEncoding { kDifferential, kOffset };
std::string to_string(WeightEncoding e);
WeightEncoding parse_weight_encoding(const std::string& s);  // InputError naming weight-encoding

struct MappingOptions {
  // Weight encoding [key weight-encoding]; differential (default) doubles the columns but keeps
  // the full conductance swing per sign and needs no reference column.
  WeightEncoding encoding = WeightEncoding::kDifferential;
  // Physical tile size [keys tile-rows, tile-cols]: inputs (word lines) x columns (bit lines).
  // 128 x 128 is the configuration of issue 6's table; >= 1 row, >= 2 columns (a pair or a
  // weight column plus its reference).
  int64_t tile_rows = 128;
  int64_t tile_cols = 128;
  devices::ConductanceRange range;  // device window [keys g-min, g-max]
  void validate() const;            // InputError naming the key
  // Logical outputs per full tile: tile_cols / 2 (differential) or tile_cols - 1 (offset).
  int64_t outputs_per_tile() const;
};

// One tile's place in a layer: inputs [row0, row0 + rows), outputs [out0, out0 + outs).
struct TilePlan {
  int64_t row0 = 0, rows = 0, out0 = 0, outs = 0;
  int64_t row_tile = 0, col_tile = 0;  // its position in the layer's grid of tiles
  int64_t phys_cols = 0;               // columns it occupies: 2 outs, or outs + 1
};

// Physical columns a layer of fan_out outputs needs in one row of tiles (for messages and the
// tile-size check): 2 fan_out (differential) or fan_out + ceil(fan_out / per_tile) (offset).
int64_t physical_columns(int64_t fan_out, const MappingOptions& m);

// Row-major over the tile grid (row tiles outer).
std::vector<TilePlan> plan_tiles(int64_t fan_in, int64_t fan_out, const MappingOptions& m);

struct TileTarget {
  RowMatrixXd g_s;              // rows x phys_cols target conductances, siemens
  double g_per_weight_s = 0;    // a: siemens per unit weight
  double g_low_s = 0;           // the floor (differential) or the reference conductance (offset)
  double w_max = 0;             // largest |w| of the block
};

// Targets of one block of weights (rows x outs) inside [g_low_s, g_high_s]. A block of zeros
// maps to the floor (differential) or the reference (offset).
TileTarget map_tile(const RowMatrixXd& w_block, WeightEncoding e, double g_low_s, double g_high_s);

// K x outs signed currents from the K x phys_cols column currents (the sense amplifiers'
// subtraction; see the encodings above).
RowMatrixXd signed_currents(const RowMatrixXd& column_currents, WeightEncoding e, int64_t outs);

// The same subtraction applied to the columns of a conductance-like matrix (rows x phys_cols
// -> rows x outs): the signed weight a w the tile realises, e.g. from an effective matrix T.
RowMatrixXd signed_columns(const RowMatrixXd& g, WeightEncoding e, int64_t outs);

}  // namespace xbar::engine::nn
