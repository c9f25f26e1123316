// `xbar transient`: every row of the array stepped at t = 0 from 0 V to its input, through its
// driver, into the array with capacitance to ground at every row and column node; the column
// currents integrated to --t-stop (solvers/crossbar_transient.h): times.npy, waveforms.npy,
// result.json.
#include <iostream>
#include <string>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_transient.h"
#include "support/input_error.h"

namespace xbar::engine::commands {

using namespace detail;
using nlohmann::json;

int run_transient(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: transient needs --out DIR");
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  const Eigen::VectorXd v = single_input(cfg, in);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  const auto x = netlists::build_crossbar(a.spec, a.g, devices::make_cell_model(cfg.cell, cfg.cell_params));
  progress(cfg, std::to_string(m) + " x " + std::to_string(n) + " array, " + std::to_string(a.spec.unknowns()) +
                    " grid nodes, c-row " + fmt(a.spec.c_row_f) + " F, c-col " + fmt(a.spec.c_col_f) +
                    " F, to t-stop " + fmt(cfg.transient.transient.t_stop_s) + " s");
  const solvers::CrossbarTransient t = solvers::crossbar_transient(x, v, transient_options(cfg), cfg.solve.solver.linear);
  const solvers::TransientRun& r = t.run;

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  const int64_t steps = r.times_s.size();
  io::write_npy(outputs, dir + "times.npy", r.times_s.data(), {steps});
  io::write_npy(outputs, dir + "waveforms.npy", r.outputs.data(), {steps, n});
  json res = base_result(cfg, a);
  res["array"]["c_row_f"] = a.spec.c_row_f;
  res["array"]["c_col_f"] = a.spec.c_col_f;
  res["inputs"] = in.source;
  res["backend"] = r.backend;
  res.update(transient_json(t, cfg.transient));
  res["outputs"] = {{"times", "times.npy"},
                    {"times_shape", {steps}},
                    {"times_unit", "s"},
                    {"waveforms", "waveforms.npy"},
                    {"waveforms_shape", {steps, n}},
                    {"waveforms_layout", "time point, column: the current into column j's virtual ground(s)"},
                    {"waveforms_unit", "A"}};
  res["total_s"] = seconds_since(t_start);
  res["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "result.json", res);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "transient " << m << " x " << n << " to " << fmt(cfg.transient.transient.t_stop_s) << " s: "
              << r.message << "\n  settling (band " << fmt(t.settle_band_a) << " A = " << fmt(t.settle_tol)
              << " of full scale): slowest column " << fmt(t.max_settling_s) << " s"
              << (t.all_settled ? "" : " (NOT every column settled by t-stop)") << "; energy from the inputs "
              << fmt(r.energy_j) << " J (static " << fmt(r.static_power_w) << " W); final vs DC "
              << fmt(r.final_vs_dc) << " of full scale\n  wrote " << dir << "times.npy, waveforms.npy, result.json ("
              << fmt(seconds_since(t_start)) << " s)\n";
  return 0;
}

}  // namespace xbar::engine::commands
