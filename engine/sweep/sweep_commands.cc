#include "engine/sweep/sweep_commands.h"

#include "support/format.h"

namespace xbar::engine::sweep {

// One line per subcommand. Column names follow size.csv's (uncomp_/comp_/calib_ prefixes).
// `evaluate`'s hat column is empty for a model evaluated without --hat-model.
const std::vector<SweepCommand>& sweep_commands() {
  static const std::vector<SweepCommand> table = {
      {"solve", "result.json", {{"backend_used", "/solve/backend_used"}, {"max_abs_error_a", "/ir_drop/max_abs_error_a"}, {"max_error_rel_full_scale", "/ir_drop/max_error_rel_full_scale"}, {"ideal_full_scale_a", "/ir_drop/ideal_full_scale_a"}, {"newton_iterations", "/solve/newton/iterations"}, {"cg_iterations", "/solve/cg/iterations"}}},
      {"check", "check.json", {{"pass", "/pass"}, {"current_max_rel_diff", "/currents/max_rel_diff"}, {"current_max_abs_diff_a", "/currents/max_abs_diff_a"}, {"voltage_max_rel_diff", "/voltages/max_rel_diff"}, {"voltage_max_abs_diff_v", "/voltages/max_abs_diff_v"}, {"native_backend", "/native/backend_used"}}},
      {"calibrate", "result.json", {{"uncomp_max_lsb", "/errors/uncompensated/max_lsb"}, {"uncomp_rms_lsb", "/errors/uncompensated/rms_lsb"}, {"uncomp_max_pct_fs", "/errors/uncompensated/max_pct_full_scale"}, {"comp_max_lsb", "/errors/compensated/max_lsb"}, {"comp_rms_lsb", "/errors/compensated/rms_lsb"}, {"comp_max_pct_fs", "/errors/compensated/max_pct_full_scale"}, {"calib_max_lsb", "/errors/calibrated/max_lsb"}, {"calib_rms_lsb", "/errors/calibrated/rms_lsb"}, {"calib_max_pct_fs", "/errors/calibrated/max_pct_full_scale"}, {"comp_scale", "/compensation/scale"}, {"comp_iterations", "/compensation/iterations"}, {"comp_converged", "/compensation/converged"}, {"comp_residual_rel", "/compensation/residual_rel"}, {"comp_cells_above_g_max", "/compensation/cells_needing_above_g_max"}, {"comp_cells_below_g_min", "/compensation/cells_needing_below_g_min"}, {"full_scale_a", "/errors/uncompensated/full_scale_a"}, {"lsb_a", "/errors/uncompensated/lsb_a"}, {"adc_bits", "/errors/uncompensated/adc_bits"}}},
      {"size", "result.json", {{"largest_uncomp", "/largest/uncompensated/largest_passing_size"}, {"largest_comp", "/largest/compensated/largest_passing_size"}, {"largest_calib", "/largest/calibrated/largest_passing_size"}, {"uncomp_bounded", "/largest/uncompensated/failing_size_found_above"}, {"comp_bounded", "/largest/compensated/failing_size_found_above"}, {"calib_bounded", "/largest/calibrated/failing_size_found_above"}, {"sizes_evaluated", "/points"}}},
      {"evaluate", "accuracy.json", {{"software", "/software"}, {"ideal", "/ideal"}, {"uncompensated", "/uncompensated"}, {"compensated", "/compensated"}, {"hat", "/hat"}, {"ideal_matches_software", "/ideal_matches_software"}}},
  };
  return table;
}

const SweepCommand* find_sweep_command(const std::string& name) {
  for (const auto& c : sweep_commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::string sweep_command_names() {
  std::string s;
  for (const auto& c : sweep_commands()) s += (s.empty() ? "" : "|") + c.name;
  return s;
}

std::string metric_text(const nlohmann::json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return format_number(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();  // an object or array: its JSON text (CSV-quoted by the writer)
}

std::map<std::string, std::string> extract_metrics(const SweepCommand& c, const nlohmann::json& result) {
  std::map<std::string, std::string> out;
  for (const auto& m : c.metrics) {
    const nlohmann::json::json_pointer p(m.pointer);
    out[m.column] = result.contains(p) ? metric_text(result.at(p)) : "";
  }
  return out;
}

}  // namespace xbar::engine::sweep
