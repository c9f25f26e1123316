// Pieces the subcommand files share (netlist, solve, check, program and calib commands):
// loading the array and the inputs a RunConfig names, result.json scaffolding, progress lines,
// JSON and CSV outputs that refuse non-finite numbers. Internal to engine/commands/.
#pragma once

#include <Eigen/Core>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "devices/cell_model.h"
#include "devices/flash_programming.h"
#include "engine/commands/run_config.h"
#include "engine/io/atomic_file.h"
#include "netlists/circuit.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_transient.h"
#include "solvers/solve_summary.h"

namespace xbar::engine::commands::detail {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0);

// Cell conductances accepted from --g, --g-on and --g-off: 0 (an open cell) or within
// [kMinConductanceS, kMaxConductanceS]. Below 1e-30 S a cell passes less than one electron in
// 1e11 s at 1 V, indistinguishable from open, while 1/G of a subnormal G overflows to inf in the
// SPICE deck (issue 17); above 1/netlists::kMinResistanceOhm it is no physical cell.
inline constexpr double kMinConductanceS = 1e-30;
inline constexpr double kMaxConductanceS = 1.0 / netlists::kMinResistanceOhm;
// InputError naming the key when g-off or g-on lies outside those bounds.
void check_conductance_bounds(const RunConfig& cfg);

struct ArrayInput {
  netlists::CrossbarSpec spec;
  // The per-cell values the circuit is built from (CellModel::cell_value()): conductances,
  // siemens; for flash cells the thresholds V_th, volts.
  netlists::RowMatrixXd g;
  nlohmann::json source;
  // The cell model (flash: with the gate-line voltages of --v-gate-lines).
  std::shared_ptr<const devices::CellModel> cell;
  // Flash: how the thresholds came about (--vth, or program-verify of the --g / random
  // targets, then retention; flash_arrays.h), for result.json; null for other cells.
  nlohmann::json flash;
  std::shared_ptr<const devices::FlashProgramResult> programmed;  // flash from targets
};
// --g file or a random array (g-off..g-on, seed); spec validated, M x N from the file. For
// flash cells these are targets programmed into thresholds, or --vth gives the thresholds.
ArrayInput load_array(const RunConfig& cfg);
// The --g file or random array alone (conductances, or flash targets), no cell.
ArrayInput load_conductances(const RunConfig& cfg);

struct Inputs {
  netlists::RowMatrixXd v;  // K x M
  bool batch = false;       // given as a K x M matrix (outputs keep the K axis)
  nlohmann::json source;
};
// --v file ((M,) or (K, M) volts) or every row at --v-read.
Inputs load_inputs(const RunConfig& cfg, int64_t m);

void progress(const RunConfig& cfg, const std::string& msg);
std::string fmt(double v, int precision = 3);
nlohmann::json summary_json(const solvers::SolveSummary& s);
// The effective configuration: with --g, M and N come from the file, not from the defaults.
nlohmann::json effective_config(const RunConfig& cfg, const ArrayInput& a);
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

// The transient's result.json sections (transient, ppa, check --transient): "transient" (method,
// back end, steps, cost), "settling" (per column and the band), "energy" (from the row inputs)
// and "final" (the values at t_stop against the DC solution).
nlohmann::json transient_json(const solvers::CrossbarTransient& t, const solvers::CrossbarTransientOptions& o);
// The one input vector of a transient (--v of shape (M,) or --v-read); several -> InputError.
Eigen::VectorXd single_input(const RunConfig& cfg, const Inputs& in);
// The linear back end options of a transient (ordering, PCG) and its progress line on stderr.
solvers::CrossbarTransientOptions transient_options(const RunConfig& cfg);

// A SPICE deck (solve --deck, check --deck): the source values written in it (one column),
// the names of its nodes and sources, and the result scaffolding (tool, version, config, deck).
Eigen::MatrixXd deck_source_values(const netlists::Circuit& c);
nlohmann::json deck_names(const netlists::Circuit& c);
nlohmann::json deck_result(const RunConfig& cfg, const netlists::Circuit& c);

}  // namespace xbar::engine::commands::detail
