// `xbar calibrate` and `xbar size`: the compensation map, calibration tables and array-size
// validation of calib/, with their outputs (DESIGN.md's command-line contract).
#include <cmath>
#include <iostream>

#include "calib/calibration_table.h"
#include "calib/compensation.h"
#include "calib/effective.h"
#include "calib/error_metrics.h"
#include "calib/size_sweep.h"
#include "devices/format.h"
#include "devices/input_error.h"
#include "devices/registry.h"
#include "engine/atomic_file.h"
#include "engine/command_support.h"
#include "engine/commands.h"
#include "engine/npy.h"

namespace xbar::engine {

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

void require_linear_cell(const RunConfig& cfg) {
  if (!devices::make_cell_model(cfg.cell, cfg.cell_params)->is_linear())
    throw InputError("key cell = " + cfg.cell + ": " + cfg.command + " works on the exact effective "
                     "matrix of linear arrays; nonlinear cells are not supported by this version");
}

json comp_options_json(const RunConfig& cfg) {
  return {{"g_min_s", cfg.comp.range.g_min_s},
          {"g_max_s", cfg.comp.range.g_max_s},
          {"tol", cfg.comp.tol},
          {"max_iterations", cfg.comp.max_iterations},
          {"scale", cfg.comp.scale_auto ? json("auto") : json(cfg.comp.scale)}};
}

json inputs_json(const RunConfig& cfg) {
  return {{"distribution", calib::to_string(cfg.inputs)},
          {"v_max_v", cfg.v_read_v},
          {"heldout", cfg.heldout},
          {"calib_inputs", cfg.calib_inputs},
          {"seed", cfg.seed},
          {"streams", "held-out and calibration inputs come from separate streams derived from the seed"}};
}

}  // namespace

int run_calibrate(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: calibrate needs --out DIR");
  if (cfg.heldout < 1) throw InputError("key heldout = " + std::to_string(cfg.heldout) + ": must be >= 1");
  require_linear_cell(cfg);
  const ArrayInput a = load_array(cfg);
  const int64_t m = a.spec.rows, n = a.spec.cols;
  solvers::SolverOptions so = cfg.solve.solver;
  if (so.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: calibrate needs a native back end (the effective matrix "
                     "is computed from one factorization); check a map with `xbar check --g`");
  progress(cfg, std::to_string(m) + " x " + std::to_string(n) + " array: effective matrix of the target");
  const calib::Effective before = calib::effective_matrix(a.spec, a.g, so);
  calib::CompensationOptions co = cfg.comp;
  co.progress = [&](const std::string& msg) { progress(cfg, msg); };
  const calib::Compensation c = calib::compensate(a.spec, a.g, co, so);

  const RowMatrixXd v = calib::heldout_inputs(cfg.heldout, m, cfg.v_read_v, cfg.inputs, cfg.seed);
  const RowMatrixXd vc = calib::random_inputs(cfg.calib_inputs, m, cfg.v_read_v, cfg.inputs, cfg.seed,
                                              calib::InputStream::kCalibration);
  const RowMatrixXd ideal = v * a.g;
  const double fs = cfg.full_scale_a > 0 ? cfg.full_scale_a : calib::full_scale_a(a.g, cfg.v_read_v);
  const calib::ReadoutSpec adc{cfg.error_adc_bits, fs}, adc_s{cfg.error_adc_bits, fs * c.scale};
  const calib::ErrorStats e_before = calib::error_stats(v * before.t, ideal, adc);
  const calib::ErrorStats e_comp = calib::error_stats(v * c.t, c.scale * ideal, adc_s);
  // The table corrects the uncompensated array (the ADC-side alternative to the map), or the
  // compensated one (what is left after the map) with --table-on compensated.
  const RowMatrixXd& t_tab = cfg.table_on_compensated ? c.t : before.t;
  const double tab_scale = cfg.table_on_compensated ? c.scale : 1.0;
  const calib::CalibrationTable tab = calib::fit_calibration(vc * t_tab, tab_scale * (vc * a.g), cfg.pwl_points);
  const calib::ReadoutSpec& adc_tab = cfg.table_on_compensated ? adc_s : adc;
  const calib::ErrorStats e_tab = calib::error_stats(tab.apply(v * t_tab), tab_scale * ideal, adc_tab);
  const calib::ErrorStats e_tab_go = calib::error_stats(tab.apply_gain_offset(v * t_tab), tab_scale * ideal, adc_tab);

  ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  write_npy(dir + "t_effective.npy", before.t.data(), {m, n});
  write_npy(dir + "g_compensated.npy", c.g_s.data(), {m, n});
  const RowMatrixXd status = c.status.cast<double>();
  write_npy(dir + "unreachable.npy", status.data(), {m, n});
  write_file_atomically(dir + "calibration.csv", [&](std::ostream& os) { calib::write_calibration_csv(os, tab); });
  json tab_json = {
      {"tool", "xbar"},
      {"command", cfg.command},
      {"table", "calibration.csv"},
      {"fitted_on", cfg.table_on_compensated ? "compensated array" : "uncompensated array (target conductances as given)"},
      {"model", tab.pwl_points ? "piecewise-linear curve per column (x*_a measured -> y*_a corrected; end segments extended), plus gain/offset"
                               : "I_corrected = gain * I_measured + offset_a, per column"},
      {"pwl_points", tab.pwl_points},
      {"corrects_to", cfg.table_on_compensated ? "scale * G^T v (scale in result.json)" : "G^T v"},
      {"inputs", inputs_json(cfg)},
      {"config", base_result(cfg, a)["config"]}};
  write_json(dir + "calibration.json", tab_json);

  json r = base_result(cfg, a);
  r["inputs"] = inputs_json(cfg);
  r["compensation"] = {{"options", comp_options_json(cfg)},
                       {"scale", c.scale},
                       {"scale_trials", c.scale_trials},
                       {"converged", c.converged},
                       {"iterations", c.iterations},
                       {"linear_solves", c.linear_solves},
                       {"residual_rel", c.residual_rel},
                       {"residual_history", c.residual_history},
                       {"cells_needing_above_g_max", c.needs_above_max},
                       {"cells_needing_below_g_min", c.needs_below_min},
                       {"g_compensated_min_s", c.g_s.minCoeff()},
                       {"g_compensated_max_s", c.g_s.maxCoeff()},
                       {"time_s", c.seconds},
                       {"message", c.message}};
  r["errors"] = {
      {"evaluated_on", "held-out inputs (never used to fit); currents from the exact effective matrix of each array"},
      {"uncompensated", error_json(e_before, adc)},
      {"compensated", error_json(e_comp, adc_s)},
      {"compensated_reference", "scale * G^T v, in LSB of an ADC range scaled by the same factor"},
      {"calibrated", error_json(e_tab, adc_tab)},
      {"calibrated_gain_offset_only", error_json(e_tab_go, adc_tab)}};
  r["effective_matrix"] = summary_json(before.summary);
  r["outputs"] = {{"t_effective", "t_effective.npy"},
                  {"t_effective_meaning", "M x N siemens, column currents I = T^T v of the target array as given"},
                  {"g_compensated", "g_compensated.npy"},
                  {"unreachable", "unreachable.npy"},
                  {"unreachable_values", "0 reachable, 1 needs more than g-max (set to g-max), 2 needs less than g-min (set to g-min)"},
                  {"calibration", "calibration.csv"},
                  {"calibration_sidecar", "calibration.json"}};
  r["total_s"] = seconds_since(t_start);
  r["peak_rss_bytes"] = peak_rss_bytes();
  write_json(dir + "result.json", r);
  if (!cfg.quiet) {
    std::cout << "calibrated " << m << " x " << n << " in " << fmt(seconds_since(t_start)) << " s: "
              << c.message << "\n  max error on " << cfg.heldout << " held-out inputs ("
              << cfg.error_adc_bits << "-bit LSB): uncompensated " << fmt(e_before.max_lsb)
              << ", compensated " << fmt(e_comp.max_lsb) << ", calibration table "
              << fmt(e_tab.max_lsb) << "\n  wrote " << dir
              << "g_compensated.npy, unreachable.npy, t_effective.npy, calibration.csv, calibration.json, result.json\n";
    if (c.needs_above_max + c.needs_below_min > 0)
      std::cout << "  warning: " << c.needs_above_max + c.needs_below_min
                << " cells cannot be reached inside [g-min, g-max] (unreachable.npy); "
                   "--scale auto scales the target so that every cell fits under g-max\n";
  }
  return 0;
}

int run_size(const RunConfig& cfg) {
  const auto t_start = Clock::now();
  if (cfg.out.empty()) throw InputError("key out: size needs --out DIR");
  require_linear_cell(cfg);
  if (cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: size needs a native back end");
  calib::SizeOptions o = cfg.size;
  o.comp = cfg.comp;
  o.g_on_s = cfg.g_on_s;
  o.g_off_s = cfg.g_off_s;
  o.seed = cfg.seed;
  o.v_read_v = cfg.v_read_v;
  o.inputs = cfg.inputs;
  o.heldout = cfg.heldout;
  o.calib_inputs = cfg.calib_inputs;
  o.pwl_points = cfg.pwl_points;
  o.adc_bits = cfg.error_adc_bits;
  o.full_scale_a = cfg.full_scale_a;
  o.progress = [&](const std::string& msg) { progress(cfg, msg); };
  if (!(cfg.g_off_s >= 0) || !(cfg.g_on_s >= cfg.g_off_s) || !std::isfinite(cfg.g_on_s))
    throw InputError("keys g-off = " + format_number(cfg.g_off_s) + ", g-on = " + format_number(cfg.g_on_s) +
                     ": need 0 <= g-off <= g-on, finite [S]");
  netlists::CrossbarSpec spec = cfg.spec;
  const calib::SizeSweep s = calib::sweep_sizes(spec, o, cfg.solve.solver);

  ensure_directory(cfg.out);
  const std::string dir = cfg.out + "/";
  write_file_atomically(dir + "size.csv", [&](std::ostream& os) {
    os << "rows,cols,unknowns,full_scale_a,lsb_a,budget_lsb,"
          "uncomp_max_lsb,uncomp_rms_lsb,uncomp_max_pct_fs,uncomp_pass,"
          "comp_max_lsb,comp_rms_lsb,comp_max_pct_fs,comp_pass,comp_scale,comp_cells_above_g_max,"
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
            os << "," << num(p.scale) << "," << p.needs_above_max << "," << p.needs_below_min << ","
               << p.comp_iterations << "," << (p.comp_converged ? 1 : 0);
          else
            os << ",,,,,";
        }
      }
      os << "," << (p.refined ? 1 : 0) << "," << num(p.seconds) << "\n";
    }
  });
  json r = {{"tool", "xbar"},
            {"version", base_result(cfg, ArrayInput{spec, {}, {}})["version"]},
            {"command", cfg.command},
            {"config", cfg.config_json},
            {"seed", cfg.seed},
            {"sweep", {{"shape", calib::to_string(o.shape)},
                       {"sizes", o.sizes},
                       {"refine", o.refine},
                       {"budget_lsb", o.budget_lsb},
                       {"adc_bits", o.adc_bits},
                       {"full_scale", o.full_scale_a > 0 ? json(o.full_scale_a) : json("auto: largest ideal column current at v-read, per size")}}},
            {"inputs", inputs_json(cfg)},
            {"compensation", comp_options_json(cfg)}};
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
  write_json(dir + "result.json", r);
  if (!cfg.quiet) {
    std::cout << "size sweep (" << calib::to_string(o.shape) << ", budget " << fmt(o.budget_lsb) << " LSB of "
              << o.adc_bits << " bits) in " << fmt(seconds_since(t_start)) << " s:\n";
    for (int c = 0; c < 3; ++c) {
      if (!s.points.front().evaluated[size_t(c)]) continue;
      std::cout << "  " << calib::criterion_name(c) << ": largest size meeting the budget "
                << s.largest[size_t(c)] << (s.bounded[size_t(c)] ? "" : " (every size swept passes)") << "\n";
    }
    std::cout << "  wrote " << dir << "size.csv, result.json\n";
  }
  return 0;
}

}  // namespace xbar::engine
