// The checks before a run: everything a subcommand would refuse, found without running it and
// without reading its inputs in full (issue 17).
//
//   commands::preflight(cfg);   // netlist, solve, check, program, calibrate, size
//
// Two callers: every subcommand, as its first step (so a run that would fail late, after
// minutes of solving or gigabytes of allocation, fails at once), and `xbar sweep`, which
// preflights every point of its grid before the first one runs (README: a value the
// subcommand would reject stops the sweep, naming file:line).
//
// Checks (InputError naming the key or the file, nothing written):
//   - --out given, and no directory where one of the subcommand's output files goes;
//   - the input files exist and are what they claim: --g and --v by their .npy headers (shape,
//     dtype, a size that matches; the data is not read), --deck, --level-table and --stuck-mask
//     are readable files; M x N from --g's header, checked against --rows / --cols;
//   - the values: the array (rows, cols, wires, drive/sense), g-on / g-off, v-read, the cell,
//     --tol, the back end against the subcommand, the programming options;
//   - memory: a lower bound of the bytes the run must hold (its arrays: conductances, inputs,
//     outputs, a few solver vectors of 2MN unknowns, saved voltages, held-out sets; see
//     estimate_memory), refused when above --max-memory, naming the key of the largest part.
#pragma once

#include <string>
#include <vector>

#include "engine/commands/run_config.h"

namespace xbar::engine::commands {

void preflight(const RunConfig& cfg);

// InputError "<path>: cannot open for reading (key K): <why>" unless `path` is a readable
// regular file or pipe (a directory or a device is named as such).
void require_input_file(const std::string& path, const std::string& key);
// The same for a directory (--data-dir).
void require_input_directory(const std::string& path, const std::string& key);

// One part of a run's memory: its bytes, the key that sets its size, what it holds.
struct MemoryTerm {
  double bytes = 0;
  std::string key;   // "rows", "heldout", "v" ...
  std::string what;  // "held-out inputs and currents, 8 x heldout x (M + 4N) bytes"
  std::string advice;  // how to make it smaller: "fewer held-out inputs (--heldout)"
};

// The lower bound of the memory a run of `cfg.command` needs on an M x N array with K inputs
// (double precision; the parts every run of it allocates, not the solver's fill-in, which only
// adds to it). Doubles, so that sizes near INT64_MAX do not overflow.
std::vector<MemoryTerm> estimate_memory(const RunConfig& cfg, double m, double n, double k);

// --max-memory: "auto" (0: this machine's memory) or a size in bytes with an optional binary
// suffix ("8G" = 8 GiB, "512M", "1.5T", "2e9"). InputError naming the key otherwise.
double parse_memory_size(const std::string& text);

// The bound --max-memory = `bytes` stands for: itself, or for 0 (auto) the machine's memory
// (MemTotal, or a smaller cgroup limit or ulimit -v / -d).
double memory_bound_bytes(double bytes);

}  // namespace xbar::engine::commands
