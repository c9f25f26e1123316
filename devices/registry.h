// The registry of cell models selectable with --cell. To add a device, write one file and
// add one line to registry.cc; no static-initialization tricks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "devices/cell_model.h"
#include "devices/flash_cell.h"
#include "devices/mos1_transistor.h"

namespace xbar::devices {

// Parameters of the nonlinear cells (CLI keys in brackets); each cell reads only its own.
struct CellParams {
  // sinh cell nonlinearity k [nl-k], 1/V, > 0. 2/V: about 7 % above linear at 0.2 V read,
  // 60 % at 0.6 V, a moderate RRAM-like nonlinearity.
  double nl_k_per_v = 2.0;
  // selector scale current i0 [sel-i0], A, > 0, and voltage v0 [sel-v0], V, > 0. With 10 uA and
  // 50 mV a 100 uS cell read at 0.2 V loses about a third of its voltage across the selector.
  double sel_i0_a = 1e-5;
  double sel_v0_v = 0.05;
  // 1t1r access NMOS, SPICE level 1 (mos1_transistor.h, one_t_one_r_cell.h). The defaults are
  // a textbook level-1 device: beta = KP W/L = 200 uA/V^2, so at v-gate 1.8 V the channel is
  // about 3.8 kOhm near V_ds = 0 (a 100 uS cell read at 0.2 V stays in the linear region)
  // and saturates at about 170 uA.
  double mos_vto_v = 0.5;          // threshold VTO [mos-vto], V, finite
  double mos_kp_a_per_v2 = 2e-4;   // transconductance KP [mos-kp], A/V^2, > 0
  double mos_w_over_l = 1.0;       // width / length W/L [mos-wl], > 0
  double mos_lambda_per_v = 0.0;   // channel-length modulation [mos-lambda], 1/V, >= 0
  // Drain-source leakage [mos-gmin], S, > 0: ngspice's gmin across the bulk-drain junction;
  // 1e-12 is ngspice's default, and the SPICE writer sets `.options gmin` to this value.
  double mos_gmin_s = 1e-12;
  double v_gate_v = 1.8;           // gate (word-line) voltage [v-gate], V, finite
  // Gate lines [gate = row | column]: true, one per row (the word line of a typical 1T1R
  // array); false, one per column.
  bool gate_per_row = true;
  // [gate = global], flash only: one gate line for the whole array (overrides gate_per_row).
  // Kept apart from gate_per_row so that the 1t1r keys stay as they are.
  bool gate_global = false;
  // Flash cell (flash_cell.h): current factor beta [flash-beta], A/V^2, > 0; slope factor
  // [flash-n], > 0; temperature [temperature], K, > 0. Defaults and their reasons: FlashParams.
  double flash_beta_a_per_v2 = FlashParams{}.beta_a_per_v2;
  double flash_n = FlashParams{}.n;
  double temperature_k = FlashParams{}.temperature_k;
  // Flash: one gate voltage per gate line [v-gate-lines], volts (M for gate = row, N for
  // column, 1 for global); empty = every line at v-gate. Checked against the array size by
  // netlists::build_crossbar().
  std::vector<double> v_gate_lines_v;
  // Throws xbar::InputError naming the key, the value and the constraint.
  void validate() const;
  // The transistor fields as the device's own parameter struct.
  Mos1Params mos_params() const;
  // The flash fields as the device's own parameter struct, and its gate lines.
  FlashParams flash_params() const;
  GateLines gate_lines() const;
  // gate_per_row and gate_global as one GateLayout [key gate = row | column | global], and back.
  GateLayout gate_layout() const;
  void set_gate_layout(GateLayout g);
};

// Names accepted by make_cell_model(), in the order --help lists them.
std::vector<std::string> cell_model_names();

// Throws xbar::InputError naming the key "cell" and the accepted names when `name` is unknown,
// or naming a parameter key when `params` is out of range.
std::shared_ptr<const CellModel> make_cell_model(const std::string& name,
                                                 const CellParams& params = {});

}  // namespace xbar::devices
