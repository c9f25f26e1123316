#include "engine/cli/program_keys.h"

#include <cstdint>
#include <string>

#include "devices/flash_programming.h"
#include "devices/programming.h"
#include "engine/commands/preflight.h"
#include "engine/cli/array_keys.h"
#include "devices/registry.h"
#include "support/input_error.h"

namespace xbar::engine::cli {

namespace devices = xbar::devices;
using commands::RunConfig;

po::options_description target_keys(const RunConfig& d) {
  po::options_description target("Target conductances");
  target.add_options()
      ("rows", po::value<int64_t>()->default_value(d.spec.rows), "M; with --g taken from the file")
      ("cols", po::value<int64_t>()->default_value(d.spec.cols), "N; with --g taken from the file")
      ("g", po::value<std::string>(), "target conductances, M x N siemens, .npy float64/float32 C order")
      ("g-on", num(d.g_on_s), "random target: highest conductance [S]")
      ("g-off", num(d.g_off_s), "random target: lowest conductance [S]")
      ("seed", po::value<int64_t>()->default_value(int64_t(d.seed)),
       "seed of the random target and of every programming stage (each derives its own stream)");
  return target;
}

po::options_description device_keys(const RunConfig& d) {
  const devices::ProgrammingOptions& pd = d.programming;
  po::options_description prog("Device non-idealities (programming)");
  prog.add_options()
      ("g-min", num(pd.range.g_min_s), "device window: lowest programmable conductance [S]")
      ("g-max", num(pd.range.g_max_s), "device window: highest programmable conductance [S]")
      ("levels", po::value<int64_t>()->default_value(pd.levels.levels), "uniform conductance levels in [g-min, g-max]; 0 = continuous")
      ("level-table", po::value<std::string>(), "conductance levels from a CSV file, one value in siemens per row (instead of --levels)")
      ("variation", po::value<std::string>()->default_value(devices::to_string(pd.variation.model)), "programming variation: none|gaussian|lognormal (lognormal: mean-preserving)")
      ("variation-sigma", num(pd.variation.relative_sigma), "relative programming sigma, fraction of G")
      ("variation-sigma-s", num(pd.variation.absolute_sigma_s), "absolute programming sigma [S] (instead of --variation-sigma)")
      ("stuck-on-rate", num(pd.stuck.stuck_on_rate), "fraction of cells stuck at g-max, in [0, 1]")
      ("stuck-off-rate", num(pd.stuck.stuck_off_rate), "fraction of cells stuck at g-min, in [0, 1]")
      ("stuck-mask", po::value<std::string>(), "defect map .npy, M x N: 0 healthy, 1 stuck-on, 2 stuck-off (instead of rates)")
      ("drift-time", num(pd.drift.time_s), "read time after programming [s]; 0 = no drift")
      ("drift-t0", num(pd.drift.t0_s), "drift reference time t0 [s]: G(t) = G0 (t/t0)^-nu")
      ("drift-nu", num(pd.drift.nu_mean), "drift exponent nu, mean over devices")
      ("drift-nu-sigma", num(pd.drift.nu_sigma), "drift exponent spread (Gaussian sigma; negative draws clipped to 0)");
  return prog;
}

po::options_description flash_program_keys(const RunConfig& d) {
  const devices::FlashProgramOptions& f = d.flash_program;
  const devices::RetentionOptions& r = d.retention;
  po::options_description flash("Flash cells: program-verify and retention");
  flash.add_options()
      ("pv-target", po::value<std::string>()->default_value(devices::to_string(d.flash_target)),
       "flash: the --g values are conductance-equivalent targets G (verified read current G v-read) | "
       "read-current (target read currents [A])")
      ("flash-erase-vth", num(f.erase_vth_v), "flash: mean threshold after the block erase [V]")
      ("flash-erase-sigma", num(f.erase_sigma_v), "flash: cell-to-cell spread (sigma) of the erased threshold [V]")
      ("pv-step", num(f.pv_step_v), "flash program-verify: mean threshold shift per program pulse [V]")
      ("pv-sigma", num(f.pv_sigma_v), "flash program-verify: pulse-to-pulse spread (sigma) of that shift [V]")
      ("pv-tol", num(f.pv_tol), "flash program-verify: verified when the read is within this fraction of the target, in (0, 1)")
      ("pv-max-pulses", po::value<int>()->default_value(f.pv_max_pulses), "flash program-verify: most pulses per cell (>= 1)")
      ("retention-time", num(r.time_s), "flash retention: time since programming [s]; 0 = no charge loss")
      ("retention-tau", num(r.tau_s), "flash retention: onset time tau of dV_th = -alpha ln(1 + t/tau) [s]")
      ("retention-alpha", num(r.alpha_v), "flash retention: mean alpha, threshold loss per e-fold of 1 + t/tau [V]")
      ("retention-alpha-sigma", num(r.alpha_sigma_v), "flash retention: device-to-device spread (sigma) of alpha [V]");
  return flash;
}

po::options_description program_cell_keys(const RunConfig& d) {
  po::options_description cell =
      pick_options("Cell (flash: thresholds programmed by program-verify)", array_keys(d),
                   {"cell", "v-gate", "gate", "flash-beta", "flash-n", "temperature", "v-gate-lines"});
  cell.add_options()("v-read", num(d.v_read_v),
                     "flash: drain voltage of the verify read [V] (with --model also the DAC full scale)");
  return cell;
}

void fill_flash_program_config(RunConfig& c, const po::variables_map& vm) {
  devices::FlashProgramOptions& f = c.flash_program;
  std::string s;
  if (get_opt(vm, "pv-target", s)) c.flash_target = devices::parse_flash_target(s);
  get_opt(vm, "flash-erase-vth", f.erase_vth_v);
  get_opt(vm, "flash-erase-sigma", f.erase_sigma_v);
  get_opt(vm, "pv-step", f.pv_step_v);
  get_opt(vm, "pv-sigma", f.pv_sigma_v);
  get_opt(vm, "pv-tol", f.pv_tol);
  get_opt(vm, "pv-max-pulses", f.pv_max_pulses);
  f.seed = c.seed;
  f.v_read_v = c.v_read_v;
  f.validate();
  devices::RetentionOptions& r = c.retention;
  get_opt(vm, "retention-time", r.time_s);
  get_opt(vm, "retention-tau", r.tau_s);
  get_opt(vm, "retention-alpha", r.alpha_v);
  get_opt(vm, "retention-alpha-sigma", r.alpha_sigma_v);
  r.validate();
}

void fill_program_config(RunConfig& c, const po::variables_map& vm) {
  devices::ProgrammingOptions& p = c.programming;
  p.seed = c.seed;
  get_opt(vm, "g-min", p.range.g_min_s);
  get_opt(vm, "g-max", p.range.g_max_s);
  get_opt(vm, "levels", p.levels.levels);
  get_opt(vm, "level-table", c.level_table_path);
  std::string s;
  if (get_opt(vm, "variation", s)) p.variation.model = devices::parse_variation_model(s);
  get_opt(vm, "variation-sigma", p.variation.relative_sigma);
  get_opt(vm, "variation-sigma-s", p.variation.absolute_sigma_s);
  get_opt(vm, "stuck-on-rate", p.stuck.stuck_on_rate);
  get_opt(vm, "stuck-off-rate", p.stuck.stuck_off_rate);
  get_opt(vm, "stuck-mask", c.stuck_mask_path);
  get_opt(vm, "drift-time", p.drift.time_s);
  get_opt(vm, "drift-t0", p.drift.t0_s);
  get_opt(vm, "drift-nu", p.drift.nu_mean);
  get_opt(vm, "drift-nu-sigma", p.drift.nu_sigma);
}

RunConfig make_program_config(const po::options_description& desc, const po::variables_map& vm,
                              const std::set<std::string>& from_cli) {
  RunConfig c;
  c.command = "program";
  c.config_json = config_to_json(desc, vm, from_cli);
  auto given = [&](const char* k) { return vm.count(k) && !vm[k].defaulted(); };
  c.spec.rows = vm["rows"].as<int64_t>();
  c.spec.cols = vm["cols"].as<int64_t>();
  c.rows_given = given("rows");
  c.cols_given = given("cols");
  get_opt(vm, "g", c.g_path);
  get_opt(vm, "g-on", c.g_on_s);
  get_opt(vm, "g-off", c.g_off_s);
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0) throw InputError("key seed = " + std::to_string(seed) + ": must be >= 0");
  c.seed = uint64_t(seed);
  get_opt(vm, "out", c.out);
  get_opt(vm, "quiet", c.quiet);
  std::string memory;
  if (get_opt(vm, "max-memory", memory)) c.max_memory_bytes = commands::parse_memory_size(memory);
  fill_program_config(c, vm);
  get_opt(vm, "cell", c.cell);
  get_opt(vm, "v-gate", c.cell_params.v_gate_v);
  c.cell_params.set_gate_layout(devices::parse_gate_layout(vm["gate"].as<std::string>()));
  get_opt(vm, "flash-beta", c.cell_params.flash_beta_a_per_v2);
  get_opt(vm, "flash-n", c.cell_params.flash_n);
  get_opt(vm, "temperature", c.cell_params.temperature_k);
  get_opt(vm, "v-gate-lines", c.v_gate_lines_path);
  get_opt(vm, "v-read", c.v_read_v);
  devices::make_cell_model(c.cell, c.cell_params);  // validates name and parameters early
  if (c.cell != "flash")
    for (const char* k : {"v-gate-lines", "pv-target", "flash-erase-vth", "flash-erase-sigma", "pv-step", "pv-sigma",
                          "pv-tol", "pv-max-pulses", "retention-time", "retention-tau", "retention-alpha",
                          "retention-alpha-sigma"})
      if (vm.count(k) && !vm[k].defaulted())
        throw InputError(std::string("key ") + k + ": a flash programming key, and cell = " + c.cell +
                         " is programmed as conductances (give --cell flash)");
  fill_flash_program_config(c, vm);
  return c;
}

}  // namespace xbar::engine::cli
