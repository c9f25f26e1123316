// Flash arrays for the array subcommands (netlist, solve, check, program, calibrate, size):
// where the thresholds come from, the gate lines, and what result.json says about them.
// Internal to engine/commands/ (command_support.cc's load_array() calls it for cell = flash).
//
//   std::shared_ptr<const devices::CellModel> cell = make_cell(cfg, m, n);  // --v-gate-lines read
//   FlashThresholds t = flash_thresholds(cfg, cell_as_flash(*cell), targets, targets_source);
//   t.vth_v              // M x N volts: the per-cell values of the circuit
//
// A flash array's per-cell value is its threshold V_th. It comes either from --vth (volts,
// used as given) or from targets (--g or a random array: conductance-equivalent targets G,
// read current G v-read; with --pv-target read-current the values are read currents in A)
// programmed by devices::program_flash (block erase, program-verify pulses; seeded by --seed,
// verified at v-read). Retention (--retention-time > 0) then lowers every threshold
// (devices::apply_retention, its own seeded stream).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "devices/cell_model.h"
#include "devices/flash_programming.h"
#include "devices/flash_retention.h"
#include "devices/programming.h"
#include "engine/commands/run_config.h"
#include "netlists/crossbar_builder.h"
#include "solvers/cell_regions.h"

namespace xbar::engine::commands::detail {

// The cell model of cfg, with the gate-line voltages of --v-gate-lines read and checked
// against an M x N array (one entry per gate line: M for gate = row, N for column, 1 for
// global; the message names the file). Throws xbar::InputError.
std::shared_ptr<const devices::CellModel> make_cell(const RunConfig& cfg, int64_t m, int64_t n);

// The flash cell inside `cell` (which must be one).
const devices::FlashCell& cell_as_flash(const devices::CellModel& cell);

// Throws xbar::InputError naming the key when cfg asks a flash array for something that is
// defined only for conductances (read noise, which samples G per read).
void require_flash_compatible(const RunConfig& cfg);

// Flash cells are programmed by program-verify of their thresholds: the conductance-domain
// stages (levels, variation, stuck cells, drift, the device window's clip) do not apply to
// them and are refused, naming the first key set away from its default. (Their flash
// counterparts: the pulse spread and the verify tolerance, cells failing to verify, retention.)
void refuse_conductance_programming(const devices::ProgrammingOptions& p);

// --vth: M x N finite volts; rows/cols, if given, must agree. `source` describes the file.
netlists::RowMatrixXd read_thresholds(const RunConfig& cfg, nlohmann::json& source);

struct FlashThresholds {
  netlists::RowMatrixXd vth_v;  // after programming (if any) and retention
  // Program-verify of targets (null for --vth).
  std::shared_ptr<const devices::FlashProgramResult> programmed;
  devices::RetentionStats retention;
  nlohmann::json json;  // {"thresholds": how, "program": ..., "retention": ...} for result.json
};

// The thresholds of a flash array. `values` are targets (M x N, each > 0; `targets_from`
// names them in messages) programmed by program-verify when `are_targets`, else thresholds
// (from --vth) taken as they are. Retention applied last.
FlashThresholds flash_thresholds(const RunConfig& cfg, const devices::FlashCell& cell,
                                 const netlists::RowMatrixXd& values, bool are_targets,
                                 const std::string& targets_from);

// result.json pieces.
nlohmann::json flash_program_json(const devices::FlashProgramOptions& o, devices::FlashTarget target,
                                  const devices::FlashProgramStats& st);
nlohmann::json retention_json(const devices::RetentionOptions& o, const devices::RetentionStats& st);
// Operating regions of the cells over every input: names, counts, fractions.
nlohmann::json regions_json(const solvers::CellRegions& r);

}  // namespace xbar::engine::commands::detail
