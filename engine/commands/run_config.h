// RunConfig: everything one `xbar netlist | solve | check` run needs, already parsed.
//
// engine/cli/ fills it from the command line and INI files (array_keys.cc, calibrate_keys.cc,
// program_keys.cc; Boost.Program_options stays there); the commands in commands.h never see a
// flag. `config_json` is the full effective configuration (every key, its value and where it
// came from), copied into every result.json so that a result can be reproduced from its own
// metadata.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "calib/array_evaluation.h"
#include "calib/size_sweep.h"
#include "devices/flash_programming.h"
#include "devices/flash_retention.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_solver.h"

namespace xbar::engine::commands {

struct RunConfig {
  std::string command;              // "netlist", "solve", "check", "program", "calibrate", "size"
  netlists::CrossbarSpec spec;      // rows/cols may be replaced by the --g file's shape
  bool rows_given = false;          // --rows / --cols given explicitly (must match --g)
  bool cols_given = false;
  std::string deck_path;            // --deck: solve this SPICE deck instead of a crossbar
  std::string g_path;               // --g: M x N conductances, siemens (.npy)
  double g_on_s = 1e-4;             // random array: upper conductance bound, siemens
  double g_off_s = 1e-6;            // random array: lower conductance bound, siemens
  uint64_t seed = 1;                // random array seed
  std::string v_path;               // --v: M or K x M row voltages, volts (.npy)
  double v_read_v = 0.2;            // all rows at this voltage when no --v is given
  std::string cell = "linear";
  devices::CellParams cell_params;  // --nl-k, --sel-i0, --sel-v0, --mos-*, --v-gate, --gate, --flash-*
  // Flash cells (cell = flash). The per-cell value is a threshold voltage: from --vth, or
  // programmed by program-verify from conductance-equivalent targets (--g or a random array;
  // --pv-target read-current: the --g values are target read currents in amperes).
  std::string vth_path;           // --vth: M x N thresholds, volts (.npy); flash only
  std::string v_gate_lines_path;  // --v-gate-lines: one voltage per gate line, volts (.npy)
  devices::FlashProgramOptions flash_program;  // --pv-*, --flash-erase-*; seed and v_read filled from the common keys
  devices::FlashTarget flash_target = devices::FlashTarget::kConductance;  // --pv-target
  devices::RetentionOptions retention;  // --retention-*: charge loss after programming
  bool save_regions = false;            // solve: regions.npy (K x M x N uint8, flash cells)
  solvers::CrossbarSolveOptions solve;  // back end, ordering, batch method
  std::string out;                  // output directory (netlist: the .cir path)
  bool save_voltages = false;
  double tol = 1e-9;                // check: maximum relative difference allowed
  bool quiet = false;
  // solve: read-time non-idealities. One noisy read of the array per run (read index 0) serves
  // the whole batch; DAC quantizes the row voltages, ADC the column currents.
  devices::DacOptions dac;
  devices::AdcOptions adc;
  devices::ReadNoiseOptions read_noise;
  // program: the non-idealities (devices/programming.h) and the files some of them come from.
  devices::ProgrammingOptions programming;
  std::string level_table_path;  // --level-table (CSV, siemens)
  std::string stuck_mask_path;   // --stuck-mask (.npy, M x N: 0 healthy, 1 stuck-on, 2 stuck-off)
  // calibrate / size: the compensation map (device window, tolerance, scale), how errors are
  // measured (held-out inputs, ADC resolution and full scale) and tables fitted. Its seed and
  // v_read are filled from the common keys when the command runs.
  calib::EvaluationOptions eval;
  calib::SizeOptions size;            // size: the sweep
  nlohmann::json config_json;
};

}  // namespace xbar::engine::commands
