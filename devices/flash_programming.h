// Programming Flash cells: block erase to a starting threshold distribution, then
// program-verify by incremental step pulses (ISPP) toward a target read current per cell.
//
//   devices::FlashProgramOptions opt;   opt.seed = 7;   opt.pv_step_v = 0.005;
//   devices::FlashProgramResult r = devices::program_flash(cell, g_target_s,
//                                                          devices::FlashTarget::kConductance, opt);
//   r.vth_v        // the programmed thresholds: the per-cell matrix of build_crossbar()
//   r.status       // FlashVerify per cell; r.stats counts them and the pulses
//
// The model, stage by stage:
//  1. Erase (NOR erase is per block: every cell at once, and it is the only way down):
//     V_th0 = erase_vth_v + erase_sigma_v z, one standard normal z per cell in row-major
//     order from stage_seed(seed, SeedStage::kFlashErase).
//  2. Target. The verify read is the cell's own read at the operating point: drain at
//     v_read_v, source at 0 V, gate at the voltage of its gate line (the cell's GateLines);
//     a conductance target G means the read current G v_read_v. Target V_th per cell: the
//     read characteristic inverted at that point (FlashCell::threshold_for_current; reported,
//     the loop below verifies currents, not thresholds).
//  3. Program-verify. While the read current is above I_target (1 + pv_tol), apply one program
//     pulse: V_th += max(0, pv_step_v + pv_sigma_v z) (ISPP: with the gate pulse raised by a
//     fixed step each time the threshold moves by about that step per pulse; the spread is
//     the pulse-to-pulse randomness of the injected charge; a pulse never removes charge, so
//     the draw is clipped at 0 and counted), then read again. Each cell draws its pulses from
//     its own stream derive_seed(stage_seed(seed, SeedStage::kFlashProgram), i N + j), so a
//     cell's pulses do not depend on how many pulses other cells needed.
//  4. Outcome (FlashVerify): verified when the read lands within pv_tol of the target;
//     overshoot when the last pulse took it below I_target (1 - pv_tol) (program-verify cannot
//     go back: that needs a block erase); pulse limit when pv_max_pulses pulses did not reach
//     the window; above erased when the erased cell already reads below the window (the
//     target needs a lower threshold than erase gives). Every cell that fails is reported.
//
// Expected pulse count, which the tests check: with D = V_th,lo - V_th0 the distance from the
// erased threshold to the window's low edge (the threshold reading I_target (1 + pv_tol)),
// N = min{n : S_n >= D}, S_n the sum of n pulse shifts; for pv_sigma_v = 0 exactly
// ceil(D / pv_step_v), otherwise E[N] = sum_{n >= 0} P(S_n < D).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "devices/flash_cell.h"
#include "support/random_array.h"

namespace xbar::devices {

using support::RowMatrix;

enum class FlashTarget { kReadCurrent, kConductance };
std::string to_string(FlashTarget t);  // "read-current", "conductance"
FlashTarget parse_flash_target(const std::string& s);  // throws InputError naming key pv-target

enum class FlashVerify : uint8_t { kVerified = 0, kOvershoot = 1, kPulseLimit = 2, kAboveErased = 3 };
std::string to_string(FlashVerify v);  // "verified", "overshoot", "pulse-limit", "above-erased"

using FlashStatusMatrix = Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using PulseMatrix = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct FlashProgramOptions {
  // User seed [key seed]; the erase and pulse streams derive from it.
  uint64_t seed = 1;
  // Mean erased threshold [key flash-erase-vth], volts, finite. 0.2 V: below every threshold
  // the default device window needs (1-100 uS read at 0.2 V with a 1.8 V gate and the default
  // FlashParams is V_th 1.76-0.65 V), so programming only ever raises V_th.
  double erase_vth_v = 0.2;
  // Cell-to-cell spread of the erased threshold [key flash-erase-sigma], volts, finite, >= 0.
  double erase_sigma_v = 0.05;
  // Mean threshold shift per program pulse [key pv-step], volts, finite, > 0. A pulse that
  // moves V_th by more than the verify window jumps over it; with the defaults the window is
  // 2.5 mV of threshold at 1 uS (subthreshold-like, the current e-folds every n V_T) and 40 mV
  // at 100 uS, so 1 mV with the spread below (step + 5 sigma = 2 mV) never overshoots.
  double pv_step_v = 0.001;
  // Pulse-to-pulse spread of that shift [key pv-sigma], volts, finite, >= 0. 0.2 mV = 20 % of
  // the step.
  double pv_sigma_v = 0.0002;
  // Verify tolerance [key pv-tol]: relative to the target read current, in (0, 1). 2 %, a
  // usual write-verify precision for analog in-memory weights.
  double pv_tol = 0.02;
  // Most pulses per cell [key pv-max-pulses], >= 1. 3000 x 1 mV = 3 V of threshold travel,
  // twice what the default window needs from the erased level: the limit catches a cell
  // whose target sits far above the usual range.
  int pv_max_pulses = 3000;
  // Drain voltage of the verify read, the operating point [key v-read], volts, finite, > 0
  // (the CLI's read voltage default).
  double v_read_v = 0.2;
  // Throws xbar::InputError naming the key, the value and the constraint.
  void validate() const;
};

struct FlashProgramStats {
  uint64_t seed = 0;
  int64_t rows = 0, cols = 0;
  std::string target = "conductance";  // to_string(FlashTarget)
  int64_t verified = 0, overshoot = 0, pulse_limit = 0, above_erased = 0;
  int64_t pulses_total = 0;      // over every cell
  int32_t pulses_max = 0;        // the most any cell took
  double pulses_mean = 0.0;      // over every cell
  int64_t pulses_clipped = 0;    // pulse draws below 0, applied as no shift
  double vth_min_v = 0.0, vth_max_v = 0.0;  // programmed thresholds
  // Realised relative read error (I - I_target) / I_target over the verified cells.
  double read_rel_error_max = 0.0;
  std::string message;  // one line for the console
};

struct FlashProgramResult {
  RowMatrix vth_v;          // programmed thresholds, volts (M x N)
  RowMatrix vth_erased_v;   // after the erase
  RowMatrix vth_target_v;   // the thresholds that read exactly the targets
  RowMatrix read_a;         // the last verify read of every cell, amperes
  RowMatrix target_a;       // the target read currents, amperes
  PulseMatrix pulses;       // program pulses per cell
  FlashStatusMatrix status; // FlashVerify per cell
  FlashProgramStats stats;
};

// Programs an M x N array of `cell`s toward `target` (amperes for kReadCurrent, siemens for
// kConductance; each finite and > 0). Throws xbar::InputError for bad options, a bad target
// ("target conductance (i, j) = ...") or gate-line voltages that do not fit M x N.
FlashProgramResult program_flash(const FlashCell& cell, const RowMatrix& target, FlashTarget kind,
                                 const FlashProgramOptions& options);

}  // namespace xbar::devices
