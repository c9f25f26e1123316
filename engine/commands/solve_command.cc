// `xbar solve`: one or a batch of input vectors through the array (or a SPICE deck's operating
// point), with the read-time non-idealities: currents.npy, result.json [voltages.npy].
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>

#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/preflight.h"
#include "engine/commands/flash_arrays.h"
#include "calib/nonlinear_compensation.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_reader.h"
#include "solvers/circuit_solver.h"
#include "solvers/crossbar_solver.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::commands {

using namespace detail;
using netlists::RowMatrixXd;
using nlohmann::json;

namespace {

// Error of the solved currents against the ideal G^T V, the figure designers ask for.
json ir_drop_json(const RowMatrixXd& currents, const RowMatrixXd& ideal) {
  const RowMatrixXd diff = currents - ideal;
  Eigen::Index wk = 0, wj = 0;
  const double max_abs = diff.size() ? diff.cwiseAbs().maxCoeff(&wk, &wj) : 0.0;
  const double full_scale = ideal.size() ? ideal.cwiseAbs().maxCoeff() : 0.0;
  return {{"max_abs_error_a", max_abs},
          {"max_error_rel_full_scale", full_scale > 0 ? max_abs / full_scale : 0.0},
          {"worst_input", wk},
          {"worst_column", wj},
          {"ideal_full_scale_a", full_scale}};
}

int run_solve_deck(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  const netlists::Circuit c = netlists::read_spice_file(cfg.deck_path);
  solvers::SolverOptions opt = cfg.solve.solver;
  opt.progress = [&](const std::string& msg) { progress(cfg, msg); };
  solvers::CircuitSolver solver(c, opt);
  const solvers::CircuitSolution sol = solver.solve(deck_source_values(c));
  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  io::write_npy(outputs, dir + "node_voltages.npy", sol.node_voltages.data(), {sol.node_voltages.rows()});
  io::write_npy(outputs, dir + "source_currents.npy", sol.source_currents.data(), {sol.source_currents.rows()});
  json r = deck_result(cfg, c);
  r["backend"] = solver.summary().backend_used;
  r["solve"] = summary_json(solver.summary());
  r["solve"]["times_s"]["total_s"] = seconds_since(t_start);
  r["outputs"] = {{"node_voltages", "node_voltages.npy"},
                  {"source_currents", "source_currents.npy"},
                  {"source_current_sign", "SPICE: current entering the + terminal"},
                  {"names", deck_names(c)}};
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "result.json", r);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "solved deck " << cfg.deck_path << " (" << c.num_nodes() << " nodes, "
              << c.elements().size() << " elements) with " << solver.summary().backend_used
              << " in " << fmt(seconds_since(t_start)) << " s; wrote " << dir
              << "node_voltages.npy, source_currents.npy, result.json\n";
  return 0;
}

}  // namespace

int run_solve(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: solve needs --out DIR");
  preflight(cfg);
  if (!cfg.deck_path.empty()) return run_solve_deck(cfg);
  const ArrayInput a = load_array(cfg);
  // Flash cells (three-terminal) report where each cell was read: subthreshold .. saturation.
  const bool regions = a.cell->gate_lines() != nullptr;
  if (cfg.save_regions && !regions)
    throw InputError("key save-regions: only flash cells have operating regions (cell = " + cfg.cell + ")");
  Inputs in = load_inputs(cfg, a.spec.rows);
  const int64_t m = a.spec.rows, n = a.spec.cols, k = in.v.rows();
  // Read-time non-idealities: the DAC sees the requested voltages, one noisy read of G serves
  // the batch. The IR-drop error below stays against the intended G^T V (requested inputs,
  // noise-free G): the total error of the hardware.
  const RowMatrixXd v_requested = in.v;
  const devices::QuantizeCounts dac_counts = devices::make_dac(cfg.dac).quantize_in_place(in.v);
  const devices::ReadNoise noise(cfg.read_noise, cfg.seed);
  const devices::NoisyRead read = noise.sample(a.g, 0);
  progress(cfg, std::to_string(m) + " x " + std::to_string(n) + " array, " +
                    std::to_string(a.spec.unknowns()) + " unknowns, " + std::to_string(k) +
                    " input(s), backend " + solvers::to_string(cfg.solve.solver.backend));

  solvers::CrossbarSolveOptions opt = cfg.solve;
  opt.keep_voltages = cfg.save_voltages;
  opt.keep_regions = regions;
  opt.expected_inputs = k;
  opt.solver.progress = [&](const std::string& msg) { progress(cfg, msg); };
  // From the spec: PCG on a canonical array writes its operator without building the circuit.
  solvers::CrossbarSolver solver(a.spec, read.g_s, a.cell, opt);
  const double build_s = solver.circuit_build_s();
  solvers::CrossbarSolution sol = solver.solve(in.v);
  const devices::QuantizeCounts adc_counts = devices::make_adc(cfg.adc).quantize_in_place(sol.currents);
  // The ideal: G^T V; for flash cells (the per-cell value is V_th) every cell's own read
  // without wires, drain at its row voltage, source at 0 V, gate at its line's voltage.
  const RowMatrixXd ideal = regions ? calib::wire_free_currents(*a.cell, a.g, v_requested) : RowMatrixXd(v_requested * a.g);

  // Outputs: arrays first, result.json last (its presence marks a complete run).
  auto t0 = Clock::now();
  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  if (in.batch)
    io::write_npy(outputs, dir + "currents.npy", sol.currents.data(), {k, n});
  else
    io::write_npy(outputs, dir + "currents.npy", sol.currents.data(), {n});
  if (cfg.save_voltages) {
    if (in.batch)
      io::write_npy(outputs, dir + "voltages.npy", sol.voltages.data(), {k, 2, m, n});
    else
      io::write_npy(outputs, dir + "voltages.npy", sol.voltages.data(), {2, m, n});
  } else {
    // A voltages.npy from an earlier run would sit next to results it does not belong to.
    outputs.remove(dir + "voltages.npy");
  }
  if (cfg.save_regions) {
    if (in.batch)
      io::write_npy(outputs, dir + "regions.npy", sol.regions.region.data(), {k, m, n});
    else
      io::write_npy(outputs, dir + "regions.npy", sol.regions.region.data(), {m, n});
  } else {
    outputs.remove(dir + "regions.npy");
  }
  const double write_s = seconds_since(t0);

  json r = base_result(cfg, a);
  r["inputs"] = in.source;
  r["backend"] = sol.summary.backend_used;
  r["solve"] = summary_json(sol.summary);
  r["solve"]["times_s"]["build_s"] = build_s;
  r["solve"]["times_s"]["write_s"] = write_s;
  r["solve"]["times_s"]["total_s"] = seconds_since(t_start);
  r["ir_drop"] = ir_drop_json(sol.currents, ideal);
  if (regions) {
    r["ir_drop"]["ideal"] = "each cell's own read without wires (gate at its line's voltage, source at 0 V)";
    r["regions"] = regions_json(sol.regions);
  }
  auto counts = [](const devices::QuantizeCounts& c) {
    return json{{"values", c.values}, {"clipped_low", c.clipped_low}, {"clipped_high", c.clipped_high}};
  };
  r["read_out"] = {
      {"dac", {{"bits", cfg.dac.bits}, {"v_min_v", cfg.dac.v_min_v}, {"v_max_v", cfg.dac.v_max_v}, {"counts", counts(dac_counts)}}},
      {"adc", {{"bits", cfg.adc.bits}, {"i_min_a", cfg.adc.i_min_a}, {"i_max_a", cfg.adc.i_max_a}, {"counts", counts(adc_counts)}}},
      {"read_noise",
       {{"relative_sigma", cfg.read_noise.relative_sigma},
        {"absolute_sigma_s", cfg.read_noise.absolute_sigma_s},
        {"reads", 1},
        {"seed", cfg.seed},
        {"clipped_at_zero", read.clipped_at_zero}}}};
  r["outputs"] = {{"currents", "currents.npy"},
                  {"currents_shape", in.batch ? json::array({k, n}) : json::array({n})},
                  {"currents_unit", "A"}};
  if (cfg.save_regions)
    r["outputs"]["regions"] = {{"file", "regions.npy"},
                               {"shape", in.batch ? json::array({k, m, n}) : json::array({m, n})},
                               {"dtype", "uint8"},
                               {"values", "index into regions.names; 255 = no region"}};
  if (cfg.save_voltages)
    r["outputs"]["voltages"] = {{"file", "voltages.npy"},
                                {"shape", in.batch ? json::array({k, 2, m, n}) : json::array({2, m, n})},
                                {"layout", "[input,] layer (0 = row nodes r(i,j), 1 = column nodes c(i,j)), i, j"},
                                {"unit", "V"}};
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "result.json", r);
  outputs.commit();
  if (!cfg.quiet)
    std::cout << "solved " << m << " x " << n << " (" << a.spec.unknowns() << " unknowns), " << k
              << " input(s) with " << sol.summary.backend_used
              << (sol.summary.ordering_used.empty() ? "" : "/" + sol.summary.ordering_used) << " ["
              << sol.summary.batch_method << "] in " << fmt(seconds_since(t_start)) << " s "
              << "(factorize " << fmt(sol.summary.factorize_s) << " s, solve "
              << fmt(sol.summary.solve_s) << " s); IR-drop error vs "
              << (regions ? "the wire-free read: " : "ideal G^T V: ")
              << fmt(r["ir_drop"]["max_error_rel_full_scale"].get<double>()) << " of full scale; wrote "
              << dir << "currents.npy, result.json\n";
  return 0;
}

}  // namespace xbar::engine::commands
