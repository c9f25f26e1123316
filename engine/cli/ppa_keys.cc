#include "engine/cli/ppa_keys.h"

#include <cstdint>
#include <string>

#include "calib/technology_ini.h"
#include "support/input_error.h"

namespace xbar::engine::cli {

using commands::RunConfig;

po::options_description ppa_keys(const RunConfig& d) {
  const commands::PpaConfig& p = d.ppa;
  po::options_description k("Power, performance and area");
  k.add_options()
      ("technology", po::value<std::string>(),
       "technology INI file: ADC figure of merit, ENOB, conversion time and area, DAC, TIA, cell pitch "
       "(every key required; template and sources: calib/technology.ini); default: that template's built-in figures")
      ("adc-bits", po::value<int>()->default_value(p.options.adc_bits), "bits of each column's ADC, in [1, 24]: a conversion costs adc-fom x 2^bits")
      ("columns-per-adc", po::value<int64_t>()->default_value(p.options.columns_per_adc),
       "columns sharing one ADC, >= 1: fewer ADCs (area), their conversions one after another (latency)")
      ("read-time", num(p.options.read_time_s), "time a read holds the inputs [s], >= 0; 0 = the array's settling time");
  po::options_description m("Network (--model): every crossbar layer on tiles, as `xbar evaluate` maps it");
  m.add_options()
      ("model", po::value<std::string>(),
       "a model.pt (xbar train): PPA per layer and per inference, each tile's transient at full-scale input "
       "(every row at --v-read) on its target conductances")
      ("tile-rows", po::value<int64_t>()->default_value(p.mapping.tile_rows), "--model: crossbar tile rows (inputs)")
      ("tile-cols", po::value<int64_t>()->default_value(p.mapping.tile_cols), "--model: crossbar tile columns (bit lines)")
      ("weight-encoding", po::value<std::string>()->default_value(nn::to_string(p.mapping.encoding)),
       "--model: differential (G+/G- column pairs) | offset (one column per weight + a reference column per tile)")
      ("g-min", num(p.mapping.range.g_min_s), "--model: device window low end [S] (the targets' floor)")
      ("g-max", num(p.mapping.range.g_max_s), "--model: device window high end [S]");
  k.add(m);
  return k;
}

void fill_ppa_config(RunConfig& c, const po::variables_map& vm) {
  commands::PpaConfig& p = c.ppa;
  get_opt(vm, "adc-bits", p.options.adc_bits);
  get_opt(vm, "columns-per-adc", p.options.columns_per_adc);
  get_opt(vm, "read-time", p.options.read_time_s);
  p.options.validate();
  get_opt(vm, "model", p.model_path);
  get_opt(vm, "tile-rows", p.mapping.tile_rows);
  get_opt(vm, "tile-cols", p.mapping.tile_cols);
  std::string s;
  if (get_opt(vm, "weight-encoding", s)) p.mapping.encoding = nn::parse_weight_encoding(s);
  get_opt(vm, "g-min", p.mapping.range.g_min_s);
  get_opt(vm, "g-max", p.mapping.range.g_max_s);
  auto given = [&](const char* k) { return vm.count(k) && !vm[k].defaulted(); };
  if (p.model_path.empty()) {
    for (const char* k : {"tile-rows", "tile-cols", "weight-encoding", "g-min", "g-max"})
      if (given(k))
        throw InputError(std::string("key ") + k + ": only with --model (the tiles of a network); an array's "
                         "size and conductances come from --rows/--cols/--g");
  } else {
    for (const char* k : {"g", "rows", "cols", "g-on", "g-off", "v"})
      if (given(k))
        throw InputError(std::string("keys --model and --") + k + " both given: with --model the arrays are the "
                         "network's tiles (--tile-rows, --tile-cols) and every row reads at --v-read");
    p.mapping.validate();
  }
  if (get_opt(vm, "technology", p.technology_path)) p.technology = xbar::calib::read_technology_ini(p.technology_path);
  p.technology.validate();
}

}  // namespace xbar::engine::cli
