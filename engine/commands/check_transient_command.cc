// `xbar check --transient`: the native transient of the array against ngspice's .tran of the
// same deck (capacitors, PWL row steps; solvers/transient_referee.h): waveforms at the native
// time points, settling times and energy, each against its tolerance; check.json, the two
// runs' waveforms, exit status 3 past any tolerance.
#include <cmath>
#include <iostream>
#include <string>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "netlists/crossbar_builder.h"
#include "solvers/transient_referee.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::commands {

using namespace detail;
using nlohmann::json;

void TransientCheckOptions::validate() const {
  auto positive = [](const char* key, double v, const char* what) {
    if (!(v > 0) || !std::isfinite(v))
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be finite and > 0 (" + what + ")");
  };
  positive("waveform-tol", waveform_tol, "fraction of full scale");
  positive("settle-steps-tol", settle_steps_tol, "native steps");
  positive("energy-tol", energy_tol, "relative difference");
  if (!(referee.t_max_s >= 0) || !std::isfinite(referee.t_max_s))
    throw InputError("key ngspice-tmax = " + format_number(referee.t_max_s) +
                     ": must be finite and >= 0 s (0 = the native fixed step or ngspice's default)");
  if (referee.ngspice_options.find('\n') != std::string::npos)
    throw InputError("key ngspice-options: must be one line (it becomes the deck's .options card)");
}

int run_check_transient(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  const TransientCheckOptions& k = cfg.check_transient;
  k.validate();
  if (!cfg.deck_path.empty())
    throw InputError("keys --deck and --transient: the transient check builds the crossbar's own deck (a read "
                     "deck holds no capacitors or steps)");
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  const Eigen::VectorXd v = single_input(cfg, in);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  const auto x = netlists::build_crossbar(a.spec, a.g, devices::make_cell_model(cfg.cell, cfg.cell_params));
  progress(cfg, "native transient of " + std::to_string(m) + " x " + std::to_string(n) +
                    ", then ngspice .tran of the same deck (" + std::to_string(x.circuit.elements().size()) +
                    " elements)");
  const solvers::TransientComparison c =
      solvers::compare_transient(x, v, transient_options(cfg), k.referee, cfg.solve.solver.linear);
  const solvers::TransientRun& r = c.native.run;
  const bool wave_ok = c.max_waveform_diff <= k.waveform_tol;
  const bool settle_ok = c.max_settling_diff_steps <= k.settle_steps_tol;
  const bool energy_ok = c.energy_rel_diff <= k.energy_tol;
  const bool pass = wave_ok && settle_ok && energy_ok;

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;
  const int64_t tn = r.times_s.size(), tg = c.ngspice.times_s.size();
  io::write_npy(outputs, dir + "times.npy", r.times_s.data(), {tn});
  io::write_npy(outputs, dir + "waveforms.npy", r.outputs.data(), {tn, n});
  io::write_npy(outputs, dir + "ngspice_times.npy", c.ngspice.times_s.data(), {tg});
  io::write_npy(outputs, dir + "ngspice_waveforms.npy", c.ngspice_columns.data(), {tg, n});
  json res = base_result(cfg, a);
  res["array"]["c_row_f"] = a.spec.c_row_f;
  res["array"]["c_col_f"] = a.spec.c_col_f;
  res["inputs"] = in.source;
  res["pass"] = pass;
  res["tolerances"] = {{"waveform_tol", k.waveform_tol},
                       {"settle_steps_tol", k.settle_steps_tol},
                       {"energy_tol", k.energy_tol}};
  res["comparison"] = {
      {"max_waveform_diff", c.max_waveform_diff},
      {"max_waveform_diff_note", "largest |native - ngspice| column current over the native time points after the "
                                 "ramp, ngspice interpolated linearly, as a fraction of full_scale_a"},
      {"waveform_pass", wave_ok},
      {"max_settling_diff_s", c.max_settling_diff_s},
      {"max_settling_diff_steps", c.max_settling_diff_steps},
      {"settling_pass", settle_ok},
      {"ngspice_settling_s",
       std::vector<double>(c.ngspice_settling_s.data(), c.ngspice_settling_s.data() + c.ngspice_settling_s.size())},
      {"native_energy_j", r.energy_j},
      {"ngspice_energy_j", c.ngspice_energy_j},
      {"energy_rel_diff", c.energy_rel_diff},
      {"energy_pass", energy_ok},
      {"full_scale_a", c.native.full_scale_a}};
  res["native"] = transient_json(c.native, cfg.transient);
  res["native"]["wall_s"] = c.native_s;
  res["ngspice"] = {{"version", c.ngspice.version},
                    {"options", k.referee.ngspice_options},
                    {"deck_rise_s", c.deck_rise_s},
                    {"deck_rise_note", "the PWL ramp of the row steps in the deck: t-rise, or for the native ideal "
                                       "step 1e-3 of the native run's smallest step"},
                    {"deck_t_max_s", c.deck_t_max_s},
                    {"time_points", tg},
                    {"load_s", c.ngspice.load_s},
                    {"run_s", c.ngspice.run_s},
                    {"read_s", c.ngspice.read_s},
                    {"wall_s", c.ngspice_s}};
  res["speedup_ngspice_over_native"] = c.native_s > 0 ? c.ngspice_s / c.native_s : 0.0;
  res["outputs"] = {{"times", "times.npy"}, {"waveforms", "waveforms.npy"},
                    {"ngspice_times", "ngspice_times.npy"}, {"ngspice_waveforms", "ngspice_waveforms.npy"},
                    {"waveforms_unit", "A"}};
  res["total_s"] = seconds_since(t_start);
  res["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "check.json", res);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "check --transient " << m << " x " << n << ": native " << fmt(c.native_s) << " s (" << r.steps
              << " steps), ngspice " << fmt(c.ngspice_s) << " s (" << tg << " points)\n  waveforms "
              << fmt(c.max_waveform_diff) << " of full scale (tol " << fmt(k.waveform_tol) << "), settling "
              << fmt(c.max_settling_diff_steps) << " steps (tol " << fmt(k.settle_steps_tol) << "), energy "
              << fmt(c.energy_rel_diff) << " (tol " << fmt(k.energy_tol) << "): " << (pass ? "PASS" : "FAIL")
              << "\n  wrote " << dir << "check.json\n";
  return pass ? 0 : 3;
}

}  // namespace xbar::engine::commands
