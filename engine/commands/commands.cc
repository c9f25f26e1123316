#include "engine/commands/commands.h"
#include "engine/commands/command_support.h"


#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/conductance_levels.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "support/random_array.h"
#include "devices/stuck_at.h"
#include "devices/registry.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_reader.h"
#include "netlists/spice_writer.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using netlists::RowMatrixXd;
using nlohmann::json;

namespace detail {


double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

ArrayInput load_array(const RunConfig& cfg) {
  ArrayInput a;
  a.spec = cfg.spec;
  if (!cfg.g_path.empty()) {
    io::NpyArray arr = io::read_npy(cfg.g_path);
    io::require_shape(arr, cfg.g_path, "conductance matrix --g", {{"M", "N"}, {io::kAnyExtent, io::kAnyExtent}});
    io::require_finite(arr, cfg.g_path, "conductance");
    const int64_t m = arr.shape[0], n = arr.shape[1];
    if (m < 1 || n < 1)
      throw InputError(cfg.g_path + ": conductance matrix has shape " + io::shape_to_string(arr.shape) +
                       ", expected at least 1 row and 1 column");
    if (cfg.rows_given && m != cfg.spec.rows)
      throw InputError("key rows = " + std::to_string(cfg.spec.rows) + " disagrees with --g '" +
                       cfg.g_path + "', which has M = " + std::to_string(m) + " rows");
    if (cfg.cols_given && n != cfg.spec.cols)
      throw InputError("key cols = " + std::to_string(cfg.spec.cols) + " disagrees with --g '" +
                       cfg.g_path + "', which has N = " + std::to_string(n) + " columns");
    a.spec.rows = m;
    a.spec.cols = n;
    a.g = Eigen::Map<const RowMatrixXd>(arr.data.data(), m, n);
    for (int64_t k = 0; k < m * n; ++k)
      if (arr.data[size_t(k)] < 0)
        throw InputError(cfg.g_path + ": conductance element [" + std::to_string(k / n) + ", " +
                         std::to_string(k % n) + "] = " + format_number(arr.data[size_t(k)]) +
                         " S is negative (expected >= 0 siemens)");
    a.source = {{"kind", "file"}, {"path", cfg.g_path}, {"dtype", arr.dtype}};
  } else {
    if (!(cfg.g_off_s >= 0) || !std::isfinite(cfg.g_off_s))
      throw InputError("key g-off = " + format_number(cfg.g_off_s) + ": must be finite and >= 0 S");
    if (!(cfg.g_on_s >= cfg.g_off_s) || !std::isfinite(cfg.g_on_s))
      throw InputError("key g-on = " + format_number(cfg.g_on_s) + ": must be finite and >= g-off (" +
                       format_number(cfg.g_off_s) + " S)");
    a.spec.validate();
    a.g = support::uniform_matrix(a.spec.rows, a.spec.cols, cfg.g_off_s, cfg.g_on_s, cfg.seed);
    a.source = {{"kind", "random-uniform"}, {"g_off_s", cfg.g_off_s}, {"g_on_s", cfg.g_on_s},
                {"seed", cfg.seed}};
  }
  a.spec.validate();
  return a;
}

struct Inputs {
  RowMatrixXd v;       // K x M
  bool batch = false;  // given as a K x M matrix (outputs keep the K axis)
  json source;
};

Inputs load_inputs(const RunConfig& cfg, int64_t m) {
  Inputs in;
  if (!cfg.v_path.empty()) {
    io::NpyArray arr = io::read_npy(cfg.v_path);
    io::require_one_of_shapes(arr, cfg.v_path, "row voltages --v",
                          {{{"M"}, {m}}, {{"K", "M"}, {io::kAnyExtent, m}}});
    io::require_finite(arr, cfg.v_path, "row voltage");
    in.batch = arr.shape.size() == 2;
    const int64_t k = in.batch ? arr.shape[0] : 1;
    if (k < 1) throw InputError(cfg.v_path + ": holds no input vectors (K = 0)");
    in.v = Eigen::Map<const RowMatrixXd>(arr.data.data(), k, m);
    in.source = {{"kind", "file"}, {"path", cfg.v_path}, {"dtype", arr.dtype}, {"inputs", k}};
  } else {
    if (!std::isfinite(cfg.v_read_v))
      throw InputError("key v-read = " + format_number(cfg.v_read_v) + ": must be finite (volts)");
    in.v = RowMatrixXd::Constant(1, m, cfg.v_read_v);
    in.source = {{"kind", "v-read"}, {"v_read_v", cfg.v_read_v}, {"inputs", 1}};
  }
  return in;
}

void progress(const RunConfig& cfg, const std::string& msg) {
  if (!cfg.quiet) std::cerr << "xbar " << cfg.command << ": " << msg << std::endl;
}

std::string fmt(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

json summary_json(const solvers::SolveSummary& s) {
  return {{"backend_requested", s.backend_requested},
          {"backend_used", s.backend_used},
          {"ordering_used", s.ordering_used},
          {"batch_method", s.batch_method},
          {"unknowns", s.unknowns},
          {"matrix_nonzeros", s.matrix_nonzeros},
          {"factor_nonzeros", s.factor_nonzeros},
          {"factor_flops", s.factor_flops},
          {"inputs", s.inputs},
          {"linear_solves", s.linear_solves},
          {"message", s.message},
          {"newton",
           {{"iterations", s.newton_iterations},
            {"max_iterations_one_input", s.newton_max_iterations},
            {"strategy", s.newton_strategy},
            {"final_residual_a", s.newton_residual_a}}},
          {"cg",
           {{"iterations", s.cg_iterations},
            {"max_iterations_one_solve", s.cg_max_iterations},
            {"final_relative_residual", s.cg_residual},
            {"current_accuracy_estimate", s.cg_accuracy_estimate},
            {"coarse_unknowns", s.cg_coarse_unknowns}}},
          {"max_backward_error", s.max_backward_error},
          {"times_s",
           {{"assemble_s", s.assemble_s},
            {"analyze_s", s.analyze_s},
            {"factorize_s", s.factorize_s},
            {"solve_s", s.solve_s}}}};
}

// The effective configuration: with --g, M and N come from the file, not from the defaults.
json effective_config(const RunConfig& cfg, const ArrayInput& a) {
  json c = cfg.config_json;
  if (!cfg.g_path.empty()) {
    c["rows"] = {{"value", a.spec.rows}, {"from", "g file"}};
    c["cols"] = {{"value", a.spec.cols}, {"from", "g file"}};
  }
  return c;
}

json cell_parameters_json(const RunConfig& cfg) {
  json p = json::object();
  for (const auto& [key, value] : devices::make_cell_model(cfg.cell, cfg.cell_params)->parameters())
    p[key] = value;
  return p;
}

json base_result(const RunConfig& cfg, const ArrayInput& a) {
  return {{"tool", "xbar"},
          {"version", XBAR_VERSION},
          {"command", cfg.command},
          {"config", effective_config(cfg, a)},
          {"seed", cfg.seed},
          {"array",
           {{"rows", a.spec.rows},
            {"cols", a.spec.cols},
            {"unknowns", a.spec.unknowns()},
            {"r_row_segment_ohm", a.spec.row_segment_ohm()},
            {"r_col_segment_ohm", a.spec.col_segment_ohm()},
            {"r_driver_ohm", a.spec.r_driver_ohm},
            {"r_sense_ohm", a.spec.r_sense_ohm},
            {"drive", netlists::to_string(a.spec.drive)},
            {"sense", netlists::to_string(a.spec.sense)},
            {"cell", cfg.cell},
            {"cell_parameters", cell_parameters_json(cfg)},
            {"conductances", a.source}}}};
}

// The first NaN or infinite number in `j`: its JSON pointer ("" if there is none) and value.
std::string first_non_finite(const json& j, const std::string& pointer, double& value) {
  if (j.is_number_float()) {
    value = j.get<double>();
    return std::isfinite(value) ? "" : pointer.empty() ? "/" : pointer;
  }
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (std::string p = first_non_finite(it.value(), pointer + "/" + it.key(), value); !p.empty()) return p;
  } else if (j.is_array()) {
    for (size_t k = 0; k < j.size(); ++k)
      if (std::string p = first_non_finite(j[k], pointer + "/" + std::to_string(k), value); !p.empty()) return p;
  }
  return "";
}

// Results never hold NaN or infinities (issue 9): a number that is not finite is a numerical
// failure upstream, reported instead of written (nlohmann::json would print it as null).
void refuse_non_finite_json(const std::string& path, const json& j) {
  double value = 0;
  const std::string p = first_non_finite(j, "", value);
  if (!p.empty())
    throw NumericalError("refusing to write '" + path + "': " + p + " is " + format_number(value) +
                         " (a numerical failure upstream; results never hold NaN or infinities)");
}

void write_json(const std::string& path, const json& j) {
  refuse_non_finite_json(path, j);
  io::write_file_atomically(path, [&](std::ostream& os) { os << j.dump(2) << "\n"; });
}

void write_json(io::StagedOutputs& outputs, const std::string& path, const json& j) {
  refuse_non_finite_json(path, j);
  outputs.write(path, [&](std::ostream& os) { os << j.dump(2) << "\n"; });
}

void write_csv(io::StagedOutputs& outputs, const std::string& path, const std::string& text) {
  // Row 1 is the header; printf and to_chars spell non-finite doubles nan, -nan, inf, -inf.
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> header;
  for (int64_t row = 0; std::getline(lines, line); ++row) {
    std::istringstream cells(line);
    std::string cell;
    for (size_t col = 0; std::getline(cells, cell, ','); ++col) {
      if (row == 0) {
        header.push_back(cell);
        continue;
      }
      if (cell == "nan" || cell == "-nan" || cell == "inf" || cell == "-inf")
        throw NumericalError("refusing to write '" + path + "': row " + std::to_string(row) +
                             ", column '" + (col < header.size() ? header[col] : std::to_string(col)) +
                             "' is " + cell +
                             " (a numerical failure upstream; results never hold NaN or infinities)");
    }
  }
  outputs.write(path, [&](std::ostream& os) { os << text; });
}

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

// Source values of a deck: the values written in it.
Eigen::MatrixXd deck_source_values(const netlists::Circuit& c) {
  const auto src = c.source_indices();
  Eigen::MatrixXd s(Eigen::Index(src.size()), 1);
  for (size_t k = 0; k < src.size(); ++k) s(Eigen::Index(k), 0) = c.elements()[src[k]].value;
  return s;
}

json deck_names(const netlists::Circuit& c) {
  json nodes = json::array(), sources = json::array();
  for (int32_t v = 0; v < c.num_nodes(); ++v) nodes.push_back(c.node_name(v));
  for (size_t k : c.source_indices()) sources.push_back(c.element_name(k));
  return {{"nodes", nodes}, {"sources", sources}};
}

json deck_result(const RunConfig& cfg, const netlists::Circuit& c) {
  return {{"tool", "xbar"},
          {"version", XBAR_VERSION},
          {"command", cfg.command},
          {"config", cfg.config_json},
          {"seed", cfg.seed},
          {"deck",
           {{"path", cfg.deck_path},
            {"nodes", c.num_nodes()},
            {"elements", c.elements().size()},
            {"sources", c.source_indices().size()}}}};
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

}  // namespace detail

using namespace detail;

int64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

int run_netlist(const RunConfig& cfg) {
  if (cfg.out.empty()) throw InputError("key out: netlist needs --out FILE.cir");
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  if (in.v.rows() != 1)
    throw InputError(cfg.v_path + ": a deck holds one operating point, so --v must be one vector "
                     "of M = " + std::to_string(a.spec.rows) + " volts, not " +
                     std::to_string(in.v.rows()) + " inputs");
  auto x = netlists::build_crossbar(a.spec, a.g, devices::make_cell_model(cfg.cell, cfg.cell_params));
  netlists::set_row_voltages(x, in.v.row(0).transpose());
  std::vector<std::string> header = {
      "xbar " + std::string(XBAR_VERSION) + " crossbar " + std::to_string(a.spec.rows) + " x " +
          std::to_string(a.spec.cols) + " (" + std::to_string(a.spec.unknowns()) + " grid nodes)",
      "r-row " + fmt(a.spec.row_segment_ohm(), 17) + " ohm/segment, r-col " +
          fmt(a.spec.col_segment_ohm(), 17) + " ohm/segment, r-driver " +
          fmt(a.spec.r_driver_ohm, 17) + " ohm, r-sense " + fmt(a.spec.r_sense_ohm, 17) + " ohm",
      "drive " + netlists::to_string(a.spec.drive) + ", sense " + netlists::to_string(a.spec.sense) +
          ", cell " + cfg.cell + ", conductances " + a.source.dump(),
      "column j current = sum of i(vsnsb_j) and i(vsnst_j) (current into the virtual ground)"};
  io::write_file_atomically(cfg.out, [&](std::ostream& os) { netlists::write_spice(os, x.circuit, header); });
  if (!cfg.quiet)
    std::cout << "wrote " << cfg.out << ": " << a.spec.rows << " x " << a.spec.cols << " crossbar, "
              << x.circuit.elements().size() << " elements, " << x.circuit.num_nodes() << " nodes\n";
  return 0;
}

int run_solve(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: solve needs --out DIR");
  if (!cfg.deck_path.empty()) return run_solve_deck(cfg);
  const ArrayInput a = load_array(cfg);
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
  opt.expected_inputs = k;
  opt.solver.progress = [&](const std::string& msg) { progress(cfg, msg); };
  // From the spec: PCG on a canonical array writes its operator without building the circuit.
  solvers::CrossbarSolver solver(a.spec, read.g_s, devices::make_cell_model(cfg.cell, cfg.cell_params), opt);
  const double build_s = solver.circuit_build_s();
  solvers::CrossbarSolution sol = solver.solve(in.v);
  const devices::QuantizeCounts adc_counts = devices::make_adc(cfg.adc).quantize_in_place(sol.currents);
  const RowMatrixXd ideal = v_requested * a.g;

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
  const double write_s = seconds_since(t0);

  json r = base_result(cfg, a);
  r["inputs"] = in.source;
  r["backend"] = sol.summary.backend_used;
  r["solve"] = summary_json(sol.summary);
  r["solve"]["times_s"]["build_s"] = build_s;
  r["solve"]["times_s"]["write_s"] = write_s;
  r["solve"]["times_s"]["total_s"] = seconds_since(t_start);
  r["ir_drop"] = ir_drop_json(sol.currents, ideal);
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
              << fmt(sol.summary.solve_s) << " s); IR-drop error vs ideal G^T V: "
              << fmt(r["ir_drop"]["max_error_rel_full_scale"].get<double>()) << " of full scale; wrote "
              << dir << "currents.npy, result.json\n";
  return 0;
}

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

}  // namespace

int run_program(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: program needs --out DIR");
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
  write_json(outputs, dir + "result.json", res);
  outputs.commit();
  if (!cfg.quiet) std::cout << r.stats.message << "; wrote " << dir << "g_programmed.npy, stuck_mask.npy, result.json\n";
  return 0;
}

int run_check(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: check needs --out DIR");
  if (!(cfg.tol > 0)) throw InputError("key tol = " + format_number(cfg.tol) + ": must be > 0");
  if (cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: check compares a native back end (native, cholmod "
                     "or klu) against ngspice");
  if (!cfg.deck_path.empty()) return run_check_deck(cfg);
  const ArrayInput a = load_array(cfg);
  const Inputs in = load_inputs(cfg, a.spec.rows);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  const auto x = netlists::build_crossbar(a.spec, a.g, devices::make_cell_model(cfg.cell, cfg.cell_params));

  solvers::CrossbarSolveOptions opt = cfg.solve;
  opt.keep_voltages = true;
  opt.batch = solvers::BatchMethod::kDirect;
  auto t0 = Clock::now();
  solvers::CrossbarSolver native(x, opt);
  const solvers::CrossbarSolution a_sol = native.solve(in.v);
  const double native_s = seconds_since(t0);
  progress(cfg, "native " + a_sol.summary.backend_used + " done in " + fmt(native_s) +
                    " s; running ngspice on " + std::to_string(x.circuit.elements().size()) +
                    " elements");
  opt.solver.backend = solvers::BackendChoice::kNgspice;
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
