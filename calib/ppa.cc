#include "calib/ppa.h"

#include <algorithm>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

void PpaOptions::validate() const {
  if (adc_bits < 1 || adc_bits > 24)
    throw InputError("key adc-bits = " + std::to_string(adc_bits) + ": must be in [1, 24]");
  if (columns_per_adc < 1)
    throw InputError("key columns-per-adc = " + std::to_string(columns_per_adc) + ": must be >= 1");
  if (!(read_time_s >= 0) || !std::isfinite(read_time_s))
    throw InputError("key read-time = " + format_number(read_time_s) +
                     ": must be finite and >= 0 s (0 = the settling time)");
}

ArrayPpa array_ppa(const solvers::CrossbarTransient& t, const netlists::CrossbarSpec& spec,
                   const Technology& tech, const PpaOptions& o) {
  o.validate();
  tech.validate();
  const int64_t m = spec.rows, n = spec.cols;
  const solvers::TransientRun& run = t.run;
  const double t_stop = run.times_s.size() ? run.times_s(run.times_s.size() - 1) : 0.0;
  ArrayPpa p;
  p.settled = t.all_settled;
  p.read_s = o.read_time_s > 0 ? o.read_time_s : t.max_settling_s;
  p.static_power_w = run.static_power_w;
  // Energy.
  p.array_static_j = run.static_power_w * p.read_s;
  p.line_charging_j = run.energy_j - run.static_power_w * t_stop;
  p.adc_j = double(n) * tech.adc_energy_j(o.adc_bits);
  p.dac_j = double(m) * tech.dac_energy_j;
  p.tia_j = double(n) * tech.tia_power_w * p.read_s;
  p.total_j = p.array_static_j + p.line_charging_j + p.adc_j + p.dac_j + p.tia_j;
  // Time.
  p.conversion_s = double(o.columns_per_adc) * tech.adc_conversion_s;
  p.latency_s = p.read_s + p.conversion_s;
  // Area: the spec's line pitches where its wire geometry gives them.
  const double pitch_along_row = spec.row_geometry.given() ? spec.row_geometry.pitch_m : tech.cell_pitch_m;
  const double pitch_along_col = spec.col_geometry.given() ? spec.col_geometry.pitch_m : tech.cell_pitch_m;
  p.array_area_m2 = double(m) * double(n) * pitch_along_row * pitch_along_col;
  p.adcs = (n + o.columns_per_adc - 1) / o.columns_per_adc;
  p.adc_area_m2 = double(p.adcs) * tech.adc_area_m2;
  p.dac_area_m2 = double(m) * tech.dac_area_m2;
  p.tia_area_m2 = double(n) * tech.tia_area_m2;
  p.total_area_m2 = p.array_area_m2 + p.adc_area_m2 + p.dac_area_m2 + p.tia_area_m2;
  // What dominates.
  const std::pair<const char*, double> parts[] = {{"array static", p.array_static_j},
                                                  {"line charging", p.line_charging_j},
                                                  {"ADC", p.adc_j}, {"DAC", p.dac_j}, {"TIA", p.tia_j}};
  const auto* top = std::max_element(std::begin(parts), std::end(parts),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  p.message = std::string("energy ") + format_3g(p.total_j) + " J per read (largest: " + top->first + " " +
              format_3g(top->second) + " J), latency " + format_3g(p.latency_s) + " s (settling " +
              format_3g(p.read_s) + " s" + (p.settled ? "" : ", NOT settled by t-stop") + "), area " +
              format_3g(p.total_area_m2) + " m^2 (array " + format_3g(p.array_area_m2) + " m^2)";
  return p;
}

}  // namespace xbar::calib
