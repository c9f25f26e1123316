// `xbar ppa`: energy, latency and area of one read of an array (its transient and the
// technology, calib/ppa.h), or per inference of a network mapped onto tiles
// (engine/nn/network_ppa.h): ppa.json, ppa.csv.
#include <iostream>
#include <sstream>
#include <string>

#include "calib/technology.h"
#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/nn_commands.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/network_ppa.h"
#include "engine/nn/nn_model.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_transient.h"
#include "support/format.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using namespace detail;
using nlohmann::json;

namespace {

// The technology used, each figure with its key and unit, and where it came from.
json technology_json(const PpaConfig& p) {
  json figures = json::object();
  for (const calib::TechnologyKey& k : calib::technology_keys())
    figures[k.key] = {{"value", p.technology.*(k.field)}, {"unit", k.unit}};
  return {{"source", p.technology_path.empty() ? "built-in defaults (the template calib/technology.ini, whose comments "
                                                 "give each figure's source)"
                                               : p.technology_path},
          {"figures", figures}};
}

json read_out_json(const PpaConfig& p) {
  return {{"adc_bits", p.options.adc_bits},
          {"columns_per_adc", p.options.columns_per_adc},
          {"read_time_s", p.options.read_time_s},
          {"read_time_note", "0 = the array's settling time"},
          {"adc_energy_per_conversion_j", p.technology.adc_energy_j(p.options.adc_bits)}};
}

json array_ppa_json(const calib::ArrayPpa& a) {
  return {{"energy_per_read_j",
           {{"array_static_j", a.array_static_j},
            {"line_charging_j", a.line_charging_j},
            {"adc_j", a.adc_j},
            {"dac_j", a.dac_j},
            {"tia_j", a.tia_j},
            {"total_j", a.total_j}}},
          {"latency_s", {{"read_s", a.read_s}, {"conversion_s", a.conversion_s}, {"total_s", a.latency_s}}},
          {"area_m2",
           {{"array_m2", a.array_area_m2},
            {"adc_m2", a.adc_area_m2},
            {"dac_m2", a.dac_area_m2},
            {"tia_m2", a.tia_area_m2},
            {"total_m2", a.total_area_m2}}},
          {"adcs", a.adcs},
          {"static_power_w", a.static_power_w},
          {"settled", a.settled},
          {"message", a.message}};
}

// ppa.csv: one row per figure.
std::string array_csv(const calib::ArrayPpa& a) {
  std::ostringstream os;
  os << "figure,value,unit\n";
  auto row = [&](const char* name, double v, const char* unit) { os << name << "," << format_number(v) << "," << unit << "\n"; };
  row("energy_array_static", a.array_static_j, "J");
  row("energy_line_charging", a.line_charging_j, "J");
  row("energy_adc", a.adc_j, "J");
  row("energy_dac", a.dac_j, "J");
  row("energy_tia", a.tia_j, "J");
  row("energy_total", a.total_j, "J");
  row("latency_read", a.read_s, "s");
  row("latency_conversion", a.conversion_s, "s");
  row("latency_total", a.latency_s, "s");
  row("area_array", a.array_area_m2, "m^2");
  row("area_adc", a.adc_area_m2, "m^2");
  row("area_dac", a.dac_area_m2, "m^2");
  row("area_tia", a.tia_area_m2, "m^2");
  row("area_total", a.total_area_m2, "m^2");
  row("adcs", double(a.adcs), "count");
  row("static_power", a.static_power_w, "W");
  return os.str();
}

int run_ppa_array(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  const PpaConfig& p = cfg.ppa;
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  const Eigen::VectorXd v = single_input(cfg, in);
  const auto x = netlists::build_crossbar(a.spec, a.g, devices::make_cell_model(cfg.cell, cfg.cell_params));
  progress(cfg, "transient of the " + std::to_string(a.spec.rows) + " x " + std::to_string(a.spec.cols) + " array");
  const solvers::CrossbarTransient t = solvers::crossbar_transient(x, v, transient_options(cfg), cfg.solve.solver.linear);
  const calib::ArrayPpa pp = calib::array_ppa(t, a.spec, p.technology, p.options);

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;
  write_csv(outputs, dir + "ppa.csv", array_csv(pp));
  json r = base_result(cfg, a);
  r["array"]["c_row_f"] = a.spec.c_row_f;
  r["array"]["c_col_f"] = a.spec.c_col_f;
  r["inputs"] = in.source;
  r["technology"] = technology_json(p);
  r["read_out"] = read_out_json(p);
  r["ppa"] = array_ppa_json(pp);
  r["ppa"]["definitions"] =
      "per read (one matrix-vector product): array static = P_static x read time; line charging = E(t_stop) - "
      "P_static x t_stop; ADC = N x adc-fom x 2^bits; DAC = M x dac-energy; TIA = N x tia-power x read time; "
      "latency = read time + columns-per-adc x adc-conversion-time; area = M N pitch^2 + ceil(N / columns-per-adc) "
      "ADCs + M DACs + N TIAs (calib/ppa.h)";
  r.update(transient_json(t, cfg.transient));
  r["outputs"] = {{"ppa_json", "ppa.json"}, {"ppa_csv", "ppa.csv"}};
  r["total_s"] = seconds_since(t_start);
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "ppa.json", r);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "ppa " << a.spec.rows << " x " << a.spec.cols << ": " << pp.message << "\n  wrote " << dir
              << "ppa.json, ppa.csv (" << fmt(seconds_since(t_start)) << " s)\n";
  return 0;
}

std::string network_csv(const nn::NetworkPpa& n) {
  std::ostringstream os;
  os << "layer,kind,fan_in,fan_out,tiles,reads_per_inference,energy_per_inference_j,array_static_j,line_charging_j,"
        "adc_j,dac_j,tia_j,latency_per_inference_s,area_m2,adcs,settled\n";
  auto f = [](double v) { return format_number(v); };
  for (const nn::LayerPpa& l : n.layers)
    os << l.name << "," << l.kind << "," << l.fan_in << "," << l.fan_out << "," << l.tiles << ","
       << l.reads_per_inference << "," << f(l.energy_per_inference_j) << "," << f(l.array_static_j) << ","
       << f(l.line_charging_j) << "," << f(l.adc_j) << "," << f(l.dac_j) << "," << f(l.tia_j) << ","
       << f(l.latency_per_inference_s) << "," << f(l.area_m2) << "," << l.adcs << "," << (l.settled ? 1 : 0) << "\n";
  os << "total,network,,," << n.tiles_total << ",," << f(n.energy_per_inference_j) << "," << f(n.array_static_j) << ","
     << f(n.line_charging_j) << "," << f(n.adc_j) << "," << f(n.dac_j) << "," << f(n.tia_j) << ","
     << f(n.latency_per_inference_s) << "," << f(n.area_m2) << "," << n.adcs << "," << (n.settled ? 1 : 0) << "\n";
  return os.str();
}

int run_ppa_model(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  const PpaConfig& p = cfg.ppa;
  nn::NetworkPpaOptions o;
  o.mapping = p.mapping;
  o.wires = cfg.spec;
  o.cell = cfg.cell;
  o.cell_params = cfg.cell_params;
  o.v_read_v = cfg.v_read_v;
  o.transient = cfg.transient;  // quiet per tile: the network's progress is per tile
  o.linear = cfg.solve.solver.linear;
  o.technology = p.technology;
  o.ppa = p.options;
  o.validate();
  const nn::Network net = nn::load_network(p.model_path);
  require_tiles_fit(net, p.mapping);
  progress(cfg, "model " + p.model_path + " (" + net.arch + "): costing every tile");
  const nn::NetworkPpa n = nn::network_ppa(net, o, [&](const std::string& msg) { progress(cfg, msg); });

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;
  write_csv(outputs, dir + "ppa.csv", network_csv(n));
  json layers = json::array();
  for (const nn::LayerPpa& l : n.layers)
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"fan_in", l.fan_in},
                      {"fan_out", l.fan_out},
                      {"tiles", l.tiles},
                      {"reads_per_inference", l.reads_per_inference},
                      {"energy_per_read_j", l.energy_per_read_j},
                      {"energy_per_inference_j", l.energy_per_inference_j},
                      {"energy_components_per_inference_j",
                       {{"array_static_j", l.array_static_j},
                        {"line_charging_j", l.line_charging_j},
                        {"adc_j", l.adc_j},
                        {"dac_j", l.dac_j},
                        {"tia_j", l.tia_j}}},
                      {"latency_per_read_s", l.latency_per_read_s},
                      {"latency_per_inference_s", l.latency_per_inference_s},
                      {"area_m2", l.area_m2},
                      {"array_area_m2", l.array_area_m2},
                      {"adcs", l.adcs},
                      {"settled", l.settled}});
  json tiles = json::array();
  for (const nn::TilePpa& t : n.tiles)
    tiles.push_back({{"layer", t.layer},
                     {"row_tile", t.plan.row_tile},
                     {"col_tile", t.plan.col_tile},
                     {"rows", t.plan.rows},
                     {"cols", t.plan.phys_cols},
                     {"settling_s", t.settling_s},
                     {"steps", t.steps},
                     {"ppa", array_ppa_json(t.ppa)}});
  json r = {{"tool", "xbar"},
            {"version", XBAR_VERSION},
            {"command", cfg.command},
            {"config", cfg.config_json},
            {"seed", cfg.seed},
            {"model", {{"path", p.model_path}, {"architecture", net.arch}, {"hat", net.hat}}},
            {"mapping",
             {{"tile_rows", p.mapping.tile_rows},
              {"tile_cols", p.mapping.tile_cols},
              {"weight_encoding", nn::to_string(p.mapping.encoding)},
              {"g_min_s", p.mapping.range.g_min_s},
              {"g_max_s", p.mapping.range.g_max_s},
              {"targets", "uncompensated, floor g-min (engine/nn/weight_mapping.h)"},
              {"v_read_v", cfg.v_read_v},
              {"input", "every row of every tile at v-read: the costliest read (an upper bound per read)"}}},
            {"technology", technology_json(p)},
            {"read_out", read_out_json(p)},
            {"per_inference",
             {{"energy_j", n.energy_per_inference_j},
              {"energy_components_j",
               {{"array_static_j", n.array_static_j},
                {"line_charging_j", n.line_charging_j},
                {"adc_j", n.adc_j},
                {"dac_j", n.dac_j},
                {"tia_j", n.tia_j}}},
              {"latency_s", n.latency_per_inference_s},
              {"area_m2", n.area_m2},
              {"tiles", n.tiles_total},
              {"adcs", n.adcs},
              {"settled", n.settled},
              {"definitions",
               "energy: sum over layers of reads per inference x every tile's energy per read; latency: layers in "
               "sequence, a layer's tiles in parallel, its reads (conv: one per output pixel) in sequence, each the "
               "slowest tile's settling + conversions; area: every tile with its periphery (engine/nn/network_ppa.h)"}}},
            {"layers", layers},
            {"tiles", tiles},
            {"outputs", {{"ppa_json", "ppa.json"}, {"ppa_csv", "ppa.csv"}}},
            {"total_s", seconds_since(t_start)},
            {"peak_rss_bytes", peak_rss_bytes()}};
  write_json(outputs, dir + "ppa.json", r);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "ppa " << p.model_path << " (" << net.arch << ", " << n.tiles_total << " tiles of " << p.mapping.tile_rows
              << " x " << p.mapping.tile_cols << "): " << fmt(n.energy_per_inference_j) << " J, "
              << fmt(n.latency_per_inference_s) << " s per inference, area " << fmt(n.area_m2) << " m^2"
              << (n.settled ? "" : " (some tile did NOT settle by t-stop)") << "\n  wrote " << dir
              << "ppa.json, ppa.csv (" << fmt(seconds_since(t_start)) << " s)\n";
  return 0;
}

}  // namespace

int run_ppa(const RunConfig& cfg) {
  if (cfg.out.empty()) throw InputError("key out: ppa needs --out DIR");
  return cfg.ppa.model_path.empty() ? run_ppa_array(cfg) : run_ppa_model(cfg);
}

}  // namespace xbar::engine::commands
