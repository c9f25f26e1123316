// `xbar check`: the same array (or deck) solved natively and by ngspice, compared node by node
// and column by column: check.json, exit status 3 past --tol.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/preflight.h"
#include "engine/commands/flash_arrays.h"
#include "engine/io/atomic_file.h"
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

// Node-by-node comparison: each node's difference relative to its own voltage, with nodes
// within kVoltageFloorRel of 0 V (relative to the largest node voltage; ideal virtual grounds
// sit at exactly 0) compared against that floor instead.
constexpr double kVoltageFloorRel = 1e-9;

json compare_voltages(const Eigen::MatrixXd& got, const Eigen::MatrixXd& ref,
                      const netlists::Circuit& c) {
  const double scale = ref.size() ? ref.cwiseAbs().maxCoeff() : 0.0;
  const double floor_v = kVoltageFloorRel * scale;
  double max_abs = 0, max_rel = 0;
  Eigen::Index wn = 0, wk = 0;
  for (Eigen::Index k = 0; k < got.cols(); ++k)
    for (Eigen::Index n = 0; n < got.rows(); ++n) {
      const double d = std::abs(got(n, k) - ref(n, k));
      const double rel = d / std::max({std::abs(ref(n, k)), floor_v, 1e-300});
      max_abs = std::max(max_abs, d);
      if (rel > max_rel) {
        max_rel = rel;
        wn = n;
        wk = k;
      }
    }
  return {{"nodes_compared", got.rows()},
          {"max_abs_diff_v", max_abs},
          {"max_rel_diff", max_rel},
          {"relative_to", "each node's own voltage, floored at floor_v"},
          {"floor_v", floor_v},
          {"worst_node", got.rows() ? c.node_name(int32_t(wn)) : ""},
          {"worst_input", wk}};
}

int run_check_deck(const RunConfig& cfg) {
  const netlists::Circuit c = netlists::read_spice_file(cfg.deck_path);
  const Eigen::MatrixXd s = deck_source_values(c);
  auto t0 = Clock::now();
  solvers::CircuitSolver native(c, cfg.solve.solver);
  const solvers::CircuitSolution a = native.solve(s);
  const double native_s = seconds_since(t0);
  solvers::SolverOptions ng_opt = cfg.solve.solver;
  ng_opt.backend = solvers::BackendChoice::kNgspice;
  t0 = Clock::now();
  solvers::CircuitSolver ng(c, ng_opt);
  const solvers::CircuitSolution b = ng.solve(s);
  const double ngspice_s = seconds_since(t0);
  Eigen::Index wk = 0, ws = 0;
  const json vcmp = compare_voltages(a.node_voltages, b.node_voltages, c);
  const double rel_dv = vcmp["max_rel_diff"];
  const double max_di = a.source_currents.size() ? (a.source_currents - b.source_currents).cwiseAbs().maxCoeff(&ws, &wk) : 0.0;
  const double i_scale = b.source_currents.size() ? b.source_currents.cwiseAbs().maxCoeff() : 0.0;
  const double rel_di = i_scale > 0 ? max_di / i_scale : max_di;
  const bool pass = rel_dv <= cfg.tol && rel_di <= cfg.tol;
  json r = deck_result(cfg, c);
  r["tol"] = cfg.tol;
  r["pass"] = pass;
  r["voltages"] = vcmp;
  // Same keys as the crossbar check.json; here relative to the largest source current, since
  // a deck's sources include ammeters that carry nothing.
  r["currents"] = {{"sources_compared", a.source_currents.rows()}, {"max_abs_diff_a", max_di},
                   {"max_rel_diff", rel_di}, {"relative_to", "largest source current"},
                   {"worst_source", a.source_currents.rows() ? c.element_name(c.source_indices()[size_t(ws)]) : ""}};
  r["native"] = summary_json(native.summary());
  r["native"]["wall_s"] = native_s;
  r["ngspice"] = summary_json(ng.summary());
  r["ngspice"]["wall_s"] = ngspice_s;
  r["peak_rss_bytes"] = peak_rss_bytes();
  io::ensure_directory(cfg.out);
  write_json(cfg.out + "/check.json", r);
  if (!cfg.quiet)
    std::cout << "check deck " << cfg.deck_path << " (" << c.num_nodes() << " nodes): native "
              << native.summary().backend_used << " " << fmt(native_s) << " s, ngspice "
              << fmt(ngspice_s) << " s\n  max rel diff: source currents " << fmt(rel_di)
              << ", node voltages " << fmt(rel_dv) << " (tol " << fmt(cfg.tol) << "): "
              << (pass ? "PASS" : "FAIL") << "\n  wrote " << cfg.out << "/check.json\n";
  return pass ? 0 : 3;
}

}  // namespace

int run_check(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: check needs --out DIR");
  if (!(cfg.tol > 0)) throw InputError("key tol = " + format_number(cfg.tol) + ": must be > 0");
  if (cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: check compares a native back end (native, cholmod "
                     "or klu) against ngspice");
  preflight(cfg);
  if (cfg.check_transient.enabled) return run_check_transient(cfg);
  if (!cfg.deck_path.empty()) return run_check_deck(cfg);
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  const auto x = netlists::build_crossbar(a.spec, a.g, a.cell);
  const bool regions = a.cell->gate_lines() != nullptr;

  solvers::CrossbarSolveOptions opt = cfg.solve;
  opt.keep_voltages = true;
  opt.keep_regions = regions;  // flash: where the native solve read each cell
  opt.batch = solvers::BatchMethod::kDirect;
  auto t0 = Clock::now();
  solvers::CrossbarSolver native(x, opt);
  const solvers::CrossbarSolution a_sol = native.solve(in.v);
  const double native_s = seconds_since(t0);
  progress(cfg, "native " + a_sol.summary.backend_used + " done in " + fmt(native_s) +
                    " s; running ngspice on " + std::to_string(x.circuit.elements().size()) +
                    " elements");
  opt.solver.backend = solvers::BackendChoice::kNgspice;
  opt.keep_regions = false;
  t0 = Clock::now();
  solvers::CrossbarSolver ng(x, opt);
  const solvers::CrossbarSolution b_sol = ng.solve(in.v);
  const double ngspice_s = seconds_since(t0);

  // Node by node (every node of the circuit, grid and driver/sense nodes) and column by column.
  if (a_sol.all_node_voltages.rows() != b_sol.all_node_voltages.rows() ||
      a_sol.all_node_voltages.cols() != b_sol.all_node_voltages.cols())
    throw NumericalError("check: the back ends returned different numbers of node voltages");
  const json vcmp = compare_voltages(a_sol.all_node_voltages, b_sol.all_node_voltages, x.circuit);
  const double rel_dv = vcmp["max_rel_diff"];
  double max_di = 0, rel_di = 0;
  Eigen::Index wc = 0, wci = 0;
  // A column carrying (almost) nothing is compared on the scale of the largest current, so
  // that rounding noise on a 0-A column does not read as a huge relative error.
  const double i_scale = b_sol.currents.cwiseAbs().maxCoeff();
  for (Eigen::Index kk = 0; kk < a_sol.currents.rows(); ++kk)
    for (Eigen::Index j = 0; j < n; ++j) {
      const double d = std::abs(a_sol.currents(kk, j) - b_sol.currents(kk, j));
      const double ref = std::max(std::abs(b_sol.currents(kk, j)), 1e-12 * i_scale);
      max_di = std::max(max_di, d);
      if (ref > 0 && d / ref > rel_di) {
        rel_di = d / ref;
        wc = j;
        wci = kk;
      }
    }
  const bool pass = rel_dv <= cfg.tol && rel_di <= cfg.tol;
  // Wall-clock of each back end (for Newton, factorizations happen inside solve, so the stage
  // times overlap and must not be added up).
  const double native_total = native_s;

  json r = base_result(cfg, a);
  r["inputs"] = in.source;
  r["tol"] = cfg.tol;
  r["pass"] = pass;
  r["voltages"] = vcmp;
  r["currents"] = {{"columns_compared", n},
                   {"relative_to", "each column's own current"},
                   {"max_abs_diff_a", max_di},
                   {"max_rel_diff", rel_di},
                   {"worst_column", wc},
                   {"worst_input", wci}};
  if (regions) r["regions"] = regions_json(a_sol.regions);
  r["native"] = summary_json(a_sol.summary);
  r["native"]["wall_s"] = native_s;
  r["ngspice"] = summary_json(b_sol.summary);
  r["ngspice"]["wall_s"] = ngspice_s;
  r["speedup_ngspice_over_native"] = native_total > 0 ? ngspice_s / native_total : 0.0;
  r["total_s"] = seconds_since(t_start);
  r["peak_rss_bytes"] = peak_rss_bytes();
  io::ensure_directory(cfg.out);
  write_json(cfg.out + "/check.json", r);
  if (!cfg.quiet)
    std::cout << "check " << m << " x " << n << " (" << a.spec.unknowns() << " unknowns, "
              << in.v.rows() << " input(s)): native " << a_sol.summary.backend_used << " "
              << fmt(native_total) << " s, ngspice " << fmt(ngspice_s) << " s ("
              << fmt(r["speedup_ngspice_over_native"].get<double>()) << "x)\n"
              << "  max rel diff: column currents " << fmt(rel_di) << ", node voltages "
              << fmt(rel_dv) << " over " << vcmp["nodes_compared"].get<int64_t>() << " nodes (tol " << fmt(cfg.tol) << "): "
              << (pass ? "PASS" : "FAIL") << "\n  wrote " << cfg.out << "/check.json\n";
  return pass ? 0 : 3;
}

}  // namespace xbar::engine::commands
