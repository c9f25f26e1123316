// `xbar program`: target conductances -> programmed ones with the non-idealities of
// cfg.programming (levels, variation, stuck cells, drift): g_programmed.npy, stuck_mask.npy,
// result.json with the options and the realised statistics.
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>

#include "devices/conductance_levels.h"
#include "devices/programming.h"
#include "devices/stuck_at.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/preflight.h"
#include "engine/commands/flash_arrays.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "support/format.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using namespace detail;
using netlists::RowMatrixXd;
using nlohmann::json;

namespace {

// Target conductances of `program`: --g, or a random array (rows x cols, g-off..g-on, seed).
ArrayInput load_target(const RunConfig& cfg) {
  ArrayInput a;
  a.spec = cfg.spec;
  if (!cfg.g_path.empty()) return load_array(cfg);
  if (cfg.spec.rows < 1 || cfg.spec.cols < 1)
    throw InputError("keys rows x cols = " + std::to_string(cfg.spec.rows) + " x " +
                     std::to_string(cfg.spec.cols) + ": must be >= 1");
  if (!(cfg.g_off_s >= 0) || !std::isfinite(cfg.g_off_s) || !(cfg.g_on_s >= cfg.g_off_s) ||
      !std::isfinite(cfg.g_on_s))
    throw InputError("keys g-off = " + format_number(cfg.g_off_s) + ", g-on = " +
                     format_number(cfg.g_on_s) + ": need 0 <= g-off <= g-on, finite [S]");
  check_conductance_bounds(cfg);
  a.g = support::uniform_matrix(cfg.spec.rows, cfg.spec.cols, cfg.g_off_s, cfg.g_on_s, cfg.seed);
  a.source = {{"kind", "random-uniform"}, {"g_off_s", cfg.g_off_s}, {"g_on_s", cfg.g_on_s},
              {"seed", cfg.seed}};
  return a;
}

json programming_json(const devices::ProgrammingOptions& o, const devices::ProgrammingStats& st) {
  // Per-level lists can hold up to 2^20 entries: only the used levels are listed.
  json levels = json::array();
  for (size_t k = 0; k < st.levels_s.size(); ++k)
    if (st.level_occupancy.size() > k && st.level_occupancy[k] > 0)
      levels.push_back({{"g_s", st.levels_s[k]}, {"cells", st.level_occupancy[k]}});
  return {
      {"options",
       {{"g_min_s", o.range.g_min_s},
        {"g_max_s", o.range.g_max_s},
        {"levels", o.levels.levels},
        {"level_table", o.levels.table_source},
        {"variation", devices::to_string(o.variation.model)},
        {"variation_sigma", o.variation.relative_sigma},
        {"variation_sigma_s", o.variation.absolute_sigma_s},
        {"stuck_on_rate", o.stuck.stuck_on_rate},
        {"stuck_off_rate", o.stuck.stuck_off_rate},
        {"stuck_mask", o.stuck.mask_source},
        {"drift_time_s", o.drift.time_s},
        {"drift_t0_s", o.drift.t0_s},
        {"drift_nu", o.drift.nu_mean},
        {"drift_nu_sigma", o.drift.nu_sigma}}},
      {"realised",
       {{"seed", st.seed},
        {"targets_clipped_low", st.targets_clipped_low},
        {"targets_clipped_high", st.targets_clipped_high},
        {"stuck_source", st.stuck_source},
        {"stuck_on", st.stuck.stuck_on},
        {"stuck_off", st.stuck.stuck_off},
        {"levels_available", st.levels_available},
        {"levels_used", st.levels_used},
        {"level_occupancy", levels},
        {"variation",
         {{"cells_varied", st.variation.cells_varied},
          {"clipped_low", st.variation.clipped_low},
          {"clipped_high", st.variation.clipped_high},
          {"rel_error_mean", st.variation.rel_error_mean},
          {"rel_error_sigma", st.variation.rel_error_sigma}}},
        {"drift",
         {{"cells_drifted", st.drift.cells_drifted},
          {"nu_clipped_at_zero", st.drift.nu_clipped_at_zero},
          {"nu_mean_realised", st.drift.nu_mean_realised},
          {"factor_mean", st.drift.factor_mean}}},
        {"total_rel_error",
         {{"cells", st.total_rel_error_cells},
          {"mean", st.total_rel_error_mean},
          {"sigma", st.total_rel_error_sigma}}},
        {"g_programmed_min_s", st.g_programmed_min_s},
        {"g_programmed_max_s", st.g_programmed_max_s},
        {"message", st.message}}}};
}

// Flash: targets -> thresholds by block erase and program-verify, then retention:
// vth_programmed.npy, pv_status.npy, pv_pulses.npy [vth_retained.npy], result.json.
int run_program_flash(const RunConfig& cfg, Clock::time_point t_start) {
  refuse_conductance_programming(cfg.programming);
  const devices::ConductanceRange window;
  if (cfg.programming.range.g_min_s != window.g_min_s || cfg.programming.range.g_max_s != window.g_max_s)
    throw InputError(std::string("key ") + (cfg.programming.range.g_min_s != window.g_min_s ? "g-min" : "g-max") +
                     ": the device window clips conductance targets; program-verify programs flash targets as "
                     "given (the window of a network's flash tiles is set in evaluate)");
  const ArrayInput a = load_array(cfg);  // programs the targets, applies retention
  const devices::FlashProgramResult& p = *a.programmed;
  const int64_t m = a.spec.rows, n = a.spec.cols;
  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  io::write_npy(outputs, dir + "vth_programmed.npy", p.vth_v.data(), {m, n});
  io::write_npy(outputs, dir + "pv_status.npy", p.status.data(), {m, n});
  io::write_npy(outputs, dir + "pv_pulses.npy", p.pulses.data(), {m, n});
  if (cfg.retention.enabled())
    io::write_npy(outputs, dir + "vth_retained.npy", a.g.data(), {m, n});
  else
    outputs.remove(dir + "vth_retained.npy");
  const json base = base_result(cfg, a);
  // Files of a conductance `program` into the same directory would not belong to this run.
  outputs.remove(dir + "g_programmed.npy");
  outputs.remove(dir + "stuck_mask.npy");
  json res = {{"tool", "xbar"},
              {"version", XBAR_VERSION},
              {"command", cfg.command},
              {"config", effective_config(cfg, a)},
              {"seed", cfg.seed},
              {"cell", cfg.cell},
              {"cell_parameters", base["array"]["cell_parameters"]},
              {"target", {{"rows", m}, {"cols", n}, {"kind", devices::to_string(cfg.flash_target)},
                          {"unit", cfg.flash_target == devices::FlashTarget::kConductance ? "S" : "A"},
                          {"values", a.source}}},
              {"flash", a.flash},
              {"outputs",
               {{"vth_programmed", "vth_programmed.npy"},
                {"vth_unit", "V"},
                {"pv_status", "pv_status.npy"},
                {"pv_status_dtype", "uint8"},
                {"pv_status_values", "0 verified, 1 overshoot, 2 pulse-limit, 3 above-erased"},
                {"pv_pulses", "pv_pulses.npy"},
                {"pv_pulses_dtype", "int32"}}},
              {"total_s", seconds_since(t_start)},
              {"peak_rss_bytes", peak_rss_bytes()}};
  res["flash"]["gate_lines"] = base["array"]["flash"]["gate_lines"];
  if (cfg.retention.enabled())
    res["outputs"]["vth_retained"] = "vth_retained.npy (after the retention time: the thresholds read)";
  write_json(outputs, dir + "result.json", res);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << p.stats.message << "; wrote " << dir << "vth_programmed.npy, pv_status.npy, pv_pulses.npy, "
              << (cfg.retention.enabled() ? "vth_retained.npy, " : "") << "result.json\n";
  return 0;
}

}  // namespace

int run_program(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: program needs --out DIR");
  preflight(cfg);
  if (cfg.cell == "flash") return run_program_flash(cfg, t_start);
  const ArrayInput a = load_target(cfg);
  devices::ProgrammingOptions opt = cfg.programming;
  opt.seed = cfg.seed;
  if (!cfg.level_table_path.empty()) {
    opt.levels.table_s = devices::read_level_table(cfg.level_table_path);
    opt.levels.table_source = cfg.level_table_path;
  }
  if (!cfg.stuck_mask_path.empty()) {
    io::NpyArray m = io::read_npy(cfg.stuck_mask_path);
    io::require_shape(m, cfg.stuck_mask_path, "stuck-at mask --stuck-mask",
                  {{"M", "N"}, {a.spec.rows, a.spec.cols}});
    io::require_finite(m, cfg.stuck_mask_path, "stuck-at mask");
    opt.stuck.mask = devices::stuck_mask_from_values(
        Eigen::Map<const RowMatrixXd>(m.data.data(), a.spec.rows, a.spec.cols), cfg.stuck_mask_path);
    opt.stuck.mask_source = cfg.stuck_mask_path;
  }
  opt.validate();
  const devices::ProgrammingResult r = devices::program_conductances(a.g, opt);

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  const int64_t m = a.spec.rows, n = a.spec.cols;
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  io::write_npy(outputs, dir + "g_programmed.npy", r.g_s.data(), {m, n});
  const RowMatrixXd mask = r.stuck_mask.cast<double>();
  io::write_npy(outputs, dir + "stuck_mask.npy", mask.data(), {m, n});
  json res = {{"tool", "xbar"},
              {"version", XBAR_VERSION},
              {"command", cfg.command},
              {"config", effective_config(cfg, a)},
              {"seed", cfg.seed},
              {"target", {{"rows", m}, {"cols", n}, {"conductances", a.source}}},
              {"programming", programming_json(opt, r.stats)},
              {"outputs",
               {{"g_programmed", "g_programmed.npy"},
                {"stuck_mask", "stuck_mask.npy"},
                {"stuck_mask_values", "0 healthy, 1 stuck-on (g-max), 2 stuck-off (g-min)"},
                {"unit", "S"}}},
              {"total_s", seconds_since(t_start)},
              {"peak_rss_bytes", peak_rss_bytes()}};
  for (const char* f : {"vth_programmed.npy", "pv_status.npy", "pv_pulses.npy", "vth_retained.npy"})
    outputs.remove(dir + f);  // a flash `program`'s files would not belong to this run
  write_json(outputs, dir + "result.json", res);
  outputs.commit();
  if (!cfg.quiet) std::cout << r.stats.message << "; wrote " << dir << "g_programmed.npy, stuck_mask.npy, result.json\n";
  return 0;
}

}  // namespace xbar::engine::commands
