#include "engine/cli/calibrate_keys.h"

#include <cstdint>
#include <sstream>
#include <string>

#include "calib/array_evaluation.h"
#include "calib/compensation.h"
#include "calib/size_sweep.h"
#include "solvers/crossbar_solver.h"
#include "support/input_error.h"
#include "support/text.h"

namespace xbar::engine::cli {

using commands::RunConfig;

po::options_description calibrate_keys(const std::string& sub, const RunConfig& d) {
  const bool all_keys = sub == "all";
  const xbar::calib::SizeOptions sd;
  po::options_description cal(sub == "size" ? "Size sweep and error measurement" : "Compensation, calibration and error measurement");
  cal.add_options()
      ("g-min", num(d.eval.comp.range.g_min_s), "device window: lowest programmable conductance [S]")
      ("g-max", num(d.eval.comp.range.g_max_s), "device window: highest programmable conductance [S]")
      ("scale", po::value<std::string>()->default_value(xbar::calib::scale_key(d.eval.comp)),
       "the map makes column j compute s_j G^T v: per-column = the largest s_j <= 1 per column that fits "
       "every cell under g-max, each column divided by its own gain (column_scales.npy; nonlinear cells: "
       "auto; a per-column map that does not converge gives way to auto's if that does); auto = the largest single s <= 1 that fits; or a fixed s in (0, 1] (the scale used is in "
       "result.json)")
      ("comp-tol", num(d.eval.comp.tol), "compensation stops when max |T(G') - sG| <= this x max(sG) (nonlinear cells: every cell current at v-read within this of its wire-free value, relative to the largest)")
      ("comp-max-iterations", po::value<int>()->default_value(d.eval.comp.max_iterations), "compensation iterations (linear cells: one factorization each; nonlinear: one Newton solve each)")
      ("heldout", po::value<int64_t>()->default_value(d.eval.heldout), "held-out random inputs the errors are measured on (never used to fit)")
      ("calib-inputs", po::value<int64_t>()->default_value(d.eval.calib_inputs), "random inputs the calibration tables are fitted on")
      ("inputs", po::value<std::string>()->default_value(xbar::calib::to_string(d.eval.inputs)),
       "random input rows: uniform in [0, v-read] | binary (0 or v-read) | full (every row at v-read)")
      ("error-adc-bits", po::value<int>()->default_value(d.eval.adc_bits), "errors are reported in LSB of an ADC with this many bits")
      ("full-scale", num(d.eval.full_scale_a), "that ADC's full scale [A]; 0 = largest ideal column current with every row at v-read")
      ("pwl-points", po::value<int>()->default_value(d.eval.pwl_points), "calibration: piecewise-linear breakpoints per column (0 = gain/offset only, else >= 2)");
  if (sub == "calibrate" || all_keys)
    cal.add_options()("table-on", po::value<std::string>()->default_value("uncompensated"),
                      "calibration table fitted on the uncompensated|compensated array");
  if (sub == "size" || all_keys)
    cal.add_options()
        ("sizes", po::value<std::string>()->default_value("16,32,64,128,256"), "array sizes swept, comma-separated")
        ("sweep", po::value<std::string>()->default_value(xbar::calib::to_string(sd.shape)),
         "square (M = N = size) | cols (M = --rows, N = size) | rows (M = size, N = --cols)")
        ("budget-lsb", num(sd.budget_lsb), "error budget: largest |I - G^T v| allowed, in LSB")
        ("compensate", po::value<bool>()->default_value(d.eval.compensate), "also evaluate each size with the compensation map (true|false)")
        ("calib-tables", po::value<bool>()->default_value(d.eval.calibrate), "also evaluate each size with calibration tables (true|false)")
        ("refine", po::value<bool>()->default_value(sd.refine), "bisect the integer sizes between the last passing and first failing size");
  return cal;
}

po::options_description calibrate_solver_keys(const RunConfig& d) {
  po::options_description solver("Solver");
  solver.add_options()
      ("backend", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.backend)),
       "auto (pcg from 2x128x128 unknowns, else CHOLMOD)|native (CHOLMOD)|cholmod|eigen (solves, "
       "not the port reduction)|klu|pcg")
      ("ordering", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.linear.ordering)),
       "fill-reducing ordering: auto|geometric|amd|metis|nesdis")
      ("rhs-block", po::value<int>()->default_value(d.solve.solver.linear.rhs_block), "right-hand sides per substitution pass")
      ("effective-method", po::value<std::string>()->default_value(xbar::solvers::to_string(d.eval.comp.effective)),
       "how each effective matrix T is computed: auto (port-reduction when the factor fits in memory, else "
       "solves) | port-reduction (one factorization, terminals last) | solves (min(M,N) solves, the referee)");
  return solver;
}

void fill_calib_config(RunConfig& c, const po::variables_map& vm) {
  xbar::calib::EvaluationOptions& e = c.eval;
  get_opt(vm, "g-min", e.comp.range.g_min_s);
  get_opt(vm, "g-max", e.comp.range.g_max_s);
  std::string s;
  if (get_opt(vm, "scale", s)) xbar::calib::parse_scale_key(s, e.comp);
  if (get_opt(vm, "effective-method", s)) e.comp.effective = xbar::solvers::parse_effective_method(s);
  get_opt(vm, "comp-tol", e.comp.tol);
  get_opt(vm, "comp-max-iterations", e.comp.max_iterations);
  get_opt(vm, "heldout", e.heldout);
  get_opt(vm, "calib-inputs", e.calib_inputs);
  if (get_opt(vm, "inputs", s)) e.inputs = xbar::calib::parse_input_distribution(s);
  get_opt(vm, "error-adc-bits", e.adc_bits);
  get_opt(vm, "full-scale", e.full_scale_a);
  get_opt(vm, "pwl-points", e.pwl_points);
  if (get_opt(vm, "table-on", s)) {
    if (s != "uncompensated" && s != "compensated")
      throw InputError("key table-on = '" + s + "': expected uncompensated or compensated");
    e.table_on_compensated = s == "compensated";
  }
  get_opt(vm, "compensate", e.compensate);
  get_opt(vm, "calib-tables", e.calibrate);
  e.seed = c.seed;
  e.v_read_v = c.v_read_v;
  e.validate();
  if (get_opt(vm, "sizes", s)) {
    c.size.sizes.clear();
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item = xbar::trim(item);
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (item.empty() || used != item.size() || v < 1 || v > 8192)
        throw InputError("key sizes = '" + s + "': '" + item + "' is not an array size in [1, 8192]");
      c.size.sizes.push_back(v);
    }
  }
  if (get_opt(vm, "sweep", s)) c.size.shape = xbar::calib::parse_size_shape(s);
  get_opt(vm, "budget-lsb", c.size.budget_lsb);
  get_opt(vm, "refine", c.size.refine);
  c.size.g_on_s = c.g_on_s;
  c.size.g_off_s = c.g_off_s;
  if (c.command == "size") c.size.validate();
  if (c.command == "size" && (vm.count("g") || vm.count("v")))
    throw InputError("keys --g / --v: size draws its own random array (g-off..g-on, seed) and "
                     "held-out inputs at every size; give the device and wire keys instead");
}

}  // namespace xbar::engine::cli
