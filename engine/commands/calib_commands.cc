// `xbar calibrate` and `xbar size`: the compensation map, calibration tables and array-size
// validation of calib/, with their outputs (DESIGN.md's command-line contract).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include "calib/calibration_table.h"
#include "calib/compensation.h"
#include "calib/effective.h"
#include "calib/error_metrics.h"
#include "calib/flash_compensation.h"
#include "calib/size_sweep.h"
#include "support/format.h"
#include "support/input_error.h"
#include "devices/registry.h"
#include "engine/io/atomic_file.h"
#include "engine/commands/command_support.h"
#include "engine/commands/commands.h"
#include "engine/commands/preflight.h"
#include "engine/commands/flash_arrays.h"
#include "engine/io/npy.h"

namespace xbar::engine::commands {

using namespace detail;
using netlists::RowMatrixXd;
using nlohmann::json;

namespace {

json error_json(const calib::ErrorStats& e, const calib::ReadoutSpec& adc) {
  return {{"max_abs_a", e.max_abs_a},       {"rms_a", e.rms_a},
          {"max_pct_full_scale", e.max_pct_fs}, {"rms_pct_full_scale", e.rms_pct_fs},
          {"max_lsb", e.max_lsb},           {"rms_lsb", e.rms_lsb},
          {"worst_input", e.worst_input},   {"worst_column", e.worst_column},
          {"full_scale_a", adc.full_scale_a}, {"lsb_a", adc.lsb_a()}, {"adc_bits", adc.bits}};
}

json comp_options_json(const calib::CompensationOptions& c) {
  return {{"g_min_s", c.range.g_min_s},
          {"g_max_s", c.range.g_max_s},
          {"tol", c.tol},
          {"max_iterations", c.max_iterations},
          {"scale", c.scale_auto ? json(calib::scale_key(c)) : json(c.scale)},
          {"effective_method", solvers::to_string(c.effective)}};
}

json inputs_json(const calib::EvaluationOptions& e) {
  return {{"distribution", calib::to_string(e.inputs)},
          {"v_max_v", e.v_read_v},
          {"heldout", e.heldout},
          {"calib_inputs", e.calib_inputs},
          {"seed", e.seed},
          {"streams", "held-out and calibration inputs come from separate streams derived from the seed"}};
}

}  // namespace

std::shared_ptr<const devices::CellModel> cell_of(const RunConfig& cfg) {
  return devices::make_cell_model(cfg.cell, cfg.cell_params);
}

void require_native(const RunConfig& cfg) {
  if (cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: " + cfg.command + " needs a native back end (the effective "
                     "matrix comes from one factorization, the nonlinear maps from many Newton solves); "
                     "check a map against ngspice with `xbar check --g`");
}

// Flash arrays are calibrated in conductance equivalents (calib/flash_compensation.h): the
// targets of --g (or a random array) at v-read, not thresholds, and no programming draws.
void require_flash_targets(const RunConfig& cfg) {
  if (cfg.cell != "flash") return;
  if (!cfg.vth_path.empty())
    throw InputError("key vth: " + cfg.command + " takes flash arrays as conductance-equivalent targets "
                     "(--g, siemens at v-read: the read current over v-read), not thresholds");
  if (cfg.flash_target != devices::FlashTarget::kConductance)
    throw InputError("key pv-target = read-current: " + cfg.command + " takes conductance-equivalent targets");
  if (cfg.command == "size" && !cfg.v_gate_lines_path.empty())
    throw InputError("key v-gate-lines: size sweeps array sizes, and a gate-line file fits one size");
}

int run_calibrate(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: calibrate needs --out DIR");
  require_native(cfg);
  preflight(cfg);
  require_flash_targets(cfg);
  require_flash_compatible(cfg);
  ArrayInput a = load_conductances(cfg);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  a.cell = make_cell(cfg, m, n);
  const auto cell = a.cell;
  const auto flash = std::dynamic_pointer_cast<const devices::FlashCell>(cell);
  calib::EvaluationOptions eo = cfg.eval;
  eo.progress = [&](const std::string& msg) { progress(cfg, msg); };
  const calib::ArrayEvaluation ev = calib::evaluate_array(a.spec, a.g, cell, eo, cfg.solve.solver);
  const calib::Compensation& c = ev.comp;
  const calib::CalibrationTable& tab = ev.table;
  const auto& err = ev.error;

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  if (ev.linear)
    io::write_npy(outputs, dir + "t_effective.npy", ev.t_before.data(), {m, n});
  else  // nonlinear cells have no effective matrix: one from an earlier run would mislead
    outputs.remove(dir + "t_effective.npy");
  io::write_npy(outputs, dir + "g_compensated.npy", c.g_s.data(), {m, n});
  const std::vector<double> column_scales =
      c.column_scales.size() == size_t(n) ? c.column_scales : std::vector<double>(size_t(n), c.scale);
  io::write_npy(outputs, dir + "column_scales.npy", column_scales.data(), {n});
  if (flash) {  // the map's thresholds: what program-verify should aim at
    const RowMatrixXd vth = calib::flash_thresholds_for(*flash, c.g_s, eo.v_read_v);
    io::write_npy(outputs, dir + "vth_compensated.npy", vth.data(), {m, n});
  } else {
    outputs.remove(dir + "vth_compensated.npy");
  }
  const RowMatrixXd status = c.status.cast<double>();
  io::write_npy(outputs, dir + "unreachable.npy", status.data(), {m, n});
  {
    std::ostringstream csv;
    calib::write_calibration_csv(csv, tab);
    write_csv(outputs, dir + "calibration.csv", csv.str());
  }
  json tab_json = {
      {"tool", "xbar"},
      {"command", cfg.command},
      {"table", "calibration.csv"},
      {"fitted_on", eo.table_on_compensated ? "compensated array" : "uncompensated array (target conductances as given)"},
      {"model", tab.pwl_points ? "piecewise-linear curve per column (x*_a measured -> y*_a corrected; end segments extended), plus gain/offset"
                               : "I_corrected = gain * I_measured + offset_a, per column"},
      {"pwl_points", tab.pwl_points},
      {"corrects_to", std::string(eo.table_on_compensated ? "scale * " : "") + ev.reference +
                          (eo.table_on_compensated ? " (scale in result.json)" : "")},
      {"inputs", inputs_json(eo)},
      {"config", base_result(cfg, a)["config"]}};
  write_json(outputs, dir + "calibration.json", tab_json);

  json r = base_result(cfg, a);
  r["inputs"] = inputs_json(eo);
  r["compensation"] = {{"options", comp_options_json(eo.comp)},
                       {"scale_used", ev.scale_used},
                       {"scale", c.scale},
                       {"scale_min", c.scale},
                       {"scale_mean", calib::mean_column_scale(c)},
                       {"scale_max", *std::max_element(column_scales.begin(), column_scales.end())},
                       {"scale_trials", c.scale_trials},
                       {"converged", c.converged},
                       {"iterations", c.iterations},
                       {ev.linear ? "linear_solves" : "newton_iterations", c.linear_solves},
                       {"residual_rel", c.residual_rel},
                       {"residual_history", c.residual_history},
                       {"cells_needing_above_g_max", c.needs_above_max},
                       {"cells_needing_below_g_min", c.needs_below_min},
                       {"g_compensated_min_s", c.g_s.minCoeff()},
                       {"g_compensated_max_s", c.g_s.maxCoeff()},
                       {"time_s", c.seconds},
                       {"message", c.message}};
  if (!ev.linear)
    r["compensation"]["operating_input"] = {{"all_rows_v", eo.v_read_v},
                                            {"meaning", "the map makes every cell carry its wire-free current at this input; "
                                                        "errors below are over the input distribution"}};
  r["errors"] = {
      {"evaluated_on", ev.linear ? "held-out inputs (never used to fit); currents from the exact effective matrix of each array"
                                 : "held-out inputs (never used to fit); currents from a Newton solve of each array per input"},
      {"reference", ev.reference},
      {"uncompensated", error_json(err[calib::kUncompensated], ev.adc)},
      {"compensated", error_json(err[calib::kCompensated], ev.adc_compensated)},
      {"compensated_reference",
       eo.comp.scale_per_column && ev.linear
           ? "each column's current divided by its own scale (column_scales.npy), against the reference, in LSB of "
             "the unscaled ADC: the same as scale_j * reference in LSB of a range scaled by scale_j"
           : "scale * reference, in LSB of an ADC range scaled by the same factor"},
      {"calibrated", error_json(err[calib::kCalibrated], ev.adc_table)},
      {"calibrated_gain_offset_only", error_json(ev.calibrated_gain_offset, ev.adc_table)}};
  r[ev.linear ? "effective_matrix" : "newton_solves"] = summary_json(ev.summary);
  r["outputs"] = {{"g_compensated", "g_compensated.npy"},
                  {"column_scales", "column_scales.npy"},
                  {"column_scales_meaning", "N gains s_j: the map makes column j compute s_j times its target; "
                                            "divide column j's current by s_j (all equal unless --scale per-column)"},
                  {"unreachable", "unreachable.npy"},
                  {"unreachable_values", "0 reachable, 1 needs more than g-max (set to g-max), 2 needs less than g-min (set to g-min)"},
                  {"calibration", "calibration.csv"},
                  {"calibration_sidecar", "calibration.json"}};
  if (flash) {
    r["outputs"]["g_compensated_meaning"] =
        "conductance equivalents at v-read (read current / v-read) inside [g-min, g-max]; program them with "
        "`xbar program --cell flash --g g_compensated.npy`";
    r["outputs"]["vth_compensated"] = "vth_compensated.npy";
    r["outputs"]["vth_compensated_meaning"] = "the thresholds [V] that read g_compensated exactly at v-read";
  }
  if (ev.linear) {
    r["outputs"]["t_effective"] = "t_effective.npy";
    r["outputs"]["t_effective_meaning"] = "M x N siemens, column currents I = T^T v of the target array as given";
  }
  r["total_s"] = seconds_since(t_start);
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "result.json", r);
  outputs.commit();
  if (!cfg.quiet) {
    std::cout << "calibrated " << m << " x " << n << " in " << fmt(seconds_since(t_start)) << " s: "
              << c.message << "\n  scale " << ev.scale_used << ": " << fmt(c.scale)
              << (eo.comp.scale_per_column && ev.linear ? " (smallest column), mean " + fmt(calib::mean_column_scale(c)) : "")
              << "\n  max error on " << eo.heldout << " held-out inputs ("
              << eo.adc_bits << "-bit LSB): uncompensated " << fmt(err[calib::kUncompensated].max_lsb)
              << ", compensated " << fmt(err[calib::kCompensated].max_lsb) << ", calibration table "
              << fmt(err[calib::kCalibrated].max_lsb) << "\n  wrote " << dir
              << "g_compensated.npy, column_scales.npy, " << (flash ? "vth_compensated.npy, " : "") << "unreachable.npy, "
              << (ev.linear ? "t_effective.npy, " : "")
              << "calibration.csv, calibration.json, result.json\n";
    if (c.needs_above_max + c.needs_below_min > 0)
      std::cout << "  warning: " << c.needs_above_max + c.needs_below_min
                << " cells cannot be reached inside [g-min, g-max] (unreachable.npy); "
                   "--scale per-column or auto scales the target so that every cell fits under g-max\n";
  }
  return 0;
}

int run_size(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: size needs --out DIR");
  require_native(cfg);
  preflight(cfg);
  require_flash_targets(cfg);
  const calib::SizeOptions& o = cfg.size;
  calib::EvaluationOptions eo = cfg.eval;
  eo.progress = [&](const std::string& msg) { progress(cfg, msg); };
  netlists::CrossbarSpec spec = cfg.spec;
  const calib::SizeSweep s = calib::sweep_sizes(spec, cell_of(cfg), o, eo, cfg.solve.solver);

  io::ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  io::StagedOutputs outputs;  // replaced together at commit(), result.json last
  std::ostringstream os;  // size.csv
  {
    os << "rows,cols,unknowns,full_scale_a,lsb_a,budget_lsb,"
          "uncomp_max_lsb,uncomp_rms_lsb,uncomp_max_pct_fs,uncomp_pass,"
          "comp_max_lsb,comp_rms_lsb,comp_max_pct_fs,comp_pass,comp_scale,comp_scale_mean,comp_cells_above_g_max,"
          "comp_cells_below_g_min,comp_iterations,comp_converged,"
          "calib_max_lsb,calib_rms_lsb,calib_max_pct_fs,calib_pass,refined,seconds\n";
    auto num = [](double v) { return format_number(v); };
    for (const auto& p : s.points) {
      os << p.rows << "," << p.cols << "," << 2 * p.rows * p.cols << "," << num(p.full_scale_a) << ","
         << num(p.lsb_a) << "," << num(o.budget_lsb);
      for (int c = 0; c < 3; ++c) {
        const auto& e = p.error[size_t(c)];
        if (p.evaluated[size_t(c)])
          os << "," << num(e.max_lsb) << "," << num(e.rms_lsb) << "," << num(e.max_pct_fs) << ","
             << (p.pass[size_t(c)] ? 1 : 0);
        else
          os << ",,,,";
        if (c == calib::kCompensated) {
          if (p.evaluated[size_t(c)])
            os << "," << num(p.scale) << "," << num(p.scale_mean) << "," << p.needs_above_max << ","
               << p.needs_below_min << "," << p.comp_iterations << "," << (p.comp_converged ? 1 : 0);
          else
            os << ",,,,,,";
        }
      }
      os << "," << (p.refined ? 1 : 0) << "," << num(p.seconds) << "\n";
    }
  }
  write_csv(outputs, dir + "size.csv", os.str());
  json r = {{"tool", "xbar"},
            {"version", base_result(cfg, ArrayInput{spec, {}, {}})["version"]},
            {"command", cfg.command},
            {"config", cfg.config_json},
            {"seed", cfg.seed},
            {"sweep", {{"shape", calib::to_string(o.shape)},
                       {"sizes", o.sizes},
                       {"refine", o.refine},
                       {"budget_lsb", o.budget_lsb},
                       {"adc_bits", eo.adc_bits},
                       {"full_scale", eo.full_scale_a > 0 ? json(eo.full_scale_a) : json("auto: largest ideal column current at v-read, per size")}}},
            {"inputs", inputs_json(eo)},
            {"compensation", comp_options_json(eo.comp)}};
  if (s.points.front().evaluated[calib::kCompensated])
    r["compensation"]["scale_used"] = s.points.front().scale_used;
  json largest = json::object();
  for (int c = 0; c < 3; ++c) {
    if (!s.points.front().evaluated[size_t(c)]) continue;
    largest[calib::criterion_name(c)] = {
        {"largest_passing_size", s.largest[size_t(c)]},
        {"failing_size_found_above", s.bounded[size_t(c)]},
        {"note", s.largest[size_t(c)] == 0 ? "no size in the sweep meets the budget"
                 : s.bounded[size_t(c)] ? "the next size fails the budget"
                                        : "every size swept passes: the limit lies beyond the sweep"}};
  }
  r["largest"] = largest;
  r["points"] = s.points.size();
  r["outputs"] = {{"table", "size.csv"}};
  r["total_s"] = seconds_since(t_start);
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(outputs, dir + "result.json", r);
  outputs.commit();
  if (!cfg.quiet) {
    std::cout << "size sweep (" << calib::to_string(o.shape) << ", budget " << fmt(o.budget_lsb) << " LSB of "
              << eo.adc_bits << " bits) in " << fmt(seconds_since(t_start)) << " s:\n";
    for (int c = 0; c < 3; ++c) {
      if (!s.points.front().evaluated[size_t(c)]) continue;
      std::cout << "  " << calib::criterion_name(c)
                << (c == calib::kCompensated ? " (scale " + s.points.front().scale_used + ")" : std::string())
                << ": largest size meeting the budget "
                << s.largest[size_t(c)] << (s.bounded[size_t(c)] ? "" : " (every size swept passes)") << "\n";
    }
    std::cout << "  wrote " << dir << "size.csv, result.json\n";
  }
  return 0;
}

}  // namespace xbar::engine::commands
