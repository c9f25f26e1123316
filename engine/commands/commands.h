// The subcommands of the `xbar` executable, as plain functions of a parsed RunConfig.
// Each returns the process exit status; input errors throw xbar::InputError before any
// output file is touched, and outputs are written atomically (result.json last).
#pragma once

#include "engine/commands/run_config.h"

namespace xbar::engine::commands {

int run_netlist(const RunConfig& cfg);
int run_solve(const RunConfig& cfg);
// Target conductances -> programmed conductances with the non-idealities of cfg.programming:
// g_programmed.npy, stuck_mask.npy, result.json (options and realised statistics).
int run_program(const RunConfig& cfg);
// Exit status 0 when native and ngspice agree within cfg.tol, 3 when they do not.
int run_check(const RunConfig& cfg);
// IR-drop compensation map, calibration table and errors before/after on held-out inputs:
// t_effective.npy, g_compensated.npy, unreachable.npy, calibration.csv (+ .json), result.json.
int run_calibrate(const RunConfig& cfg);
// Largest array meeting an error budget, swept over sizes: size.csv, result.json.
int run_size(const RunConfig& cfg);

// Peak resident set size of this process so far, bytes (getrusage).
int64_t peak_rss_bytes();

}  // namespace xbar::engine::commands
