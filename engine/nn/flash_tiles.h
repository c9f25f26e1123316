// Network tiles of flash cells (issue 18): what a HardwareLayer (hardware_layer.h) does
// differently when --cell flash.
//
//   HardwareOptions o;  o.cell = "flash";  o.flash.program.pv_tol = 0.02;  o.flash.retention.time_s = 3.15e7;
//   validate_flash_tiles(o);                              // from HardwareOptions::validate()
//   compensate_flash_tile(t, spec, w_block, o, cell, "fc1");  // mode compensated: the map, in G
//   program_flash_tile(t, g_eq_s, o, cell);               // thresholds into t.flash.vth_v
//   calib::array_currents(spec, t.flash.vth_v, cell, v, solver);   // a read: Newton, wires
//
// A flash cell holds a threshold voltage, not a conductance. The tile works in conductance
// equivalents (calib/flash_compensation.h): G = I_read(V_th) / v_read, I_read the cell's own
// wire-free read with its drain at v_read (--v-read, also the DAC full scale: the largest layer
// input drives exactly the read point), its source at 0 V and its gate at its word line's
// voltage (--v-gate, per row, column or one line, --gate). The mapped targets of
// weight_mapping.h, inside the device window [g_min, g_max] (siemens, conductance
// equivalents), are therefore read currents G v_read, and
//   1. uncompensated: the targets are programmed to thresholds by the program-verify of
//      `xbar program --cell flash` (devices/flash_programming.h: block erase, step pulses until
//      the verify read at v_read is within --pv-tol) with the tile's seed, so each tile draws
//      its own erase and pulse streams as the conductance stages do (tile k of MVM layer l:
//      derive_seed(derive_seed(seed, l), k)); then retention (devices/flash_retention.h,
//      --retention-time > 0) lowers every threshold, its stream from the same tile seed;
//   2. compensated: the map of calib::compensate_flash at the operating input (every row at
//      v_read: each cell then carries s G v_read through the wires), with the floor of the
//      other nonlinear cells (hardware_layer.h: targets lifted to (1 + kLiftMargin) g_min,
//      raised from the scale found while cells below g_min miss their target by more than
//      kFloorMissRel of the largest), then programmed as in 1;
//   3. every read: one Newton solve of the tile with its thresholds, wires, driver and sense
//      resistance and its gate lines (calib::array_currents), as for the other nonlinear cells.
//      The cell's current is the EKV form (devices/flash_cell.h), nonlinear in its drain
//      voltage: the DAC's voltages below v_read read the cell off its verify point, which no
//      map corrects (the map fixes IR drop at the operating input).
// t.g_programmed holds the conductance equivalents of the thresholds the tile ends with (what
// its cells read at v_read without wires), for the summaries. The conductance programming
// stages (levels, variation, stuck cells, drift), read noise (a spread of G per read) and
// defect-aware pairs (stuck cells) do not apply and are refused, naming the key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "devices/flash_cell.h"
#include "devices/flash_programming.h"
#include "devices/flash_retention.h"
#include "netlists/crossbar_spec.h"
#include "support/random_array.h"

namespace xbar::engine::nn {

struct HardwareOptions;
struct TileState;

// Program-verify and retention of flash tiles [keys flash-erase-vth, flash-erase-sigma, pv-step,
// pv-sigma, pv-tol, pv-max-pulses, retention-*]. program.seed and program.v_read_v are not
// read: each tile programs with its own seed, and verifies at HardwareOptions::v_read_v.
struct FlashTileOptions {
  devices::FlashProgramOptions program;
  devices::RetentionOptions retention;  // default: no charge loss
};

// What a flash tile holds and how it got there.
struct FlashTileState {
  support::RowMatrix vth_v;                 // rows x phys_cols thresholds, volts (after retention)
  devices::FlashProgramStats program;       // program-verify: verified, failures, pulses
  devices::RetentionStats retention;
};

// Throws xbar::InputError naming the key: flash options out of range, g-min <= 0 (a conductance
// equivalent of 0 is an infinite threshold), or a key that does not apply to flash tiles (see
// the file comment). For HardwareOptions::validate() with cell = flash.
void validate_flash_tiles(const HardwareOptions& o);

// Mode compensated: fills t.target (the lifted targets), the compensation fields and
// t.g_programmed (the map G', conductance equivalents, to be programmed) of tile t. A
// NumericalError of the map's Newton solves is rethrown naming `layer` and the tile.
void compensate_flash_tile(TileState& t, const netlists::CrossbarSpec& spec, const support::RowMatrix& w_block,
                           const HardwareOptions& o, std::shared_ptr<const devices::FlashCell> cell,
                           const std::string& layer);

// Programs the conductance-equivalent targets g_eq_s (tile sized, inside the window) into
// t.flash (thresholds, program-verify and retention statistics; seeds from t.seed) and sets
// t.g_programmed to the conductance equivalents of the final thresholds.
void program_flash_tile(TileState& t, const support::RowMatrix& g_eq_s, const HardwareOptions& o,
                        const devices::FlashCell& cell);

// Per tile: program-verify and retention statistics. Per layer: the same summed over tiles.
nlohmann::json flash_tile_json(const FlashTileState& s);
nlohmann::json flash_layer_json(const std::vector<TileState>& tiles);
// The options for accuracy.json / result.json.
nlohmann::json flash_options_json(const HardwareOptions& o);

}  // namespace xbar::engine::nn
