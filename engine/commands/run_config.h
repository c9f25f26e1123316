// RunConfig: everything one `xbar netlist | solve | check | program | calibrate | size |
// transient | ppa` run needs, already parsed.
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
#include "calib/ppa.h"
#include "calib/size_sweep.h"
#include "calib/technology.h"
#include "devices/flash_programming.h"
#include "devices/flash_retention.h"
#include "devices/programming.h"
#include "devices/quantizer.h"
#include "devices/read_noise.h"
#include "devices/registry.h"
#include "engine/nn/weight_mapping.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_solver.h"
#include "solvers/crossbar_transient.h"
#include "solvers/transient_referee.h"

namespace xbar::engine::commands {

// check --transient: ngspice's .tran of the same deck against the native transient.
struct TransientCheckOptions {
  bool enabled = false;            // [key transient]
  // [key waveform-tol] largest difference of any column current at any native time point
  // after the input ramp, as a fraction of full scale; 1e-4 as issue 20 asks (with matched
  // steps; bench/README.md: native and ngspice at their tight settings differ by 3e-5-3e-4).
  double waveform_tol = 1e-4;
  // [key settle-steps-tol] largest settling-time difference of any column, in native steps
  // (the step that contains the native settling time): one step, as issue 20 asks.
  double settle_steps_tol = 1;
  // [key energy-tol] relative difference of the energy drawn from the row inputs: 0.1%.
  double energy_tol = 1e-3;
  // [keys ngspice-options, ngspice-tmax] the referee's .options and TMAX (transient_referee.h).
  solvers::TransientRefereeOptions referee;
  void validate() const;  // InputError naming the key
};

// ppa: the technology and the read-out, for one array or a network's tiles (--model).
struct PpaConfig {
  calib::Technology technology;   // the built-in defaults (calib/technology.ini) unless a file
  std::string technology_path;    // [key technology] FILE.ini, every key required
  calib::PpaOptions options;      // [keys adc-bits, columns-per-adc, read-time]
  std::string model_path;         // [key model] a network's tiles instead of one array
  // [keys tile-rows, tile-cols, weight-encoding, g-min, g-max] the tiles of --model, mapped as
  // `xbar evaluate` maps them (engine/nn/weight_mapping.h; targets from the floor g-min).
  nn::MappingOptions mapping;
};

struct RunConfig {
  std::string command;              // "netlist", "solve", "check", "program", "calibrate", "size", "transient", "ppa"
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
  double max_memory_bytes = 0;      // --max-memory: refuse runs estimated above it; 0 = this machine's memory
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
  // transient, ppa, check --transient, netlist --t-stop: the transient analysis (the
  // capacitances are spec.c_row_f / c_col_f; Newton and the linear back end from `solve`).
  solvers::CrossbarTransientOptions transient;
  bool transient_deck = false;        // netlist: --t-stop given, write a .tran deck
  TransientCheckOptions check_transient;
  PpaConfig ppa;
  nlohmann::json config_json;
};

}  // namespace xbar::engine::commands
