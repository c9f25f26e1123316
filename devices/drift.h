// Conductance drift: after programming, structural relaxation of the amorphous phase (PCM) or
// of the filament (RRAM, weaker) lowers the conductance along a power law in time,
//
//   G(t) = G0 (t / t0)^(-nu),   t >= t0 > 0,
//
// where G0 is the conductance read at t0 and nu is a per-device exponent (Ielmini, Lacaita and
// Mantegazza, "Recovery and drift dynamics of resistance and threshold voltages in phase-change
// memories", IEEE TED 54(2), 2007; per-device nu as in Joshi et al., Nat. Commun. 11, 2473, 2020).
//
//   devices::DriftOptions opt;
//   opt.time_s = 3600; opt.t0_s = 1; opt.nu_mean = 0.05; opt.nu_sigma = 0.01;
//   devices::DriftStats st = devices::apply_drift(g, opt, seed, &stuck_mask);
//
// nu per device: nu = max(0, nu_mean + nu_sigma z), z ~ N(0, 1), one normal per cell in
// row-major order (pinned cells included) from stage_seed(seed, SeedStage::kDrift). The draw
// is clipped at 0, not resampled: drift never raises the conductance (a negative nu would model
// a cell that gains conductance forever, which relaxation does not do), clipping keeps exactly
// one draw per cell so the streams stay aligned, and the clipped devices are counted
// (DriftStats::nu_clipped_at_zero). The mass below 0 becomes "no drift" for that device.
// Drift acts on every cell not pinned by a stuck-at defect (a stuck cell sits at a rail and
// does not relax) and is not clipped to the programming window: a drifted cell may fall below
// g_min_s. time_s = 0 disables drift (no draws).
#pragma once

#include <cstdint>

#include "devices/cell_state.h"
#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

struct DriftOptions {
  // Time since programming at which the array is read [key drift-time], seconds: 0 = no drift
  // (default: the ideal device), otherwise finite and >= t0_s. One day is 86400 s.
  double time_s = 0.0;
  // Reference time t0 at which G = G0, the programmed value [key drift-t0], seconds, finite,
  // > 0. 1 s is a common normalisation in the PCM drift literature (IBM's aihwkit PCM model
  // uses 20 s, its first read after programming).
  double t0_s = 1.0;
  // Mean drift exponent [key drift-nu], dimensionless, finite, in [0, 1]. 0.05 is typical of
  // partially RESET PCM (reported 0.01 .. 0.1); RRAM drift is usually an order smaller. The
  // upper bound 1 is far past any reported device and rejects a unit mistake (e.g. percent).
  double nu_mean = 0.05;
  // Device-to-device standard deviation of nu [key drift-nu-sigma], finite, >= 0. Default 0:
  // every device drifts alike unless a spread is asked for.
  double nu_sigma = 0.0;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  bool enabled() const { return time_s > 0; }
};

struct DriftStats {
  int64_t cells_drifted = 0;       // cells drift acted on (not pinned); 0 when disabled
  int64_t nu_clipped_at_zero = 0;  // of those, devices whose drawn nu was < 0 and set to 0
  double nu_mean_realised = 0.0;   // mean nu over the drifted cells, after clipping
  double factor_mean = 1.0;        // mean of (t/t0)^-nu over the drifted cells
};

// Applies drift in place to every cell not pinned (nullptr = all cells). `seed` is the user
// seed; the stage stream is derived from it. Validates `options` (InputError).
DriftStats apply_drift(RowMatrix& g_s, const DriftOptions& options, uint64_t seed,
                       const StuckMask* pinned = nullptr);

}  // namespace xbar::devices
