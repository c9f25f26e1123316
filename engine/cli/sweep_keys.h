// `xbar sweep`: its own keys (the sweep INI, the output directory, resume and dry-run flags)
// and the two hooks through which the sweep room (engine/sweep/sweep_runner.h) parses and runs
// the points' subcommands, so that Boost stays in engine/cli/: a point's keys are parsed exactly
// as `xbar SUB --config` parses an INI file (store_value, then run_parsed) and run in-process.
//
//   if (sub == "sweep") return run_sweep_command(argc, argv);
#pragma once

#include "engine/sweep/sweep_runner.h"

namespace xbar::engine::cli {

// The sweep's check_key and run hooks over make_options and run_parsed (subcommands.h).
sweep::SweepHooks sweep_hooks();

// `xbar sweep ARGS...` (argv[1] is "sweep"): --help, or the sweep. Returns the exit status.
int run_sweep_command(int argc, char** argv);

}  // namespace xbar::engine::cli
