// Power, performance and area of a network's inference on crossbar tiles (issue 20, `xbar ppa
// --model`): every MVM layer mapped onto tiles as `xbar evaluate` maps it (weight_mapping.h,
// the uncompensated targets with floor g-min), each tile's read costed from its own transient
// (solvers/crossbar_transient.h) and the technology (calib/ppa.h), then per layer and per
// inference.
//
//   engine::nn::NetworkPpaOptions o;        // mapping, wires and capacitances, v_read, transient,
//   o.technology = ...;                     // technology and read-out
//   engine::nn::NetworkPpa p = engine::nn::network_ppa(net, o, progress);
//   p.energy_per_inference_j, p.latency_per_inference_s, p.area_m2, p.layers[k], p.tiles[t]
//
// Definitions:
//  - a tile read: every row of the tile at v_read (the DAC's full scale), its target
//    conductances, through its wires: the costliest read (activations below full scale, or
//    ReLU zeros, draw less), so the figures are an upper bound per read;
//  - reads per inference of a layer: 1 for a dense layer, out_h out_w for a convolution (one
//    im2col vector per output pixel, nn_network.h), on every tile of the layer;
//  - energy per inference: sum over layers of reads x the sum over the layer's tiles of one
//    read's energy (calib::ArrayPpa::total_j);
//  - latency per inference: the layers one after another, a layer's tiles in parallel (each
//    with its own periphery) and its reads one after another: sum over layers of reads x the
//    slowest tile's latency (settling + conversions); digital partial sums, activations and
//    data movement are not modelled;
//  - area: every tile with its periphery (weights stay in place), summed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "calib/ppa.h"
#include "calib/technology.h"
#include "devices/registry.h"
#include "engine/nn/nn_network.h"
#include "engine/nn/weight_mapping.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_transient.h"
#include "solvers/linear_backend.h"

namespace xbar::engine::nn {

struct NetworkPpaOptions {
  MappingOptions mapping;                 // tiles, encoding, device window
  netlists::CrossbarSpec wires;           // wires, drivers, sensing, c-row, c-col (size per tile)
  std::string cell = "linear";
  devices::CellParams cell_params;
  double v_read_v = 0.2;                  // every row of a tile read at this voltage (DAC full scale)
  solvers::CrossbarTransientOptions transient;
  solvers::LinearBackendOptions linear;
  calib::Technology technology;
  calib::PpaOptions ppa;
  void validate() const;                  // InputError naming the key
};

struct TilePpa {
  std::string layer;       // the layer's name
  TilePlan plan;
  calib::ArrayPpa ppa;     // one read
  double settling_s = 0;   // the tile's slowest column
  int64_t steps = 0;       // of its transient
};

struct LayerPpa {
  std::string name, kind;
  int64_t fan_in = 0, fan_out = 0, tiles = 0, reads_per_inference = 0;
  double energy_per_read_j = 0;          // every tile read once
  double energy_per_inference_j = 0;     // reads x energy_per_read_j
  // Components per inference: array static, line charging, ADC, DAC, TIA.
  double array_static_j = 0, line_charging_j = 0, adc_j = 0, dac_j = 0, tia_j = 0;
  double latency_per_read_s = 0;         // the slowest tile's
  double latency_per_inference_s = 0;    // reads x latency_per_read_s
  double area_m2 = 0, array_area_m2 = 0;
  int64_t adcs = 0;
  bool settled = true;                   // every tile settled before t-stop
};

struct NetworkPpa {
  std::vector<LayerPpa> layers;  // the MVM layers, in order
  std::vector<TilePpa> tiles;    // every tile of every layer
  double energy_per_inference_j = 0, latency_per_inference_s = 0, area_m2 = 0;
  double array_static_j = 0, line_charging_j = 0, adc_j = 0, dac_j = 0, tia_j = 0;
  int64_t tiles_total = 0, adcs = 0;
  bool settled = true;
};

// progress (may be empty): one line per few tiles. Throws InputError (options, tiles larger
// than the layers) or NumericalError (a tile's transient).
NetworkPpa network_ppa(const Network& net, const NetworkPpaOptions& o,
                       const std::function<void(const std::string&)>& progress);

}  // namespace xbar::engine::nn
