#include "engine/commands/command_support.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

#include "devices/registry.h"
#include "engine/commands/commands.h"
#include "engine/commands/flash_arrays.h"
#include "engine/io/npy.h"
#include "support/format.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "xbar_version.h"

namespace xbar::engine::commands {

using netlists::RowMatrixXd;
using nlohmann::json;

namespace detail {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void check_conductance_bounds(const RunConfig& cfg) {
  for (const auto& [key, g] : {std::pair<const char*, double>{"g-off", cfg.g_off_s}, {"g-on", cfg.g_on_s}}) {
    if (g > 0 && g < kMinConductanceS)
      throw InputError(std::string("key ") + key + " = " + format_number(g) + ": must be 0 or >= " +
                       format_number(kMinConductanceS) + " S");
    if (g > kMaxConductanceS)
      throw InputError(std::string("key ") + key + " = " + format_number(g) + ": must be <= " +
                       format_number(kMaxConductanceS) + " S (a resistance of " +
                       format_number(netlists::kMinResistanceOhm) + " ohm)");
  }
}

ArrayInput load_array(const RunConfig& cfg) {
  if (cfg.cell != "flash") {
    if (!cfg.vth_path.empty())
      throw InputError("key vth: thresholds are the per-cell values of the flash cell only (cell = " + cfg.cell + ")");
    ArrayInput a = load_conductances(cfg);
    a.cell = make_cell(cfg, a.spec.rows, a.spec.cols);
    return a;
  }
  require_flash_compatible(cfg);
  ArrayInput a;
  const bool from_file = !cfg.vth_path.empty();
  if (from_file) {
    a.spec = cfg.spec;
    a.g = read_thresholds(cfg, a.source);
    a.spec.rows = a.g.rows();
    a.spec.cols = a.g.cols();
    a.spec.validate();
  } else {
    if (cfg.g_path.empty() && !(cfg.g_off_s > 0))
      throw InputError("key g-off = " + format_number(cfg.g_off_s) + ": a random flash array needs targets > 0 S "
                       "(program-verify inverts each cell's read current)");
    a = load_conductances(cfg);
  }
  a.cell = make_cell(cfg, a.spec.rows, a.spec.cols);
  FlashThresholds t = flash_thresholds(cfg, cell_as_flash(*a.cell), a.g, !from_file,
                                       cfg.g_path.empty() ? "the random targets" : cfg.g_path);
  a.g = std::move(t.vth_v);
  a.flash = std::move(t.json);
  a.programmed = std::move(t.programmed);
  return a;
}

ArrayInput load_conductances(const RunConfig& cfg) {
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
    for (int64_t k = 0; k < m * n; ++k) {
      const double g = arr.data[size_t(k)];
      const std::string element = cfg.g_path + ": conductance element [" + std::to_string(k / n) + ", " +
                                  std::to_string(k % n) + "] = " + format_number(g) + " S ";
      if (g < 0) throw InputError(element + "is negative (expected >= 0 siemens)");
      if (g > 0 && g < kMinConductanceS)
        throw InputError(element + "is below " + format_number(kMinConductanceS) +
                         " S: an open cell is 0 (its resistance 1/G would be meaningless or overflow)");
      if (g > kMaxConductanceS)
        throw InputError(element + "is above " + format_number(kMaxConductanceS) + " S (a resistance below " +
                         format_number(netlists::kMinResistanceOhm) + " ohm): not a physical cell");
    }
    a.source = {{"kind", "file"}, {"path", cfg.g_path}, {"dtype", arr.dtype}};
  } else {
    if (!(cfg.g_off_s >= 0) || !std::isfinite(cfg.g_off_s))
      throw InputError("key g-off = " + format_number(cfg.g_off_s) + ": must be finite and >= 0 S");
    if (!(cfg.g_on_s >= cfg.g_off_s) || !std::isfinite(cfg.g_on_s))
      throw InputError("key g-on = " + format_number(cfg.g_on_s) + ": must be finite and >= g-off (" +
                       format_number(cfg.g_off_s) + " S)");
    check_conductance_bounds(cfg);
    a.spec.validate();
    a.g = support::uniform_matrix(a.spec.rows, a.spec.cols, cfg.g_off_s, cfg.g_on_s, cfg.seed);
    a.source = {{"kind", "random-uniform"}, {"g_off_s", cfg.g_off_s}, {"g_on_s", cfg.g_on_s},
                {"seed", cfg.seed}};
  }
  a.spec.validate();
  return a;
}

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
          {"effective_method", s.effective_method},
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
            {"final_residual_a", s.newton_residual_a},
            {"batched_inputs", s.newton_batched_inputs},
            {"chord_steps", s.newton_chord_steps},
            {"per_input_fallbacks", s.newton_fallbacks}}},
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
  json r = {{"tool", "xbar"},
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
            {a.flash.is_null() ? "conductances" : a.programmed ? "targets" : "thresholds", a.source}}}};
  if (!a.flash.is_null()) {
    r["array"]["flash"] = a.flash;
    if (a.cell && a.cell->gate_lines()) {
      const devices::GateLines& g = *a.cell->gate_lines();
      json lines = json::array();
      for (int64_t k = 0; k < g.count(a.spec.rows, a.spec.cols); ++k) lines.push_back(g.voltage(k));
      r["array"]["flash"]["gate_lines"] = {{"layout", devices::to_string(g.layout)}, {"v_gate_v", lines}};
    }
  }
  return r;
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

json transient_json(const solvers::CrossbarTransient& t, const solvers::CrossbarTransientOptions& o) {
  const solvers::TransientRun& r = t.run;
  const double t_stop = r.times_s.size() ? r.times_s(r.times_s.size() - 1) : 0.0;
  auto vec = [](const Eigen::VectorXd& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
  const Eigen::VectorXd final_a = r.outputs.rows() ? Eigen::VectorXd(r.outputs.row(r.outputs.rows() - 1).transpose())
                                                   : Eigen::VectorXd();
  return {
      {"transient",
       {{"method", r.method},
        {"backend", r.backend},
        {"ordering", r.ordering},
        {"t_stop_s", o.transient.t_stop_s},
        {"time_step_s", o.transient.time_step_s},
        {"t_rise_s", o.transient.t_rise_s},
        {"lte_tol", o.transient.lte_tol},
        {"unknowns", r.unknowns},
        {"time_points", r.times_s.size()},
        {"steps", r.steps},
        {"rejected_steps", r.rejected_steps},
        {"factorizations", r.factorizations},
        {"solves", r.solves},
        {"cg_iterations", r.cg_iterations},
        {"newton_iterations", r.newton_iterations},
        {"min_step_s", r.min_step_s},
        {"max_step_s", r.max_step_s},
        {"steady_from_s", r.steady_from_s},
        {"steady_from_note", "the time from which the state was within 1e-3 lte-tol of DC and the run went "
                             "straight to t-stop; -1: integrated all the way"},
        {"factor_nonzeros", r.factor_nonzeros},
        {"max_backward_error", r.max_backward_error},
        {"times_s",
         {{"assemble_s", r.assemble_s},
          {"analyze_s", r.analyze_s},
          {"factorize_s", r.factorize_s},
          {"solve_s", r.solve_s},
          {"total_s", r.total_s}}},
        {"message", r.message}}},
      {"settling",
       {{"definition", "last time the column current is outside settle_band_a around its final (DC) value"},
        {"full_scale_a", t.full_scale_a},
        {"settle_tol", t.settle_tol},
        {"settle_band_a", t.settle_band_a},
        {"error_adc_bits", o.error_adc_bits},
        {"max_settling_s", t.max_settling_s},
        {"all_settled", t.all_settled},
        {"settling_s", vec(t.settling_s)},
        {"settled", t.settled}}},
      {"energy",
       {{"definition", "drawn from the row inputs over [0, t_stop]"},
        {"energy_j", r.energy_j},
        {"row_energy_j", vec(t.row_energy_j)},
        {"fixed_cap_energy_j", r.fixed_cap_energy_j},
        {"static_power_w", r.static_power_w},
        {"stored_energy_j", r.stored_energy_j},
        {"line_charging_j", r.energy_j - r.static_power_w * t_stop},
        {"line_charging_note", "energy_j - static_power_w * t_stop: what the transient drew beyond the DC power"}}},
      {"final",
       {{"final_a", vec(final_a)},
        {"final_dc_a", vec(r.outputs_dc)},
        {"final_vs_dc", r.final_vs_dc},
        {"final_vs_dc_note", "max |I(t_stop) - I_dc| / full scale of the outputs (largest |I_dc|)"},
        {"output_scale_a", r.output_scale}}}};
}

Eigen::VectorXd single_input(const RunConfig& cfg, const Inputs& in) {
  if (in.v.rows() != 1)
    throw InputError("key v: " + cfg.v_path + " holds " + std::to_string(in.v.rows()) + " input vectors; " +
                     cfg.command + " steps the rows to one input, so --v must have shape (M,) = (" +
                     std::to_string(in.v.cols()) + ",)");
  return in.v.row(0).transpose();
}

solvers::CrossbarTransientOptions transient_options(const RunConfig& cfg) {
  solvers::CrossbarTransientOptions o = cfg.transient;
  if (!cfg.quiet) o.transient.progress = [&cfg](const std::string& msg) { progress(cfg, msg); };
  return o;
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

}  // namespace detail

int64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

}  // namespace xbar::engine::commands
