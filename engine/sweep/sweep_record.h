// One finished sweep point (a row of sweep.csv and the content of its point.json), and the CSV.
//
//   PointRecord r = ...;                          // filled by the runner after the subcommand
//   write_json(dir + "/point.json", r.to_json());  // the durable record of the point
//   write_sweep_csv(os, columns, records);         // the table, rebuilt from the records
//
// Contract:
//   - point.json is the source of truth: a point is done when DIR/points/ID/point.json exists
//     and belongs to this sweep. sweep.csv is rebuilt from the records and replaced atomically
//     after every point, so it can neither lose nor duplicate a row, whatever kills the run.
//   - CSV (RFC 4180): a header row, one row per point sorted by id; fields holding a comma, a
//     quote or a line break are quoted with "" doubling; line breaks inside fields (error
//     messages) become spaces.
//   - Columns: id, the swept keys (axis order), command, seed, status (ok|failed), exit_code,
//     the metrics of the command (sweep_commands.h), error, version, time_s, finished_utc.
//     time_s (the point's wall time) and finished_utc are the only columns that depend on the
//     host and the moment; comparisons of two runs leave them out (kTimingColumns).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "engine/sweep/sweep_grid.h"

namespace xbar::engine::sweep {

// Columns whose values depend on when and where a point ran.
inline const std::vector<std::string> kTimingColumns = {"time_s", "finished_utc"};

struct PointRecord {
  int64_t index = 0;
  std::string id;
  std::string command;
  std::vector<PointKey> keys;   // every key the subcommand got (with where each came from)
  std::vector<PointKey> swept;  // the axis keys (CSV columns)
  uint64_t seed = 0;
  int exit_code = 0;            // the subcommand's exit status (2 bad input, 4 numerical, ...)
  std::string error;            // what went wrong; empty when exit_code == 0
  std::map<std::string, std::string> metrics;
  std::string version;
  double time_s = 0;            // wall time of the point
  std::string started_utc, finished_utc;
  int rank = 0;                 // MPI rank that ran it (0 without MPI)
  std::string host;
  int threads = 0;              // OpenMP/OpenBLAS threads the point ran with (0 = not limited)
  std::string fingerprint;      // of the sweep definition (sweep.json)

  bool ok() const { return exit_code == 0; }
  nlohmann::json to_json() const;
  static PointRecord from_json(const nlohmann::json& j);  // throws on a malformed record
};

// The header of sweep.csv.
std::vector<std::string> sweep_csv_columns(const SweepDefinition& def);
// The row of `r` under `columns`.
std::vector<std::string> sweep_csv_row(const PointRecord& r, const std::vector<std::string>& columns);
// Header + rows of `records` (already sorted by index).
void write_sweep_csv(std::ostream& os, const std::vector<std::string>& columns,
                     const std::vector<const PointRecord*>& records);
// One CSV field, quoted when needed.
std::string csv_field(const std::string& s);

// UTC time as "2026-11-25T04:36:12Z".
std::string utc_now();

}  // namespace xbar::engine::sweep
