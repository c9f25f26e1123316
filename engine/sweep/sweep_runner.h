// `xbar sweep`: runs every point of a sweep INI in this process (one at a time, each with all the
// cores) or over MPI ranks, one row of DIR/sweep.csv per point, resumable after any crash.
//
//   SweepHooks hooks{check_key, run_point};   // from the CLI (engine/cli/sweep_keys.cc): Boost stays there
//   return run_sweep(SweepOptions{"S.ini", "DIR"}, hooks);
//
// Layout of DIR:
//   sweep.json            the sweep: definition (what a resumed DIR must match), fingerprint,
//                         columns, tolerances, seed rule, versions; written before any point
//   sweep.csv             one row per finished point, sorted by id (sweep_record.h)
//   points/ID/point.json  the durable record of point ID (the row plus every key, where it came
//                         from, rank, host, threads, start/finish times)
//   points/ID/...         the subcommand's own outputs (result.json, currents.npy, ...)
//   attempts/ID           how often point ID was handed out (see kMaxAttempts in the .cc)
//   .sweep.lock           flock()ed while a run writes DIR (released by the kernel on any exit)
//
// Contract:
//   - Every point is checked before any runs (unknown keys, bad ranges, lists, zips and values
//     that the subcommand's parser rejects): InputError naming file:line, nothing written.
//   - Re-running the same command on DIR skips the points whose point.json exists and rebuilds
//     sweep.csv from the records: after SIGKILL nothing is lost (the point that was running is
//     run again from a clean directory) and nothing is duplicated. A DIR written from a
//     different sweep definition is refused, saying what differs. --retry-failed runs the
//     failed points again. DIR/attempts/ID counts how often point ID was started: a point whose
//     process died 3 times while running it (a crash, the out-of-memory killer) is recorded as
//     failed rather than started a fourth time.
//   - A point that fails (bad value for that point, numerical failure, a check above --tol,
//     an exception) is recorded with its exit code and message, and the sweep goes on; the
//     sweep then returns kExitPointsFailed.
//   - Points run largest first (rows x cols of the point), so the costliest do not end a
//     distributed run alone.
//   - Under mpirun (built with MPI): rank 0 reads the INI, hands out points one at a time to
//     whichever rank asks (its own second thread included), and alone writes DIR. The CSV is
//     the same, row for row, as in one process, since each point's seed and configuration come
//     from the point alone and every point runs with the sweep's `sweep-threads` OpenMP/OpenBLAS
//     threads (default 1) whatever the number of ranks: use the cores with mpirun -np CORES, or
//     sweep-threads = CORES in one process. A warning says when ranks x threads exceed a node's
//     cores.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/sweep/sweep_grid.h"

namespace xbar::engine::sweep {

// Exit status of a sweep in which at least one point failed (rows with status "failed").
constexpr int kExitPointsFailed = 5;

struct SweepOptions {
  std::string config_path;    // the sweep INI (--config), required
  std::string out_dir;        // DIR (--out), required
  bool quiet = false;         // no progress on stderr, no summary on stdout
  bool retry_failed = false;  // run the recorded failed points again
  bool dry_run = false;       // list the points (id, seed, swept keys) on stdout and stop
  void validate() const;
};

struct SweepHooks {
  // "" when the subcommand accepts the key, else a message (without file:line).
  SweepKeyCheck check_key;
  // Parses `keys` exactly as `xbar COMMAND --config` would (InputError naming each key's where)
  // and, unless dry_run, runs the subcommand in this process; returns its exit status.
  std::function<int(const std::string& command, const std::vector<PointKey>& keys, bool dry_run)> run;
};

int run_sweep(const SweepOptions& o, const SweepHooks& hooks);

// Sets this thread's OpenMP threads and OpenBLAS's threads (when OpenBLAS is loaded); n <= 0
// leaves them. Returns n.
int limit_threads(int n);

}  // namespace xbar::engine::sweep
