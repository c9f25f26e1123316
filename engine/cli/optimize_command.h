// `xbar optimize`: the multi-objective design-space search of the Python package
// (python/xbar/optimize.py, Optuna), started from the command line like any subcommand.
//
//   if (sub == "optimize") return run_optimize_command(argc, argv);   // replaces the process
//
// The search is Python because its engine is Optuna (Debian python3-optuna: NSGA-II, TPE,
// storages a study can be shared through); embedding an interpreter would put libpython into
// every xbar run, so the subcommand replaces the process with Debian's python3 running
// `-m xbar.optimize` on the same arguments, with this build's package first on PYTHONPATH.
// Its keys, help text and messages are the module's (`xbar optimize --help`).
#pragma once

namespace xbar::engine::cli {

// argv[1] is "optimize". Returns only when python3 cannot be started (exit status 1, a message
// naming the interpreter and what to install).
int run_optimize_command(int argc, char** argv);

}  // namespace xbar::engine::cli
