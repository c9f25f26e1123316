// Flash retention: after programming, charge leaks off the floating gate (trap-assisted
// tunnelling through the oxide, detrapping in charge-trap cells) and the threshold voltage
// falls with the logarithm of time,
//
//   dV_th(t) = -alpha ln(1 + t / tau),
//
// the log-time law of charge loss (e.g. Kim et al., "A new investigation of data retention
// time in truly nanoscaled flash memories", IEDM 2003; Mielke et al., "Flash EEPROM threshold
// instabilities due to charge trapping during program/erase cycling", IEEE TDMR 4, 335
// (2004)): linear in t for t << tau, alpha per e-fold of time after that (alpha ln 10 per
// decade).
//
//   devices::RetentionOptions opt;  opt.time_s = 3.15e7;  opt.alpha_v = 0.01;  opt.alpha_sigma_v = 0.002;
//   devices::RetentionStats st = devices::apply_retention(vth_v, opt, seed);
//
// alpha per device: alpha = max(0, alpha_v + alpha_sigma_v z), z ~ N(0, 1), one normal per cell
// in row-major order from stage_seed(seed, SeedStage::kFlashRetention). As for drift (drift.h)
// the draw is clipped at 0, not resampled: retention never raises a threshold, one draw per cell
// keeps the stream aligned, and the clipped devices are counted. time_s = 0 disables it (no
// draws).
#pragma once

#include <cstdint>

#include "support/random_array.h"

namespace xbar::devices {

using support::RowMatrix;

struct RetentionOptions {
  // Time since programming [key retention-time], seconds, finite, >= 0; 0 = none (default).
  // Ten years is 3.156e8 s.
  double time_s = 0.0;
  // Onset time tau [key retention-tau], seconds, finite, > 0. 1 s: the loss is logarithmic
  // from the first second on, the usual normalisation of retention bakes.
  double tau_s = 1.0;
  // Mean loss per e-fold of (1 + t/tau) [key retention-alpha], volts, finite, >= 0. 10 mV
  // (23 mV per decade, about 0.2 V after ten years): a multi-level NOR cell's budget.
  double alpha_v = 0.01;
  // Device-to-device standard deviation of alpha [key retention-alpha-sigma], volts, finite,
  // >= 0. Default 0: every cell loses alike unless a spread is asked for.
  double alpha_sigma_v = 0.0;
  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  bool enabled() const { return time_s > 0; }
};

struct RetentionStats {
  int64_t cells = 0;                  // cells shifted (0 when disabled)
  int64_t alpha_clipped_at_zero = 0;  // draws of alpha below 0, applied as no loss
  double alpha_mean_realised_v = 0;   // mean alpha after clipping, volts
  double shift_mean_v = 0;            // mean dV_th, volts (<= 0)
  double shift_min_v = 0;             // the largest loss, volts (most negative dV_th)
};

// Shifts every threshold of vth_v (volts) in place. `seed` is the user seed. Validates options.
RetentionStats apply_retention(RowMatrix& vth_v, const RetentionOptions& options, uint64_t seed);

}  // namespace xbar::devices
