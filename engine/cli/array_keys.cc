#include "engine/cli/array_keys.h"

#include <cstdint>
#include <string>
#include <vector>

#include "devices/registry.h"
#include "engine/commands/preflight.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_solver.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::cli {

using commands::RunConfig;

po::options_description general_keys(const std::string& sub) {
  po::options_description general("General");
  general.add_options()
      ("help", "print this help and exit")
      ("config", po::value<std::string>(), "INI file with any of these keys (`key = value`)")
      ("out", po::value<std::string>(),
       sub == "netlist" ? "output SPICE deck path (.cir), written atomically (required)"
                        : "output directory (created if missing; files replaced atomically) (required)")
      ("quiet", po::bool_switch(), "no progress on stderr and no summary on stdout")
      ("max-memory", po::value<std::string>()->default_value("auto"),
       "refuse a run whose memory estimate (its arrays, a lower bound) exceeds this many bytes: "
       "auto (this machine's memory) or e.g. 8G, 512M, 2e9");
  return general;
}

po::options_description array_keys(const RunConfig& d) {
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
      ("v-gate", num(d.cell_params.v_gate_v), "1t1r and flash: gate (word-line) voltage [V]")
      ("gate", po::value<std::string>()->default_value(xbar::devices::to_string(d.cell_params.gate_layout())),
       "1t1r and flash: gates driven per row|column|global (global: one line for the array, flash only)")
      ("flash-beta", num(d.cell_params.flash_beta_a_per_v2), "flash cell: EKV current factor beta = mu C_ox W/L [A/V^2]")
      ("flash-n", num(d.cell_params.flash_n), "flash cell: subthreshold slope factor n")
      ("temperature", num(d.cell_params.temperature_k), "flash cell: temperature T, thermal voltage kT/q [K]")
      ("vth", po::value<std::string>(),
       "flash cell: thresholds V_th, M x N volts, .npy (instead of --g, whose values are "
       "conductance-equivalent targets programmed by program-verify)")
      ("v-gate-lines", po::value<std::string>(),
       "flash cell: one gate voltage per gate line [V], .npy of M (gate row), N (column) or 1 (global) "
       "entries (instead of --v-gate)");
  return array;
}

po::options_description wire_keys(const RunConfig& d) {
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
  return wires;
}

po::options_description solver_keys(const std::string& sub, const RunConfig& d) {
  const bool all_keys = sub == "all";
  po::options_description solver("Solver");
  solver.add_options()
      ("deck", po::value<std::string>(),
       "SPICE deck (R, V, I elements) to solve instead of a generated crossbar; writes "
       "node_voltages.npy and source_currents.npy (excludes --g and --v)")
      ("backend", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.backend)),
       sub == "check" ? "native back end compared with ngspice: auto|native|cholmod|eigen|klu|pcg"
      : all_keys     ? "auto (pcg from 2x128x128 unknowns, else native)|native (SPD: Eigen's simplicial "
                       "LDL' up to 2x256x256 unknowns, CHOLMOD above; else KLU)|cholmod|eigen|klu|pcg "
                       "(line-preconditioned conjugate gradients)|ngspice "
                       "(check: the native one compared with ngspice)"
                     : "auto (pcg from 2x128x128 unknowns, else native)|native (SPD: Eigen's simplicial "
                       "LDL' up to 2x256x256 unknowns, CHOLMOD above; else KLU)|cholmod|eigen|klu|pcg "
                       "(line-preconditioned conjugate gradients)|ngspice")
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
        ("save-voltages", po::bool_switch(), "also write voltages.npy: every row and column node [V], shape (2, M, N) or (K, 2, M, N)")
        ("save-regions", po::bool_switch(),
         "flash cell: also write regions.npy, each cell's operating region per input, uint8 (K, M, N) "
         "(names and counts in result.json)");
  if (sub == "check" || all_keys)
    solver.add_options()("tol", num(d.tol),
                         (all_keys ? "check: largest relative difference accepted on any column current or node "
                                     "voltage; solve: pcg's relative accuracy of the column currents (default " +
                                         xbar::format_number(d.solve.solver.linear.pcg.tol) + ")"
                                   : std::string("largest relative difference accepted on any column current or node voltage"))
                             .c_str());
  return solver;
}

RunConfig make_array_config(const std::string& sub, const po::options_description& desc,
                            const po::variables_map& vm, const std::set<std::string>& from_cli) {
  RunConfig c;
  c.command = sub;
  c.config_json = config_to_json(desc, vm, from_cli);
  auto given = [&](const char* k) { return vm.count(k) && !vm[k].defaulted(); };
  c.spec.rows = vm["rows"].as<int64_t>();
  c.spec.cols = vm["cols"].as<int64_t>();
  c.rows_given = given("rows");
  c.cols_given = given("cols");
  get_opt(vm, "deck", c.deck_path);
  get_opt(vm, "g", c.g_path);
  if (!c.deck_path.empty()) {
    // A deck carries its own topology, values and sources: the array, cell and wire keys would
    // be ignored, and so would the read-out of the array's columns (DAC, ADC, read noise), so
    // they are refused rather than recorded as if applied (issue 17). The array and wire keys
    // are taken from their tables, so that a key added there is covered too.
    const RunConfig d;
    std::vector<std::string> ignored = {"save-voltages", "batch-method", "dac-bits", "dac-v-min", "dac-v-max",
                                        "adc-bits", "adc-i-min", "adc-i-max", "read-noise-sigma",
                                        "read-noise-sigma-s"};
    const po::options_description array = array_keys(d), wires = wire_keys(d);
    for (const auto* table : {&array, &wires})
      for (const auto& o : table->options()) ignored.push_back(o->long_name());
    std::string clash;
    for (const std::string& k : ignored)
      if (given(k.c_str()) && !(vm[k].value().type() == typeid(bool) && !vm[k].as<bool>()))
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
  c.cell_params.set_gate_layout(xbar::devices::parse_gate_layout(vm["gate"].as<std::string>()));
  get_opt(vm, "flash-beta", c.cell_params.flash_beta_a_per_v2);
  get_opt(vm, "flash-n", c.cell_params.flash_n);
  get_opt(vm, "temperature", c.cell_params.temperature_k);
  get_opt(vm, "vth", c.vth_path);
  get_opt(vm, "v-gate-lines", c.v_gate_lines_path);
  xbar::devices::make_cell_model(c.cell, c.cell_params);  // validates name and parameters early
  if (c.cell != "flash") {
    // Keys only a flash cell has: silently ignoring them would solve another array than asked.
    if (!c.vth_path.empty())
      throw InputError("key vth: thresholds are the per-cell values of the flash cell only (cell = " + c.cell +
                       "; give --cell flash, or --g conductances)");
    if (!c.v_gate_lines_path.empty())
      throw InputError("key v-gate-lines: only the flash cell has per-line gate voltages (cell = " + c.cell + ")");
  }
  if (!c.vth_path.empty() && (given("g") || given("g-on") || given("g-off")))
    throw InputError("keys --vth and --" + std::string(given("g") ? "g" : given("g-on") ? "g-on" : "g-off") +
                     " both given: --vth sets the thresholds themselves, --g (or a random array) the "
                     "targets program-verify programs into thresholds; give one");
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
  std::string memory;
  if (get_opt(vm, "max-memory", memory)) c.max_memory_bytes = commands::parse_memory_size(memory);
  get_opt(vm, "save-voltages", c.save_voltages);
  get_opt(vm, "save-regions", c.save_regions);
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
  return c;
}

}  // namespace xbar::engine::cli
