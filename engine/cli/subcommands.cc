#include "engine/cli/subcommands.h"

#include <cstring>
#include <string>

#include "engine/cli/array_keys.h"
#include "engine/cli/calibrate_keys.h"
#include "engine/cli/nn_keys.h"
#include "engine/cli/ppa_keys.h"
#include "engine/cli/program_keys.h"
#include "engine/cli/transient_keys.h"
#include "engine/commands/commands.h"
#include "engine/commands/nn_commands.h"
#include "engine/commands/preflight.h"
#include "xbar_version.h"

namespace xbar::engine::cli {

using commands::RunConfig;

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
    {"transient", "rows stepped at t = 0 into the array with capacitance: settling, energy, waveforms.npy"},
    {"ppa", "energy, latency and area per read or per inference (--model): ppa.json, ppa.csv"},
    {"optimize", "design-space search (Optuna) over calibrate/ppa/evaluate runs: trials.csv, pareto.csv/png"},
};

// Adds to `to` the options of `from` whose names `to` does not hold yet (xbar --help lists a
// key shared by several subcommands once, with the help of the first).
void add_new(po::options_description& to, const po::options_description& from, const std::string& title) {
  po::options_description fresh(title);
  for (const auto& o : from.options())
    if (!to.find_nothrow(o->long_name(), false)) fresh.add(o);
  if (!fresh.options().empty()) to.add(fresh);
}

}  // namespace

bool is_subcommand(const std::string& name) {
  for (const auto& s : kSubcommands)
    if (name == s[0]) return true;
  return false;
}

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

po::options_description make_options(const std::string& sub) {
  if (sub == "train" || sub == "evaluate") return nn_keys(sub);
  // Defaults come from the default-constructed structs (STYLE: no hidden defaults elsewhere).
  const RunConfig d;
  po::options_description all;
  if (sub == "calibrate" || sub == "size") {
    all.add(calibrate_keys(sub, d)).add(general_keys(sub)).add(array_keys(d)).add(wire_keys(d));
    all.add(calibrate_solver_keys(d));
    return all;
  }
  if (sub == "program") {
    // Programming needs the target array, the device non-idealities and (flash) the cell it
    // verifies, no circuit; the network keys of --model that a plain program lacks.
    all.add(general_keys(sub)).add(target_keys(d)).add(device_keys(d)).add(program_cell_keys(d));
    all.add(flash_program_keys(d)).add(nn_keys("program"));
    return all;
  }
  if (sub == "transient" || sub == "ppa") {
    all.add(general_keys(sub)).add(array_keys(d)).add(wire_keys(d)).add(capacitance_keys(d));
    all.add(transient_keys(sub, d)).add(transient_solver_keys(d));
    if (sub == "ppa") all.add(ppa_keys(d));
    return all;
  }
  const bool all_keys = sub == "all";
  if (all_keys) all.add(calibrate_keys(sub, d));
  all.add(general_keys(sub)).add(array_keys(d)).add(wire_keys(d));
  if (sub == "netlist" || sub == "check") all.add(capacitance_keys(d));
  if (sub == "netlist") all.add(transient_keys(sub, d));
  if (sub == "solve" || sub == "check" || all_keys) all.add(solver_keys(sub, d));
  if (sub == "check") all.add(transient_keys(sub, d)).add(transient_check_keys(d));
  // Flash arrays given as targets (--g) are programmed by program-verify before the solve.
  all.add(flash_program_keys(d));
  if (all_keys) {
    // g-min and g-max already come with the calibrate keys.
    po::options_description prog("Device non-idealities (program)");
    const po::options_description full = device_keys(d);
    for (const auto& o : full.options())
      if (o->long_name() != "g-min" && o->long_name() != "g-max") prog.add(o);
    all.add(prog);
    // The NN keys that no other subcommand has (shared names keep one entry).
    po::options_description nn("Neural networks (train, evaluate; program --model)");
    for (const char* sub_nn : {"train", "evaluate"}) {
      const po::options_description keys = nn_keys(sub_nn);  // outlives the loop below
      for (const auto& o : keys.options())
        if (!all.find_nothrow(o->long_name(), false) && !nn.find_nothrow(o->long_name(), false)) nn.add(o);
    }
    all.add(nn);
    add_new(all, capacitance_keys(d), "Capacitance (netlist, check, transient, ppa)");
    add_new(all, transient_keys("transient", d), "Transient analysis (transient, ppa, check --transient; netlist --t-stop)");
    add_new(all, transient_check_keys(d), "Transient check (check --transient)");
    add_new(all, ppa_keys(d), "Power, performance and area (ppa)");
  }
  return all;
}

int run_parsed(const std::string& sub, const po::options_description& desc, const po::variables_map& vm,
               const std::set<std::string>& from_cli, bool dry_run) {
  if (sub == "train" || sub == "evaluate" || (sub == "program" && vm.count("model"))) {
    const commands::NnRunConfig nn = make_nn_config(sub, desc, vm, from_cli);
    if (dry_run) {
      // What a sweep can check of a network run before any runs: its input files.
      for (const char* key : {"model", "hat-model", "init"})
        if (vm.count(key) && !(sub == "train" && std::string(key) == "model"))
          commands::require_input_file(vm[key].as<std::string>(), key);
      if (vm.count("data-dir") && sub != "program")
        commands::require_input_directory(vm["data-dir"].as<std::string>(), "data-dir");
      return 0;
    }
    if (sub == "train") return commands::run_train(nn);
    if (sub == "evaluate") return commands::run_evaluate(nn);
    return commands::run_program_model(nn);
  }
  if (sub == "program") {
    RunConfig cfg = make_program_config(desc, vm, from_cli);
    // A plain `program` takes none of the network keys; they are not part of its configuration.
    reject_nn_keys_without_model(vm);
    const po::options_description keys = nn_keys("program");
    for (const auto& o : keys.options()) cfg.config_json.erase(o->long_name());
    if (dry_run) {
      commands::preflight(cfg);
      return 0;
    }
    return commands::run_program(cfg);
  }
  RunConfig cfg = make_array_config(sub, desc, vm, from_cli);
  fill_flash_program_config(cfg, vm);
  if (sub == "calibrate" || sub == "size") fill_calib_config(cfg, vm);
  if (sub == "netlist" || sub == "check" || sub == "transient" || sub == "ppa") fill_transient_config(cfg, vm);
  if (sub == "ppa") fill_ppa_config(cfg, vm);
  if (dry_run) {
    commands::preflight(cfg);
    return 0;
  }
  if (sub == "calibrate") return commands::run_calibrate(cfg);
  if (sub == "size") return commands::run_size(cfg);
  if (sub == "netlist") return commands::run_netlist(cfg);
  if (sub == "solve") return commands::run_solve(cfg);
  if (sub == "transient") return commands::run_transient(cfg);
  if (sub == "ppa") return commands::run_ppa(cfg);
  return commands::run_check(cfg);
}

}  // namespace xbar::engine::cli
