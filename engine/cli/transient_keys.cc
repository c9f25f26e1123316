#include "engine/cli/transient_keys.h"

#include <cstdint>
#include <string>

#include "solvers/settling.h"
#include "solvers/transient.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::cli {

using commands::RunConfig;

po::options_description capacitance_keys(const RunConfig& d) {
  po::options_description c("Capacitance (transient analysis; a DC solve ignores it)");
  c.add_options()
      ("c-row", num(d.spec.c_row_f), "capacitance to ground at every row (word-line) node r(i,j) [F], >= 0")
      ("c-col", num(d.spec.c_col_f), "capacitance to ground at every column (bit-line) node c(i,j) [F], >= 0");
  return c;
}

po::options_description transient_keys(const std::string& sub, const RunConfig& d) {
  const xbar::solvers::CrossbarTransientOptions& td = d.transient;
  const xbar::solvers::TransientOptions& t = td.transient;
  if (sub == "netlist") {
    po::options_description n("Transient deck (with --t-stop: PWL row steps from 0 V at t = 0 and .tran)");
    n.add_options()
        ("t-stop", po::value<double>(), "end of the .tran analysis [s], > 0; without it the deck is a DC one (.op)")
        ("time-step", num(t.time_step_s), "with --t-stop: .tran TSTEP and TMAX [s], in (0, t-stop]; 0 = TSTEP t-stop/1000, TMAX ngspice's default")
        ("t-rise", num(t.t_rise_s), "with --t-stop: rise time of the row steps [s], in [0, t-stop); 0 = an ideal step, "
                                    "written as a ramp of 1e-3 time-step (or 1e-6 t-stop)");
    return n;
  }
  po::options_description tr(sub == "check" ? "Transient (with --transient)" : "Transient analysis");
  tr.add_options()
      ("t-stop", num(t.t_stop_s), "end of the analysis [s], > 0; every row steps from 0 V to its input at t = 0")
      ("time-step", num(t.time_step_s), "fixed step [s], in (0, t-stop]; 0 = adaptive steps under --lte-tol")
      ("t-rise", num(t.t_rise_s), "rise time of the input steps [s], in [0, t-stop); 0 = an ideal step")
      ("integrator", po::value<std::string>()->default_value(xbar::solvers::to_string(t.method)),
       "trbdf2 (TR-BDF2: second order, L-stable, one factorization per step size) | be (backward Euler, first order)")
      ("lte-tol", num(t.lte_tol), "adaptive steps: local error per step, fraction of the outputs' full scale, in (0, 0.1] "
                                  "(the global error is ~5-40x this)")
      ("max-steps", po::value<int64_t>()->default_value(t.max_steps), "most steps, accepted and rejected (bounds time and memory: T x N outputs)");
  if (sub != "check")  // check keeps the default (and its help's layout)
    tr.add_options()("max-cached-factorizations", po::value<int>()->default_value(t.max_cached_factorizations),
                     "factorizations kept at once, one per step size (each costs the factor's nonzeros)");
  tr.add_options()
      ("settle-tol", num(td.settle_tol), "settling band around each column's final (DC) current, fraction of full scale, "
                                         "in [0, 1); 0 = half an LSB of an --error-adc-bits ADC")
      ("error-adc-bits", po::value<int>()->default_value(td.error_adc_bits), "bits of the ADC whose half LSB is the default settling band, in [1, 24]")
      ("full-scale", num(td.full_scale_a), "full scale of the band [A]; 0 = the largest ideal column current with "
                                           "every row at the input's largest |voltage|");
  return tr;
}

po::options_description transient_check_keys(const RunConfig& d) {
  const commands::TransientCheckOptions& k = d.check_transient;
  po::options_description c("Transient check (ngspice .tran as the referee)");
  c.add_options()
      ("transient", po::bool_switch(), "compare the transient instead of the DC solve: ngspice .tran on the same deck "
                                       "(capacitors, PWL row steps) against the native integration; exit 3 past any tolerance")
      ("waveform-tol", num(k.waveform_tol), "--transient: largest column-current difference at the native time points, fraction of full scale")
      ("settle-steps-tol", num(k.settle_steps_tol), "--transient: largest settling-time difference of any column, in native steps")
      ("energy-tol", num(k.energy_tol), "--transient: largest relative difference of the energy drawn from the row inputs")
      // No default shown inline: the string is wider than the help's key column.
      ("ngspice-options", po::value<std::string>(),
       ("--transient: ngspice's .options (method and tolerances), default '" + k.referee.ngspice_options +
        "' (its own defaults, reltol 1e-3 trtol 7, are far looser); .tran costs ngspice ~0.4 s per time point at 64x64")
           .c_str())
      ("ngspice-tmax", num(k.referee.t_max_s), "--transient: ngspice's largest step TMAX [s]; 0 = the native fixed --time-step, "
                                               "or ngspice's default for adaptive native steps");
  return c;
}

po::options_description transient_solver_keys(const RunConfig& d) {
  po::options_description s("Solver");
  s.add_options()
      ("backend", po::value<std::string>()->default_value(xbar::solvers::to_string(d.transient.transient.backend)),
       "linear solver of each step's shifted system: auto (pcg where its line preconditioner applies, else "
       "CHOLMOD or KLU)|native (CHOLMOD when SPD, else KLU)|cholmod|klu|pcg")
      ("ordering", po::value<std::string>()->default_value(xbar::solvers::to_string(d.solve.solver.linear.ordering)),
       "fill-reducing ordering: auto (geometric nested dissection on crossbar grids)|geometric|amd|metis|nesdis")
      ("reltol", num(d.solve.solver.newton.reltol), "Newton (nonlinear cells, every stage): relative tolerance")
      ("vntol", num(d.solve.solver.newton.vntol_v), "Newton: absolute node-voltage tolerance [V]")
      ("abstol", num(d.solve.solver.newton.abstol_a), "Newton: absolute KCL residual tolerance [A]")
      ("max-iterations", po::value<int>()->default_value(d.solve.solver.newton.max_iterations), "Newton: iterations per stage")
      ("max-step", num(d.solve.solver.newton.max_step_v), "Newton: largest node-voltage change per iteration [V]");
  return s;
}

void fill_transient_config(RunConfig& c, const po::variables_map& vm) {
  get_opt(vm, "c-row", c.spec.c_row_f);
  get_opt(vm, "c-col", c.spec.c_col_f);
  xbar::solvers::CrossbarTransientOptions& td = c.transient;
  xbar::solvers::TransientOptions& t = td.transient;
  if (c.command == "netlist") {
    c.transient_deck = get_opt(vm, "t-stop", t.t_stop_s);
    get_opt(vm, "time-step", t.time_step_s);
    get_opt(vm, "t-rise", t.t_rise_s);
    if (!c.transient_deck) {
      for (const char* k : {"time-step", "t-rise"})
        if (vm.count(k) && !vm[k].defaulted())
          throw InputError(std::string("key ") + k + ": only with --t-stop (a transient deck); without it the deck is a DC one");
    } else {
      t.validate();
    }
    c.spec.validate();  // names c-row / c-col
    return;
  }
  c.check_transient.enabled = vm.count("transient") && vm["transient"].as<bool>();
  get_opt(vm, "t-stop", t.t_stop_s);
  get_opt(vm, "time-step", t.time_step_s);
  get_opt(vm, "t-rise", t.t_rise_s);
  std::string s;
  if (get_opt(vm, "integrator", s)) t.method = xbar::solvers::parse_transient_method(s);
  get_opt(vm, "lte-tol", t.lte_tol);
  get_opt(vm, "max-steps", t.max_steps);
  get_opt(vm, "max-cached-factorizations", t.max_cached_factorizations);
  get_opt(vm, "settle-tol", td.settle_tol);
  get_opt(vm, "error-adc-bits", td.error_adc_bits);
  get_opt(vm, "full-scale", td.full_scale_a);
  // check keeps its DC back-end choice in solve.solver (ngspice is refused there); transient
  // and ppa take the transient's own.
  if (c.command == "check")
    t.backend = c.solve.solver.backend;
  else if (get_opt(vm, "backend", s))
    t.backend = xbar::solvers::parse_backend(s);
  if (t.backend == xbar::solvers::BackendChoice::kNgspice && c.command != "check")
    throw InputError("key backend = ngspice: the transient is integrated natively (auto, native, cholmod, klu or "
                     "pcg); ngspice is its referee: xbar check --transient");
  t.newton = c.solve.solver.newton;
  commands::TransientCheckOptions& k = c.check_transient;
  get_opt(vm, "waveform-tol", k.waveform_tol);
  get_opt(vm, "settle-steps-tol", k.settle_steps_tol);
  get_opt(vm, "energy-tol", k.energy_tol);
  get_opt(vm, "ngspice-options", k.referee.ngspice_options);
  get_opt(vm, "ngspice-tmax", k.referee.t_max_s);
  if (c.command == "check" && !k.enabled) {
    // The transient keys describe a run that a DC check does not make.
    for (const char* key : {"t-stop", "time-step", "t-rise", "integrator", "lte-tol", "max-steps",
                            "max-cached-factorizations", "settle-tol", "error-adc-bits", "full-scale",
                            "waveform-tol", "settle-steps-tol", "energy-tol", "ngspice-options", "ngspice-tmax"})
      if (vm.count(key) && !vm[key].defaulted())
        throw InputError(std::string("key ") + key + ": only with --transient (check compares the DC solve otherwise)");
  }
  c.spec.validate();
  td.validate();
  if (c.command == "check" && k.enabled) k.validate();
}

}  // namespace xbar::engine::cli
