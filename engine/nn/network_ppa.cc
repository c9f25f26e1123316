#include "engine/nn/network_ppa.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "netlists/crossbar_builder.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

void NetworkPpaOptions::validate() const {
  mapping.validate();
  if (!(v_read_v > 0) || !std::isfinite(v_read_v))
    throw InputError("key v-read = " + format_number(v_read_v) + ": must be finite and > 0 V (the tiles' read voltage)");
  transient.validate();
  technology.validate();
  ppa.validate();
  linear.validate();
}

NetworkPpa network_ppa(const Network& net, const NetworkPpaOptions& o,
                       const std::function<void(const std::string&)>& progress) {
  o.validate();
  const auto t0 = std::chrono::steady_clock::now();
  const auto cell = devices::make_cell_model(o.cell, o.cell_params);
  NetworkPpa r;
  size_t total_tiles = 0;
  for (size_t k : net.mvm_layers())
    total_tiles += plan_tiles(net.layers[k].fan_in(), net.layers[k].fan_out(), o.mapping).size();
  for (size_t k : net.mvm_layers()) {
    const Layer& l = net.layers[k];
    LayerPpa lp;
    lp.name = l.name;
    lp.kind = to_string(l.kind);
    lp.fan_in = l.fan_in();
    lp.fan_out = l.fan_out();
    lp.reads_per_inference = l.reads_per_image();
    for (const TilePlan& p : plan_tiles(l.fan_in(), l.fan_out(), o.mapping)) {
      const RowMatrixXd w = l.w.block(p.row0, p.out0, p.rows, p.outs);
      const TileTarget target = map_tile(w, o.mapping.encoding, o.mapping.range.g_min_s, o.mapping.range.g_max_s);
      netlists::CrossbarSpec spec = o.wires;
      spec.rows = p.rows;
      spec.cols = p.phys_cols;
      const auto x = netlists::build_crossbar(spec, target.g_s, cell);
      const solvers::CrossbarTransient t =
          solvers::crossbar_transient(x, Eigen::VectorXd::Constant(p.rows, o.v_read_v), o.transient, o.linear);
      TilePpa tp;
      tp.layer = l.name;
      tp.plan = p;
      tp.ppa = calib::array_ppa(t, spec, o.technology, o.ppa);
      tp.settling_s = t.max_settling_s;
      tp.steps = t.run.steps;
      ++lp.tiles;
      lp.energy_per_read_j += tp.ppa.total_j;
      lp.array_static_j += tp.ppa.array_static_j;
      lp.line_charging_j += tp.ppa.line_charging_j;
      lp.adc_j += tp.ppa.adc_j;
      lp.dac_j += tp.ppa.dac_j;
      lp.tia_j += tp.ppa.tia_j;
      lp.latency_per_read_s = std::max(lp.latency_per_read_s, tp.ppa.latency_s);
      lp.area_m2 += tp.ppa.total_area_m2;
      lp.array_area_m2 += tp.ppa.array_area_m2;
      lp.adcs += tp.ppa.adcs;
      lp.settled = lp.settled && tp.ppa.settled;
      r.tiles.push_back(std::move(tp));
      if (progress && (r.tiles.size() % 4 == 0 || r.tiles.size() == total_tiles))
        progress(std::to_string(r.tiles.size()) + "/" + std::to_string(total_tiles) + " tiles costed (" +
                 format_3g(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) + " s)");
    }
    const double reads = double(lp.reads_per_inference);
    lp.energy_per_inference_j = reads * lp.energy_per_read_j;
    for (double* e : {&lp.array_static_j, &lp.line_charging_j, &lp.adc_j, &lp.dac_j, &lp.tia_j}) *e *= reads;
    lp.latency_per_inference_s = reads * lp.latency_per_read_s;
    r.energy_per_inference_j += lp.energy_per_inference_j;
    r.array_static_j += lp.array_static_j;
    r.line_charging_j += lp.line_charging_j;
    r.adc_j += lp.adc_j;
    r.dac_j += lp.dac_j;
    r.tia_j += lp.tia_j;
    r.latency_per_inference_s += lp.latency_per_inference_s;
    r.area_m2 += lp.area_m2;
    r.tiles_total += lp.tiles;
    r.adcs += lp.adcs;
    r.settled = r.settled && lp.settled;
    r.layers.push_back(std::move(lp));
  }
  return r;
}

}  // namespace xbar::engine::nn
