// What each subcommand contributes to a sweep: the JSON file it writes and the metrics (CSV
// columns) read from it.
//
//   const SweepCommand* c = find_sweep_command("calibrate");     // nullptr: not sweepable
//   std::map<std::string, std::string> row = extract_metrics(*c, result_json);
//
// Contract:
//   - A metric is a JSON pointer into the command's result file; its CSV text is the shortest
//     text that reads back as the same double (format_number), an integer in decimal, a bool as
//     1/0, a string verbatim, and empty when the pointer is missing or null. Equal doubles give
//     equal text, so two CSVs compare bitwise by comparing text.
//   - Timings and peak memory are deliberately not metrics: they depend on the host, the load
//     and (peak RSS) on what the process ran before; the row's own `time_s` column holds the
//     point's wall time. Everything else in the result file stays in the point's directory.
//   - Adding a subcommand to the sweep is one line of the table in sweep_commands.cc; the CLI
//     (engine/cli/sweep_keys.cc) already runs whatever subcommand it knows by name.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace xbar::engine::sweep {

struct SweepMetric {
  std::string column;   // CSV column name, e.g. "comp_max_lsb"
  std::string pointer;  // JSON pointer into the result file, e.g. "/errors/compensated/max_lsb"
};

struct SweepCommand {
  std::string name;         // the subcommand, e.g. "calibrate"
  std::string result_file;  // written by it under --out, e.g. "result.json"
  std::vector<SweepMetric> metrics;
};

// Every sweepable subcommand, in the order the help text lists them.
const std::vector<SweepCommand>& sweep_commands();
// nullptr when `name` is not a sweepable subcommand.
const SweepCommand* find_sweep_command(const std::string& name);
// "solve|check|calibrate|size" (for messages and help).
std::string sweep_command_names();

// Metric column -> CSV text, for every metric of `c` (missing ones as "").
std::map<std::string, std::string> extract_metrics(const SweepCommand& c, const nlohmann::json& result);
// One JSON value as CSV text (see the contract above).
std::string metric_text(const nlohmann::json& v);

}  // namespace xbar::engine::sweep
