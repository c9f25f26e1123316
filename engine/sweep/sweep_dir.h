// The output directory DIR of a sweep (its layout: sweep_runner.h): the lock that keeps a
// second sweep out, the manifest sweep.json that ties DIR to one sweep definition, the records
// of the points finished before and the attempt counters that stop a point that keeps killing
// its process. Internal to the sweep runner.
//
//   DirLock lock(dir);                                        // one sweep per DIR at a time
//   Plan plan = prepare_dir(options, std::move(def), ranks);  // resume: what is left to run
//   ... before each point: write read_attempts(dir, id) + 1 to attempts_path(dir, id) ...
//   close_run(dir, points_run, points_failed);                // this run's entry in sweep.json
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/sweep/sweep_grid.h"
#include "engine/sweep/sweep_record.h"
#include "engine/sweep/sweep_runner.h"

namespace xbar::engine::sweep::internal {

// A point whose process died this many times while running it (a crash, the out-of-memory
// killer, SIGKILL) is recorded as failed instead of being started again: a point that kills
// its process must not stop every later night at the same place.
constexpr int kMaxAttempts = 3;

// An exclusive flock on DIR/.sweep.lock for the life of the run; xbar::InputError naming the
// holder's pid when another sweep has it.
class DirLock {
 public:
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

struct Plan {
  SweepDefinition def;
  nlohmann::json definition;
  std::string fingerprint;
  std::vector<std::string> columns;
  std::vector<int64_t> pending;    // largest first
  std::vector<PointRecord> done;   // finished before this run
  std::vector<int64_t> given_up;   // started kMaxAttempts times, never finished
};

// Creates or checks DIR/sweep.json (a DIR holding another sweep is an xbar::InputError listing
// the differences), opens this run's entry in it and reads the points finished before.
Plan prepare_dir(const SweepOptions& o, SweepDefinition def, int ranks);

// Closes this run's entry in DIR/sweep.json: when it finished, points run and failed.
void close_run(const std::string& dir, int64_t points_run, int64_t points_failed);

// DIR/attempts/ID counts how often point ID was handed out (written before it runs).
std::string attempts_path(const std::string& dir, const std::string& id);
int read_attempts(const std::string& dir, const std::string& id);

// The whole file as text; empty when it cannot be read.
std::string read_text(const std::string& path);

}  // namespace xbar::engine::sweep::internal
