// The `xbar` executable: subcommand dispatch, flags and INI files (Boost.Program_options lives
// only in this translation unit), error reporting and exit codes.
//
// Exit codes: 0 success; 1 internal error; 2 bad input or configuration (the message names
// the file, line or key); 3 `check` found a difference above --tol; 4 numerical failure
// (singular system, ngspice failure); 5 `sweep`: some points failed (their rows say why).
#include <boost/program_options.hpp>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "support/text.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "engine/cli/cli_ini.h"
#include "engine/commands/commands.h"
#include "engine/sweep/sweep_commands.h"
#include "engine/sweep/sweep_runner.h"
#include "engine/commands/nn_commands.h"
#include "xbar_version.h"

namespace po = boost::program_options;
namespace devices = xbar::devices;
using xbar::InputError;
using xbar::trim;  // support/text.h
using xbar::engine::commands::RunConfig;
using xbar::engine::cli::store_ini;    // engine/cli/cli_ini.h
using xbar::engine::cli::store_value;  // engine/cli/cli_ini.h

namespace {

const char* const kSubcommands[][2] = {
    {"netlist", "crossbar spec -> SPICE deck (ngspice dialect) at --out FILE.cir"},
    {"solve", "solve one or a batch of input vectors: currents.npy, result.json [voltages.npy]"},
    {"check", "solve natively and with ngspice, compare node by node: check.json"},
    {"program", "target conductances -> programmed ones with non-idealities: g_programmed.npy"},
    {"calibrate", "IR-drop compensation map + calibration table, errors on held-out inputs: g_compensated.npy"},
    {"size", "largest array meeting an error budget in ADC LSB, sweeping sizes: size.csv"},
    {"sweep", "a grid of runs from an INI with lists/ranges, one row each: DIR/sweep.csv (mpirun-able)"},
    {"train", "train the MLP or CNN on Fashion-MNIST (--hat: hardware-aware): model.pt, train.json"},
    {"evaluate", "NN accuracy on programmed, solved crossbar tiles: accuracy.json"},
};

void print_general_help(std::ostream& os) {
  os << "xbar " << XBAR_VERSION
     << " - exact IR-drop analysis of analog compute-in-memory crossbar arrays\n\n"
        "usage: xbar SUBCOMMAND [--config FILE.ini] [--key value ...]\n\nsubcommands:\n";
  for (const auto& s : kSubcommands) os << "  " << s[0] << std::string(10 - std::strlen(s[0]), ' ') << s[1] << "\n";
  os << "\n`xbar SUBCOMMAND --help` lists the keys of one subcommand. Every key may also\n"
        "come from --config FILE.ini (`key = value` lines; [sections] are ignored for lookup);\n"
        "a flag on the command line overrides the file. Units are SI: ohm, siemens, volt, ampere,\n"
        "metre, second. Exit codes: 0 ok, 2 bad input, 3 check failed its tolerance, 4 numerical\n"
        "failure, 5 sweep: some points failed, 1 internal error.\n";
}

// The keys of `xbar program`: the device window and the programming non-idealities.
po::options_description program_options(const RunConfig& d) {
  auto num = [](double v) { return po::value<double>()->default_value(v, xbar::format_number(v)); };
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

// Neural-network keys (train, evaluate, program --model): the NN block below.
po::options_description nn_options(const std::string& sub);

// sub = "all" gives the union of every subcommand's keys, for `xbar --help`.
po::options_description make_options(const std::string& sub) {
  if (sub == "train" || sub == "evaluate") return nn_options(sub);
  // Defaults come from the default-constructed structs (STYLE: no hidden defaults elsewhere).
  const RunConfig d;
  auto num = [](double v) { return po::value<double>()->default_value(v, xbar::format_number(v)); };
  po::options_description general("General");
  general.add_options()
      ("help", "print this help and exit")
      ("config", po::value<std::string>(), "INI file with any of these keys (`key = value`)")
      ("out", po::value<std::string>(),
       sub == "netlist" ? "output SPICE deck path (.cir), written atomically (required)"
                        : "output directory (created if missing; files replaced atomically) (required)")
      ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout");
  po::options_description array("Array");
  std::string cells;
  for (const auto& c : xbar::devices::cell_model_names()) cells += (cells.empty() ? "" : "|") + c;
  array.add_options()
      ("rows", po::value<int64_t>()->default_value(d.spec.rows), "M, word lines (inputs); with --g taken from the file")
      ("cols", po::value<int64_t>()->default_value(d.spec.cols), "N, bit lines (outputs); with --g taken from the file")
      ("g", po::value<std::string>(), "cell conductances, M x N siemens, .npy float64/float32 C order")
      ("g-on", num(d.g_on_s), "random array: highest conductance [S]")
      ("g-off", num(d.g_off_s), "random array: lowest conductance [S]")
      ("seed", po::value<int64_t>()->default_value(int64_t(d.seed)), "random array seed, >= 0 (written to the results)")
      ("v", po::value<std::string>(), "row voltages [V], .npy of shape (M,) or (K, M) for K inputs")
      ("v-read", num(d.v_read_v), "without --v: every row at this voltage [V]")
      ("cell", po::value<std::string>()->default_value(d.cell), ("cell model: " + cells).c_str())
      ("nl-k", num(d.cell_params.nl_k_per_v), "sinh cell: I = G/k sinh(k V), nonlinearity k [1/V]")
      ("sel-i0", num(d.cell_params.sel_i0_a), "selector (1S1R): I_sel = i0 sinh(V_sel/v0), scale current i0 [A]")
      ("sel-v0", num(d.cell_params.sel_v0_v), "selector (1S1R): voltage scale v0 [V]")
      ("mos-vto", num(d.cell_params.mos_vto_v), "1t1r access NMOS (SPICE level 1): threshold VTO [V]")
      ("mos-kp", num(d.cell_params.mos_kp_a_per_v2), "1t1r: transconductance KP [A/V^2]")
      ("mos-wl", num(d.cell_params.mos_w_over_l), "1t1r: W/L")
      ("mos-lambda", num(d.cell_params.mos_lambda_per_v), "1t1r: channel-length modulation lambda [1/V]")
      ("mos-gmin", num(d.cell_params.mos_gmin_s), "1t1r: drain-source leakage gmin, as ngspice's [S]")
      ("v-gate", num(d.cell_params.v_gate_v), "1t1r: gate (word-line) voltage [V]")
      ("gate", po::value<std::string>()->default_value(d.cell_params.gate_per_row ? "row" : "column"),
       "1t1r: gates driven per row|column");
  po::options_description wires("Wires, drivers and sensing");
  wires.add_options()
      ("r-row", num(d.spec.r_row_ohm), "row (word-line) wire resistance per segment [ohm]")
      ("r-col", num(d.spec.r_col_ohm), "column (bit-line) wire resistance per segment [ohm]")
      ("row-resistivity", po::value<double>(), "row wire resistivity [ohm*m] (geometry instead of --r-row)")
      ("row-width", po::value<double>(), "row wire width [m]")
      ("row-thickness", po::value<double>(), "row wire thickness [m]")
      ("row-pitch", po::value<double>(), "row segment length = cell pitch along a row [m]")
      ("col-resistivity", po::value<double>(), "column wire resistivity [ohm*m] (geometry instead of --r-col)")
      ("col-width", po::value<double>(), "column wire width [m]")
      ("col-thickness", po::value<double>(), "column wire thickness [m]")
      ("col-pitch", po::value<double>(), "column segment length = cell pitch along a column [m]")
      ("r-driver", num(d.spec.r_driver_ohm), "row driver output resistance per driven end [ohm]; 0 = ideal")
      ("r-sense", num(d.spec.r_sense_ohm), "sense resistance into the virtual ground per sensed end [ohm]; 0 = ideal")
      ("drive", po::value<std::string>()->default_value(xbar::netlists::to_string(d.spec.drive)), "rows driven from: left|right|both")
      ("sense", po::value<std::string>()->default_value(xbar::netlists::to_string(d.spec.sense)), "columns sensed at: bottom|top|both");
  po::options_description all;
  const bool all_keys = sub == "all";
  if (sub == "calibrate" || sub == "size" || all_keys) {
    const xbar::calib::SizeOptions sd;
    po::options_description cal(sub == "size" ? "Size sweep and error measurement" : "Compensation, calibration and error measurement");
    cal.add_options()
          ("g-min", num(d.eval.comp.range.g_min_s), "device window: lowest programmable conductance [S]")
          ("g-max", num(d.eval.comp.range.g_max_s), "device window: highest programmable conductance [S]")
          ("scale", po::value<std::string>()->default_value("1"),
           "target scale s in (0, 1]: the map makes the array compute s G^T v; auto = largest s <= 1 "
           "with every cell under g-max (written to result.json)")
          ("comp-tol", num(d.eval.comp.tol), "compensation stops when max |T(G') - sG| <= this x max(sG) (nonlinear cells: every cell current at v-read within this of its wire-free value, relative to the largest)")
          ("comp-max-iterations", po::value<int>()->default_value(d.eval.comp.max_iterations), "compensation iterations (linear cells: one factorization + min(M,N) solves each; nonlinear: one Newton solve each)")
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
    all.add(cal);
    if (!all_keys) {
      all.add(general).add(array).add(wires);
      po::options_description solver("Solver");
      solver.add_options()
          ("backend", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.backend)),
           "auto (pcg from 2x128x128 unknowns, else CHOLMOD)|native (CHOLMOD)|cholmod|klu|pcg")
          ("ordering", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.linear.ordering)),
           "fill-reducing ordering: auto|geometric|amd|metis|nesdis")
          ("rhs-block", po::value<int>()->default_value(d.solve.solver.linear.rhs_block), "right-hand sides per substitution pass");
      all.add(solver);
      return all;
    }
  }
  if (sub == "program") {
    // Programming needs the target array and the device non-idealities, no circuit.
    po::options_description target("Target conductances");
    target.add_options()
        ("rows", po::value<int64_t>()->default_value(d.spec.rows), "M; with --g taken from the file")
        ("cols", po::value<int64_t>()->default_value(d.spec.cols), "N; with --g taken from the file")
        ("g", po::value<std::string>(), "target conductances, M x N siemens, .npy float64/float32 C order")
        ("g-on", num(d.g_on_s), "random target: highest conductance [S]")
        ("g-off", num(d.g_off_s), "random target: lowest conductance [S]")
        ("seed", po::value<int64_t>()->default_value(int64_t(d.seed)),
         "seed of the random target and of every programming stage (each derives its own stream)");
    all.add(general).add(target).add(program_options(d)).add(nn_options("program"));
    return all;
  }
  all.add(general).add(array).add(wires);
  if (sub == "solve" || sub == "check" || all_keys) {
    po::options_description solver("Solver");
    solver.add_options()
        ("deck", po::value<std::string>(),
         "SPICE deck (R, V, I elements) to solve instead of a generated crossbar; writes "
         "node_voltages.npy and source_currents.npy (excludes --g and --v)")
        ("backend", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.backend)),
         sub == "check" ? "native back end compared with ngspice: auto|native|cholmod|klu|pcg"
        : all_keys     ? "auto (pcg from 2x128x128 unknowns, else native)|native (CHOLMOD when SPD, "
                         "else KLU)|cholmod|klu|pcg (line-preconditioned conjugate gradients)|ngspice "
                         "(check: the native one compared with ngspice)"
                       : "auto (pcg from 2x128x128 unknowns, else native)|native (CHOLMOD when SPD, "
                         "else KLU)|cholmod|klu|pcg (line-preconditioned conjugate gradients)|ngspice")
        ("ordering", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.linear.ordering)),
         "fill-reducing ordering: auto (geometric nested dissection on crossbar grids)|geometric|amd|metis|nesdis")
        ("reltol", num(d.solve.solver.newton.reltol), "Newton (nonlinear cells): relative tolerance on node voltages and KCL residuals")
        ("vntol", num(d.solve.solver.newton.vntol_v), "Newton: absolute node-voltage tolerance [V]")
        ("abstol", num(d.solve.solver.newton.abstol_a), "Newton: absolute KCL residual tolerance [A]")
        ("max-iterations", po::value<int>()->default_value(d.solve.solver.newton.max_iterations), "Newton: iterations per run (plain, each gmin or source step)")
        ("max-step", num(d.solve.solver.newton.max_step_v), "Newton: largest node-voltage change per iteration [V]")
        ("rhs-block", po::value<int>()->default_value(d.solve.solver.linear.rhs_block), "right-hand sides per substitution pass (memory: 8 x unknowns x this bytes)")
        ("pcg-max-iterations", po::value<int>()->default_value(d.solve.solver.linear.pcg.max_iterations),
         "pcg: conjugate-gradient iterations per input before falling back to CHOLMOD (when its factor fits in memory) or failing");
    if (sub == "solve")
      solver.add_options()("tol", num(d.solve.solver.linear.pcg.tol),
                           "pcg: relative accuracy of the column currents at which conjugate gradients stop, in (0, 0.01]");
    if (sub == "solve" || all_keys)
      solver.add_options()
          ("dac-bits", po::value<int>()->default_value(d.dac.bits), "DAC resolution of the row voltages; 0 = ideal source")
          ("dac-v-min", num(d.dac.v_min_v), "DAC range low end [V]")
          ("dac-v-max", num(d.dac.v_max_v), "DAC range high end [V] (needed with --dac-bits)")
          ("adc-bits", po::value<int>()->default_value(d.adc.bits), "ADC resolution of the column currents; 0 = ideal readout")
          ("adc-i-min", num(d.adc.i_min_a), "ADC range low end [A]")
          ("adc-i-max", num(d.adc.i_max_a), "ADC range high end [A] (needed with --adc-bits)")
          ("read-noise-sigma", num(d.read_noise.relative_sigma), "cycle-to-cycle read noise, relative sigma (fraction of G); one read per run, seeded by --seed")
          ("read-noise-sigma-s", num(d.read_noise.absolute_sigma_s), "read noise, absolute sigma [S] (instead of --read-noise-sigma)")
          ("batch-method", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.batch)),
           "auto|direct|effective: effective = exact M x N effective matrix (min(M,N) solves), "
           "used by auto when K > min(M,N) and no --save-voltages")
          ("save-voltages", po::bool_switch(), "also write voltages.npy: every row and column node [V], shape (2, M, N) or (K, 2, M, N)");
    if (sub == "check" || all_keys)
      solver.add_options()("tol", num(d.tol),
                           (all_keys ? "check: largest relative difference accepted on any column current or node "
                                       "voltage; solve: pcg's relative accuracy of the column currents (default " +
                                           xbar::format_number(d.solve.solver.linear.pcg.tol) + ")"
                                     : std::string("largest relative difference accepted on any column current or node voltage"))
                               .c_str());
    all.add(solver);
  }
  if (all_keys) {
    // g-min and g-max already come with the calibrate keys.
    po::options_description prog("Device non-idealities (program)");
    const po::options_description full = program_options(d);
    for (const auto& o : full.options())
      if (o->long_name() != "g-min" && o->long_name() != "g-max") prog.add(o);
    all.add(prog);
    // The NN keys that no other subcommand has (shared names keep one entry).
    po::options_description nn("Neural networks (train, evaluate; program --model)");
    for (const char* sub_nn : {"train", "evaluate"}) {
      const po::options_description keys = nn_options(sub_nn);  // outlives the loop below
      for (const auto& o : keys.options())
        if (!all.find_nothrow(o->long_name(), false) && !nn.find_nothrow(o->long_name(), false)) nn.add(o);
    }
    all.add(nn);
  }
  return all;
}

template <typename T>
bool get_opt(const po::variables_map& vm, const std::string& key, T& out) {
  if (!vm.count(key)) return false;
  out = vm[key].as<T>();
  return true;
}

nlohmann::json config_to_json(const po::options_description& desc, const po::variables_map& vm,
                              const std::set<std::string>& from_cli) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& o : desc.options()) {
    const std::string key = o->long_name();
    if (key == "help" || !vm.count(key)) continue;
    const auto& v = vm[key];
    nlohmann::json val;
    const auto& t = v.value().type();
    if (t == typeid(double)) val = v.as<double>();
    else if (t == typeid(int64_t)) val = v.as<int64_t>();
    else if (t == typeid(uint64_t)) val = v.as<uint64_t>();
    else if (t == typeid(int)) val = v.as<int>();
    else if (t == typeid(bool)) val = v.as<bool>();
    else if (t == typeid(std::string)) val = v.as<std::string>();
    j[key] = {{"value", val},
              {"from", v.defaulted() ? "default" : from_cli.count(key) ? "command line" : "config file"}};
  }
  return j;
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

void fill_calib_config(RunConfig& c, const po::variables_map& vm) {
  xbar::calib::EvaluationOptions& e = c.eval;
  get_opt(vm, "g-min", e.comp.range.g_min_s);
  get_opt(vm, "g-max", e.comp.range.g_max_s);
  std::string s;
  if (get_opt(vm, "scale", s)) {
    if (s == "auto") {
      e.comp.scale_auto = true;
    } else {
      size_t used = 0;
      try {
        e.comp.scale = std::stod(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size()) throw InputError("key scale = '" + s + "': expected a number in (0, 1] or auto");
    }
  }
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
      item = trim(item);
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

RunConfig make_config(const std::string& sub, const po::options_description& desc,
                      const po::variables_map& vm, const std::set<std::string>& from_cli) {
  RunConfig c;
  c.command = sub;
  c.config_json = config_to_json(desc, vm, from_cli);
  auto given = [&](const char* k) { return vm.count(k) && !vm[k].defaulted(); };
  if (sub == "program") {
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
    fill_program_config(c, vm);
    return c;
  }
  c.spec.rows = vm["rows"].as<int64_t>();
  c.spec.cols = vm["cols"].as<int64_t>();
  c.rows_given = given("rows");
  c.cols_given = given("cols");
  get_opt(vm, "deck", c.deck_path);
  get_opt(vm, "g", c.g_path);
  if (!c.deck_path.empty()) {
    // A deck carries its own topology, values and sources: array keys would be ignored.
    std::string clash;
    for (const char* k : {"g", "v", "rows", "cols", "g-on", "g-off", "seed", "v-read", "r-row",
                          "r-col", "row-resistivity", "row-width", "row-thickness", "row-pitch",
                          "col-resistivity", "col-width", "col-thickness", "col-pitch", "r-driver",
                          "r-sense", "drive", "sense", "save-voltages", "batch-method"})
      if (given(k) && !(vm[k].value().type() == typeid(bool) && !vm[k].as<bool>()))
        clash += std::string(clash.empty() ? "--" : ", --") + k;
    if (!clash.empty())
      throw InputError("keys --deck and " + clash + " both given: a deck carries its own "
                       "topology, conductances and sources, so these would be ignored; give "
                       "either --deck or the array keys");
  }
  get_opt(vm, "g-on", c.g_on_s);
  get_opt(vm, "g-off", c.g_off_s);
  int64_t seed = 0;
  if (get_opt(vm, "seed", seed)) {
    if (seed < 0) throw InputError("key seed = " + std::to_string(seed) + ": must be >= 0");
    c.seed = uint64_t(seed);
  }
  get_opt(vm, "v", c.v_path);
  get_opt(vm, "v-read", c.v_read_v);
  get_opt(vm, "cell", c.cell);
  get_opt(vm, "nl-k", c.cell_params.nl_k_per_v);
  get_opt(vm, "sel-i0", c.cell_params.sel_i0_a);
  get_opt(vm, "sel-v0", c.cell_params.sel_v0_v);
  get_opt(vm, "mos-vto", c.cell_params.mos_vto_v);
  get_opt(vm, "mos-kp", c.cell_params.mos_kp_a_per_v2);
  get_opt(vm, "mos-wl", c.cell_params.mos_w_over_l);
  get_opt(vm, "mos-lambda", c.cell_params.mos_lambda_per_v);
  get_opt(vm, "mos-gmin", c.cell_params.mos_gmin_s);
  get_opt(vm, "v-gate", c.cell_params.v_gate_v);
  {
    const std::string gate = vm["gate"].as<std::string>();
    if (gate != "row" && gate != "column")
      throw InputError("key gate = '" + gate + "': expected row or column");
    c.cell_params.gate_per_row = gate == "row";
  }
  xbar::devices::make_cell_model(c.cell, c.cell_params);  // validates name and parameters early
  get_opt(vm, "reltol", c.solve.solver.newton.reltol);
  get_opt(vm, "vntol", c.solve.solver.newton.vntol_v);
  get_opt(vm, "abstol", c.solve.solver.newton.abstol_a);
  get_opt(vm, "max-iterations", c.solve.solver.newton.max_iterations);
  get_opt(vm, "max-step", c.solve.solver.newton.max_step_v);
  c.solve.solver.newton.validate();
  get_opt(vm, "r-row", c.spec.r_row_ohm);
  get_opt(vm, "r-col", c.spec.r_col_ohm);
  c.spec.r_row_given = given("r-row");
  c.spec.r_col_given = given("r-col");
  get_opt(vm, "row-resistivity", c.spec.row_geometry.resistivity_ohm_m);
  get_opt(vm, "row-width", c.spec.row_geometry.width_m);
  get_opt(vm, "row-thickness", c.spec.row_geometry.thickness_m);
  get_opt(vm, "row-pitch", c.spec.row_geometry.pitch_m);
  get_opt(vm, "col-resistivity", c.spec.col_geometry.resistivity_ohm_m);
  get_opt(vm, "col-width", c.spec.col_geometry.width_m);
  get_opt(vm, "col-thickness", c.spec.col_geometry.thickness_m);
  get_opt(vm, "col-pitch", c.spec.col_geometry.pitch_m);
  get_opt(vm, "r-driver", c.spec.r_driver_ohm);
  get_opt(vm, "r-sense", c.spec.r_sense_ohm);
  c.spec.drive = xbar::netlists::parse_drive_side(vm["drive"].as<std::string>());
  c.spec.sense = xbar::netlists::parse_sense_side(vm["sense"].as<std::string>());
  get_opt(vm, "out", c.out);
  get_opt(vm, "quiet", c.quiet);
  get_opt(vm, "save-voltages", c.save_voltages);
  // `tol`: check's comparison tolerance; solve's CG stopping tolerance (pcg).
  get_opt(vm, "tol", sub == "solve" ? c.solve.solver.linear.pcg.tol : c.tol);
  get_opt(vm, "pcg-max-iterations", c.solve.solver.linear.pcg.max_iterations);
  std::string s;
  if (get_opt(vm, "backend", s)) c.solve.solver.backend = xbar::solvers::parse_backend(s);
  if (get_opt(vm, "ordering", s)) c.solve.solver.linear.ordering = xbar::solvers::parse_ordering(s);
  if (get_opt(vm, "batch-method", s)) c.solve.batch = xbar::solvers::parse_batch_method(s);
  get_opt(vm, "dac-bits", c.dac.bits);
  get_opt(vm, "dac-v-min", c.dac.v_min_v);
  get_opt(vm, "dac-v-max", c.dac.v_max_v);
  get_opt(vm, "adc-bits", c.adc.bits);
  get_opt(vm, "adc-i-min", c.adc.i_min_a);
  get_opt(vm, "adc-i-max", c.adc.i_max_a);
  get_opt(vm, "read-noise-sigma", c.read_noise.relative_sigma);
  get_opt(vm, "read-noise-sigma-s", c.read_noise.absolute_sigma_s);
  if (sub == "solve") {
    c.dac.validate();
    c.adc.validate();
    c.read_noise.validate();
  }
  get_opt(vm, "rhs-block", c.solve.solver.linear.rhs_block);
  c.solve.solver.linear.validate();
  if (sub == "calibrate" || sub == "size") fill_calib_config(c, vm);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Neural networks (issue 6): `xbar train`, `xbar evaluate`, `xbar program --model`.
// Array, wire, cell and solver keys are the very options of `solve` / `calibrate` (picked by
// name, so their meaning and help text stay in one place); the keys below are the NN ones.

// The options named in `keys`, taken from another subcommand's description.
po::options_description pick_options(const std::string& title, const po::options_description& from,
                                     std::initializer_list<const char*> keys) {
  po::options_description r(title);
  for (const char* k : keys)
    for (const auto& o : from.options())
      if (o->long_name() == k) r.add(o);
  return r;
}

// sub: train, evaluate, or program (the keys `program --model` adds to `program`, without
// defaults so that a plain `program` run records none of them).
po::options_description nn_options(const std::string& sub) {
  const xbar::engine::nn::TrainOptions td;
  const xbar::engine::commands::EvaluateOptions ed;
  const xbar::engine::nn::HardwareOptions& hd = ed.hw;
  const bool program = sub == "program";
  auto num = [&](double v) {
    return program ? po::value<double>() : po::value<double>()->default_value(v, xbar::format_number(v));
  };
  auto i64 = [&](int64_t v) { return program ? po::value<int64_t>() : po::value<int64_t>()->default_value(v); };
  auto int_ = [&](int v) { return program ? po::value<int>() : po::value<int>()->default_value(v); };
  auto str = [&](const std::string& v) { return program ? po::value<std::string>() : po::value<std::string>()->default_value(v); };
  auto flag = [&](bool v) {
    return program ? po::value<bool>() : po::value<bool>()->default_value(v, v ? "true" : "false");
  };
  const po::options_description solve_keys = make_options("solve");
  const po::options_description calib_keys = make_options("calibrate");
  po::options_description all;

  po::options_description general("General");
  if (!program)
    general.add_options()
        ("help", "print this help and exit")
        ("config", po::value<std::string>(), "INI file with any of these keys (`key = value`)")
        ("out", po::value<std::string>(), sub == "train" ? "output directory: model.pt, train.json (required)"
                                                         : "output directory: accuracy.json (required)")
        ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout")
        ("seed", po::value<int64_t>()->default_value(int64_t(td.seed)),
         sub == "train" ? "seed of the weight initialisation, the shuffling and every HAT draw (>= 0)"
                        : "seed of every tile's programming draws and of the read noise (>= 0)")
        ("data-dir", po::value<std::string>()->default_value(td.data_dir),
         "Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)");
  general.add_options()("threads", int_(td.threads),
                        sub == "train" ? "libtorch intra-op threads (fixed for reproducibility)"
                                       : "threads: libtorch (software accuracy) and hardware batches");
  all.add(general);

  if (sub == "train") {
    po::options_description t("Training");
    t.add_options()
        ("model", po::value<std::string>()->default_value(xbar::engine::nn::to_string(td.architecture)),
         "architecture: mlp (784-256-128-10) | cnn (LeNet-5-like, convolutions lowered by im2col)")
        ("hat", po::bool_switch(), "hardware-aware training: inject the non-idealities below in every forward pass")
        ("epochs", po::value<int>()->default_value(td.epochs), "passes over the training images")
        ("batch-size", po::value<int64_t>()->default_value(td.batch_size), "images per optimiser step")
        ("lr", po::value<double>()->default_value(td.learning_rate, xbar::format_number(td.learning_rate)),
         "Adam learning rate")
        ("train-subset", po::value<int64_t>()->default_value(td.train_subset), "first N training images; 0 = all 60,000")
        ("subset", po::value<int64_t>()->default_value(td.test_subset), "first N test images for the reported accuracy; 0 = all 10,000")
        ("init", po::value<std::string>(), "start from this model.pt (same architecture), e.g. HAT fine-tuning of a plain model");
    all.add(t);
    const xbar::engine::nn::HatOptions h;
    po::options_description hat("Hardware-aware training (--hat): the non-idealities injected (same keys as evaluate)");
    hat.add_options()
        ("g-min", num(h.g_min_s), "device window low end [S] (only g-min / g-max matters)")
        ("g-max", num(h.g_max_s), "device window high end [S]")
        ("levels", i64(h.levels), "uniform conductance levels; 0 = continuous")
        ("variation", str(h.variation), "programming variation: none|gaussian|lognormal")
        ("variation-sigma", num(h.variation_sigma), "relative programming sigma")
        ("stuck-on-rate", num(h.stuck_on_rate), "fraction of cells stuck at g-max")
        ("stuck-off-rate", num(h.stuck_off_rate), "fraction of cells stuck at g-min")
        ("read-noise-sigma", num(h.read_noise_sigma), "relative read noise sigma")
        ("defect-aware", flag(h.defect_aware), "stuck cells as the hardware's defect-aware pairs see them (evaluate --defect-aware)")
        ("dac-bits", int_(h.dac_bits), "DAC bits of the layer inputs; 0 = unlimited")
        ("adc-bits", int_(h.adc_bits), "ADC bits of each tile's partial sums; 0 = unlimited")
        ("tile-rows", i64(h.tile_rows), "inputs per crossbar tile (the ADC sees partial sums of this many rows)");
    all.add(hat);
    return all;
  }

  po::options_description e(program ? "Neural network (program --model)" : "Model and data");
  e.add_options()("model", po::value<std::string>(),
                  program ? "program the crossbar tiles of this model.pt instead of a conductance matrix"
                          : "the model to evaluate, DIR/model.pt from `xbar train` (required)");
  if (!program)
    e.add_options()
        ("hat-model", po::value<std::string>(),
         "a hardware-aware trained model.pt (same architecture): its compensated accuracy is `hat`")
        ("subset", po::value<int64_t>(), "first N test images (default: all 10,000; nonlinear cells: 100)")
        ("calib-images", po::value<int64_t>()->default_value(ed.calib_images),
         "training images that set the DAC full scale per layer and the ADC range per tile");
  e.add_options()
      ("compensate", flag(ed.compensate),
       program ? "apply the IR-drop compensation map before programming (default true)"
               : "also evaluate with the IR-drop compensation map applied before programming")
      ("tile-details", flag(ed.tile_details), "per-tile entries in the JSON output")
      ("defect-aware", flag(hd.defect_aware),
       "differential pairs: reprogram the healthy partner of a stuck cell (known from write-verify) so the "
       "pair keeps its difference");
  all.add(e);

  po::options_description m("Mapping, DAC and ADC");
  m.add_options()
      ("tile-rows", i64(hd.mapping.tile_rows), "crossbar tile rows (inputs); edge tiles are smaller")
      ("tile-cols", i64(hd.mapping.tile_cols), "crossbar tile columns (bit lines)")
      ("weight-encoding", str(xbar::engine::nn::to_string(hd.mapping.encoding)),
       "differential (G+/G- column pairs) | offset (one column per weight + a reference column per tile)")
      ("v-read", num(hd.v_read_v), "DAC full scale [V]: the largest layer input drives this voltage")
      ("dac-bits", int_(hd.dac_bits), "DAC resolution of the row voltages over [0, v-read]; 0 = unlimited")
      ("adc-bits", int_(hd.adc_bits), "ADC resolution of each signed output current; 0 = unlimited")
      ("adc-i-max", num(hd.adc_i_max_a), "ADC range +-this [A]; 0 = per tile, largest current on the calibration images")
      ("read-noise-sigma", num(hd.read_noise.relative_sigma), "cycle-to-cycle read noise, relative sigma, fresh every read");
  all.add(m);
  if (!program) {
    // `program` has these already (program_options): device window and programming stages.
    const RunConfig rd;
    all.add(program_options(rd));
  }
  all.add(pick_options("Wires, drivers and sensing (per tile)", solve_keys,
                       {"r-row", "r-col", "r-driver", "r-sense", "drive", "sense"}));
  all.add(pick_options("Cells and solver", solve_keys,
                       {"cell", "nl-k", "sel-i0", "sel-v0", "mos-vto", "mos-kp", "mos-wl", "mos-lambda", "mos-gmin",
                        "v-gate", "gate", "backend", "reltol", "vntol", "abstol", "max-iterations", "max-step"}));
  all.add(pick_options("Compensation", calib_keys, {"comp-tol", "comp-max-iterations"}));
  return all;
}

// `program` without --model: the NN-only keys would be ignored, so they are an error.
void reject_nn_keys_without_model(const po::variables_map& vm) {
  const po::options_description keys = nn_options("program");
  for (const auto& o : keys.options()) {
    const std::string k = o->long_name();
    if (vm.count(k) && !vm[k].defaulted())
      throw InputError("key " + k + ": only with --model (programming a network's tiles); a plain `program` "
                       "programs the conductance matrix of --g or a random one");
  }
}

xbar::engine::commands::NnRunConfig make_nn_config(const std::string& sub, const po::options_description& desc,
                                         const po::variables_map& vm, const std::set<std::string>& from_cli) {
  xbar::engine::commands::NnRunConfig c;
  c.command = sub;
  c.config_json = config_to_json(desc, vm, from_cli);
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0) throw InputError("key seed = " + std::to_string(seed) + ": must be >= 0");
  std::string out, s;
  get_opt(vm, "out", out);
  const bool quiet = vm["quiet"].as<bool>();
  if (sub == "train") {
    xbar::engine::nn::TrainOptions& t = c.train;
    t.architecture = xbar::engine::nn::parse_architecture(vm["model"].as<std::string>());
    t.seed = uint64_t(seed);
    t.out = out;
    t.quiet = quiet;
    get_opt(vm, "data-dir", t.data_dir);
    get_opt(vm, "threads", t.threads);
    get_opt(vm, "epochs", t.epochs);
    get_opt(vm, "batch-size", t.batch_size);
    get_opt(vm, "lr", t.learning_rate);
    get_opt(vm, "train-subset", t.train_subset);
    get_opt(vm, "subset", t.test_subset);
    get_opt(vm, "init", t.init_path);
    xbar::engine::nn::HatOptions& h = t.hat;
    h.enabled = vm["hat"].as<bool>();
    get_opt(vm, "g-min", h.g_min_s);
    get_opt(vm, "g-max", h.g_max_s);
    get_opt(vm, "levels", h.levels);
    get_opt(vm, "variation", h.variation);
    get_opt(vm, "variation-sigma", h.variation_sigma);
    get_opt(vm, "stuck-on-rate", h.stuck_on_rate);
    get_opt(vm, "stuck-off-rate", h.stuck_off_rate);
    get_opt(vm, "read-noise-sigma", h.read_noise_sigma);
    get_opt(vm, "defect-aware", h.defect_aware);
    get_opt(vm, "dac-bits", h.dac_bits);
    get_opt(vm, "adc-bits", h.adc_bits);
    get_opt(vm, "tile-rows", h.tile_rows);
    if (!h.enabled)
      for (const char* k : {"levels", "variation", "variation-sigma", "stuck-on-rate", "stuck-off-rate",
                            "read-noise-sigma", "defect-aware", "dac-bits", "adc-bits"})
        if (vm.count(k) && !vm[k].defaulted())
          throw InputError(std::string("key ") + k + ": a non-ideality to inject needs --hat (hardware-aware training)");
    t.validate();
    return c;
  }
  xbar::engine::commands::EvaluateOptions& e = c.eval;
  xbar::engine::nn::HardwareOptions& h = e.hw;
  e.out = out;
  e.quiet = quiet;
  h.seed = uint64_t(seed);
  get_opt(vm, "model", e.model_path);
  get_opt(vm, "hat-model", e.hat_model_path);
  get_opt(vm, "data-dir", e.data_dir);
  e.subset_given = get_opt(vm, "subset", e.subset);
  get_opt(vm, "calib-images", e.calib_images);
  get_opt(vm, "compensate", e.compensate);
  get_opt(vm, "tile-details", e.tile_details);
  get_opt(vm, "defect-aware", h.defect_aware);
  get_opt(vm, "threads", h.threads);
  get_opt(vm, "tile-rows", h.mapping.tile_rows);
  get_opt(vm, "tile-cols", h.mapping.tile_cols);
  if (get_opt(vm, "weight-encoding", s)) h.mapping.encoding = xbar::engine::nn::parse_weight_encoding(s);
  get_opt(vm, "v-read", h.v_read_v);
  get_opt(vm, "dac-bits", h.dac_bits);
  get_opt(vm, "adc-bits", h.adc_bits);
  get_opt(vm, "adc-i-max", h.adc_i_max_a);
  get_opt(vm, "read-noise-sigma", h.read_noise.relative_sigma);
  {
    // The device window and the programming stages, parsed as `program` parses them.
    RunConfig p;
    fill_program_config(p, vm);
    h.programming = p.programming;
    h.mapping.range = p.programming.range;
    if (!p.level_table_path.empty()) {
      h.programming.levels.table_s = devices::read_level_table(p.level_table_path);
      h.programming.levels.table_source = p.level_table_path;
    }
    if (!p.stuck_mask_path.empty())
      throw InputError("key stuck-mask: a defect map describes one array; the network's tiles draw their defects "
                       "from --stuck-on-rate / --stuck-off-rate");
  }
  get_opt(vm, "r-row", h.wires.r_row_ohm);
  get_opt(vm, "r-col", h.wires.r_col_ohm);
  get_opt(vm, "r-driver", h.wires.r_driver_ohm);
  get_opt(vm, "r-sense", h.wires.r_sense_ohm);
  h.wires.drive = xbar::netlists::parse_drive_side(vm["drive"].as<std::string>());
  h.wires.sense = xbar::netlists::parse_sense_side(vm["sense"].as<std::string>());
  get_opt(vm, "cell", h.cell);
  get_opt(vm, "nl-k", h.cell_params.nl_k_per_v);
  get_opt(vm, "sel-i0", h.cell_params.sel_i0_a);
  get_opt(vm, "sel-v0", h.cell_params.sel_v0_v);
  get_opt(vm, "mos-vto", h.cell_params.mos_vto_v);
  get_opt(vm, "mos-kp", h.cell_params.mos_kp_a_per_v2);
  get_opt(vm, "mos-wl", h.cell_params.mos_w_over_l);
  get_opt(vm, "mos-lambda", h.cell_params.mos_lambda_per_v);
  get_opt(vm, "mos-gmin", h.cell_params.mos_gmin_s);
  get_opt(vm, "v-gate", h.cell_params.v_gate_v);
  if (get_opt(vm, "gate", s)) {
    if (s != "row" && s != "column") throw InputError("key gate = '" + s + "': expected row or column");
    h.cell_params.gate_per_row = s == "row";
  }
  if (get_opt(vm, "backend", s)) h.solver.backend = xbar::solvers::parse_backend(s);
  get_opt(vm, "reltol", h.solver.newton.reltol);
  get_opt(vm, "vntol", h.solver.newton.vntol_v);
  get_opt(vm, "abstol", h.solver.newton.abstol_a);
  get_opt(vm, "max-iterations", h.solver.newton.max_iterations);
  get_opt(vm, "max-step", h.solver.newton.max_step_v);
  get_opt(vm, "comp-tol", h.comp.tol);
  get_opt(vm, "comp-max-iterations", h.comp.max_iterations);
  if (sub == "program") {
    for (const char* k : {"g", "g-on", "g-off", "rows", "cols"})
      if (vm.count(k) && !vm[k].defaulted())
        throw InputError(std::string("keys --model and --") + k + " both given: with --model the targets are the "
                         "network's weights, mapped onto tiles");
    h.validate();
  } else {
    e.validate();
  }
  return c;
}
// ---------------------------------------------------------------------------------------------

// Everything after the keys are stored: the configuration of `sub` and its run (none when
// dry_run: the sweep checks every point this way before it runs any).
int run_parsed(const std::string& sub, const po::options_description& desc, const po::variables_map& vm,
               const std::set<std::string>& from_cli, bool dry_run) {
  if (sub == "train" || sub == "evaluate" || (sub == "program" && vm.count("model"))) {
    const xbar::engine::commands::NnRunConfig nn = make_nn_config(sub, desc, vm, from_cli);
    if (dry_run) return 0;
    if (sub == "train") return xbar::engine::commands::run_train(nn);
    if (sub == "evaluate") return xbar::engine::commands::run_evaluate(nn);
    return xbar::engine::commands::run_program_model(nn);
  }
  RunConfig cfg = make_config(sub, desc, vm, from_cli);
  if (sub == "program") {
    // A plain `program` takes none of the network keys; they are not part of its configuration.
    reject_nn_keys_without_model(vm);
    const po::options_description keys = nn_options("program");
    for (const auto& o : keys.options()) cfg.config_json.erase(o->long_name());
  }
  if (dry_run) return 0;
  if (sub == "program") return xbar::engine::commands::run_program(cfg);
  if (sub == "calibrate") return xbar::engine::commands::run_calibrate(cfg);
  if (sub == "size") return xbar::engine::commands::run_size(cfg);
  if (sub == "netlist") return xbar::engine::commands::run_netlist(cfg);
  if (sub == "solve") return xbar::engine::commands::run_solve(cfg);
  return xbar::engine::commands::run_check(cfg);
}

// `xbar sweep`: the sweep module (engine/sweep/sweep_runner.h) gets the subcommands through these two
// hooks, so Boost stays in this file: a point's keys are parsed exactly as `xbar SUB --config`
// parses an INI file (store_value, then run_parsed) and run in-process.
xbar::engine::sweep::SweepHooks sweep_hooks() {
  xbar::engine::sweep::SweepHooks h;
  h.check_key = [](const std::string& sub, const std::string& key) -> std::string {
    bool known = false;
    for (const auto& s : kSubcommands) known = known || sub == s[0];
    if (!known || sub == "sweep") return "command '" + sub + "' is not a subcommand of this xbar";
    if (make_options(sub).find_nothrow(key, false)) return "";
    return "unknown key '" + key + "' for " + sub + " (see `xbar " + sub + " --help` for its keys)";
  };
  h.run = [](const std::string& sub, const std::vector<xbar::engine::sweep::PointKey>& keys, bool dry_run) {
    const po::options_description desc = make_options(sub);
    po::variables_map vm;
    for (const auto& k : keys) store_value(desc, vm, k.key, k.value, k.where + ": ");
    po::notify(vm);
    return run_parsed(sub, desc, vm, {}, dry_run);
  };
  return h;
}

int run_sweep_command(int argc, char** argv) {
  po::options_description desc("xbar sweep");
  desc.add_options()
      ("help", "print this help and exit")
      ("config", po::value<std::string>(), "the sweep INI (grammar below) (required)")
      ("out", po::value<std::string>(), "output directory DIR: sweep.csv, sweep.json, points/ID/ (required)")
      ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout")
      ("retry-failed", po::bool_switch(), "run again the points recorded as failed")
      ("dry-run", po::bool_switch(), "print the points (id, seed, swept keys) as CSV and stop");
  po::variables_map vm;
  try {
    const auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_short;
    po::store(po::command_line_parser(argc - 1, argv + 1).options(desc).style(style).run(), vm);
  } catch (const po::error& e) {
    std::string user_text;  // everything Boost may quote in its message (engine/cli/cli_ini.h)
    for (int k = 1; k < argc; ++k) user_text += std::string(argv[k]) + "\n";
    throw InputError(xbar::engine::cli::describe_option_error(desc, e, user_text) +
                     " (see xbar sweep --help)");
  }
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: xbar sweep --config SWEEP.ini --out DIR [--quiet] [--retry-failed] [--dry-run]\n"
                 "       mpirun -np K xbar sweep --config SWEEP.ini --out DIR\n"
              << desc << "\n"
              << "Sweep INI: `key = value` lines of any key of the subcommand (sections ignored, # ; comments).\n"
                 "A value is a comma-separated list; each item is a value, a range start:step:stop (stop\n"
                 "included, robust to rounding: 0.5:0.5:3), an integer range a..b (1..5), or \"a,b\" quoted\n"
                 "(one value holding commas, e.g. sizes = \"16,32,64\"). A key with several values is an axis;\n"
                 "the grid is the Cartesian product of the axes (file order, the last varies fastest).\n"
                 "Keys of the sweep itself:\n"
                 "  command = " << xbar::engine::sweep::sweep_command_names() << "   subcommand of every point (required)\n"
                 "  zip = rows, cols          these keys vary together: one axis (lists of equal length)\n"
                 "  sweep-seed = N            without a `seed` key, point seeds derive from N and the point\n"
                 "  sweep-threads = N         OpenMP/OpenBLAS threads of every point (default 1), in one\n"
                 "                            process or under mpirun alike, so results do not depend on the\n"
                 "                            number of ranks (the thread count changes CHOLMOD's rounding)\n"
                 "  max-increase.METRIC = X   nightly check: worse when METRIC rose by > X (or X%)\n"
                 "  max-decrease.METRIC = X   ... fell by > X (or X%)\n"
                 "Each point runs in this process with --out DIR/points/ID and becomes one row of\n"
                 "DIR/sweep.csv (id, swept keys, command, seed, status, exit_code, metrics, error,\n"
                 "version, time_s, finished_utc) and DIR/points/ID/point.json. Re-running the same\n"
                 "command resumes: finished points are skipped. Under mpirun, rank 0 hands points\n"
                 "to the ranks as they ask and writes DIR. Exit: 0 all points ok, "
              << xbar::engine::sweep::kExitPointsFailed << " some failed (see\n"
                 "their rows), 2 bad sweep INI or options.\n";
    return 0;
  }
  xbar::engine::sweep::SweepOptions o;
  if (vm.count("config")) o.config_path = vm["config"].as<std::string>();
  if (vm.count("out")) o.out_dir = vm["out"].as<std::string>();
  o.quiet = vm["quiet"].as<bool>();
  o.retry_failed = vm["retry-failed"].as<bool>();
  o.dry_run = vm["dry-run"].as<bool>();
  return xbar::engine::sweep::run_sweep(o, sweep_hooks());
}

int run(int argc, char** argv) {
  xbar::engine::cli::require_utf8_arguments(argc, argv);  // they all go into the JSON results
  if (argc < 2) {
    print_general_help(std::cerr);
    return 2;
  }
  const std::string sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    print_general_help(std::cout);
    std::cout << "\nAll keys (`xbar SUBCOMMAND --help` shows which ones a subcommand takes):\n"
              << make_options("all") << "\n";
    return 0;
  }
  if (sub == "--version") {
    std::cout << "xbar " << XBAR_VERSION << "\n";
    return 0;
  }
  bool known = false;
  for (const auto& s : kSubcommands) known = known || sub == s[0];
  if (!known)
    throw InputError("unknown subcommand '" + sub + "' (expected netlist, solve, check, program, calibrate, size, train, evaluate or sweep; see xbar --help)");

  if (sub == "sweep") return run_sweep_command(argc, argv);
  const po::options_description desc = make_options(sub);
  po::variables_map vm;
  std::set<std::string> from_cli;
  try {
    // No short options: "-0.2" must read as a negative value, not as an option "-0".
    const auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_short;
    po::parsed_options parsed = po::command_line_parser(argc - 1, argv + 1).options(desc).style(style).run();
    for (const auto& o : parsed.options) from_cli.insert(o.string_key);
    po::store(parsed, vm);
  } catch (const po::error& e) {
    std::string user_text;  // everything Boost may quote in its message
    for (int k = 1; k < argc; ++k) user_text += std::string(argv[k]) + "\n";
    throw InputError(xbar::engine::cli::describe_option_error(desc, e, user_text) + " (see xbar " +
                     sub + " --help)");
  }
  if (vm.count("help")) {
    std::cout << "usage: xbar " << sub << " [--config FILE.ini] [--key value ...]\n" << desc << "\n";
    return 0;
  }
  if (vm.count("config")) store_ini(vm["config"].as<std::string>(), desc, vm);
  po::notify(vm);
  return run_parsed(sub, desc, vm, from_cli, false);
}

// glibc hands every block of 32 MiB or more to mmap and gives it back on free, and trims the
// heap top above 128 KiB. The solvers allocate and free the same large blocks over and over (a
// 128 x 128 compensation iteration: right-hand sides, solutions and residuals of 2MN x M
// doubles, 32 MiB each), so every iteration paid for fresh zeroed pages: 17% of a 128 x 128
// calibrate was page faults (0.68 s system time of 4.08 s), and two sweep ranks faulting side
// by side slowed each other down. Blocks up to 256 MiB now come from the heap and are reused,
// and up to 256 MiB of freed memory stays mapped (4.08 s -> 3.44 s, 0.13 s system; peak RSS
// unchanged). Larger blocks (PCG vectors beyond 4096^2) still go to mmap.
void keep_large_blocks() {
#if defined(__GLIBC__)
  constexpr int kBytes = 256 << 20;
  mallopt(M_MMAP_THRESHOLD, kBytes);
  mallopt(M_TRIM_THRESHOLD, kBytes);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_large_blocks();
  const std::string sub = argc > 1 ? std::string(" ") + argv[1] : "";
  try {
    return run(argc, argv);
  } catch (const InputError& e) {
    std::cerr << "xbar" << sub << ": error: " << e.what() << "\n";
    return 2;
  } catch (const xbar::NumericalError& e) {
    std::cerr << "xbar" << sub << ": numerical failure: " << e.what() << "\n";
    return 4;
  } catch (const std::bad_alloc&) {
    std::cerr << "xbar" << sub << ": out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "xbar" << sub << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
