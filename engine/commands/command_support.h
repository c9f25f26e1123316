// Pieces the subcommand files share (commands.cc, calib_commands.cc): loading the array and
// the inputs a RunConfig names, result.json scaffolding, progress lines. Internal to engine/.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/io/atomic_file.h"
#include "engine/commands/run_config.h"
#include "netlists/crossbar_builder.h"
#include "solvers/solve_summary.h"

namespace xbar::engine::commands::detail {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0);

struct ArrayInput {
  netlists::CrossbarSpec spec;
  netlists::RowMatrixXd g;
  nlohmann::json source;
};
// --g file or a random array (g-off..g-on, seed); spec validated, M x N from the file.
ArrayInput load_array(const RunConfig& cfg);

void progress(const RunConfig& cfg, const std::string& msg);
std::string fmt(double v, int precision = 3);
nlohmann::json summary_json(const solvers::SolveSummary& s);
// tool, version, command, effective config, seed, and the array's description.
nlohmann::json base_result(const RunConfig& cfg, const ArrayInput& a);
void write_json(const std::string& path, const nlohmann::json& j);
// The same, staged with the run's other outputs (committed together, result.json last).
// Both refuse a NaN or infinite number anywhere in `j` (nlohmann would write it as null):
// xbar::NumericalError naming the file and the JSON pointer, nothing written.
void write_json(io::StagedOutputs& outputs, const std::string& path, const nlohmann::json& j);
// A CSV table staged as an output; refused like write_json if a cell reads nan or inf,
// naming the row and the column.
void write_csv(io::StagedOutputs& outputs, const std::string& path, const std::string& text);

}  // namespace xbar::engine::commands::detail
