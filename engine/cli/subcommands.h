// The subcommands of `xbar`: their table, the general help, each subcommand's keys (composed
// from the key tables next to their code: array_keys.h, calibrate_keys.h, program_keys.h,
// nn_keys.h) and the step from stored keys to a run (engine/commands/).
//
//   const po::options_description desc = make_options("solve");   // "all": xbar --help
//   ... store the command line and the INI file into vm, notify ...
//   return run_parsed("solve", desc, vm, from_cli, /*dry_run=*/false);
#pragma once

#include <ostream>
#include <set>
#include <string>

#include "engine/cli/key_helpers.h"

namespace xbar::engine::cli {

// True for the names `xbar --help` lists (sweep included).
bool is_subcommand(const std::string& name);

// Version, usage, the subcommands with one line each, INI and exit-code notes.
void print_general_help(std::ostream& os);

// The keys of `sub`; sub = "all" gives the union of every subcommand's keys, for `xbar --help`.
// Not for "sweep", whose keys are its own (sweep_keys.h).
po::options_description make_options(const std::string& sub);

// Everything after the keys are stored: the configuration of `sub` and its run (none when
// dry_run: the sweep checks every point this way before it runs any). Returns the exit status.
int run_parsed(const std::string& sub, const po::options_description& desc, const po::variables_map& vm,
               const std::set<std::string>& from_cli, bool dry_run);

}  // namespace xbar::engine::cli
