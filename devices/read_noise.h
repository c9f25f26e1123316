// Cycle-to-cycle read noise: every read of the array sees the programmed conductances plus a
// fresh Gaussian fluctuation (random telegraph and 1/f noise of the filament or the amorphous
// volume, lumped into one white term per read).
//
//   devices::ReadNoise noise(opt, user_seed);
//   devices::NoisyRead r = noise.sample(g_programmed, read_index);   // read_index = 0, 1, ...
//   solve with r.g_s; report r.clipped_at_zero
//
// Model: G_read = G + sigma(G) z, z ~ N(0, 1) per cell, row-major order, with
//   sigma(G) = relative_sigma * G  [key read-noise-sigma], or
//   sigma(G) = absolute_sigma_s    [key read-noise-sigma-s].
// A negative result is set to 0 S (a conductance cannot be negative, and the nodal matrix
// needs G >= 0) and counted. It is not clipped to the programming window: read noise is a
// fluctuation of the state, not a programmed value.
//
// Seeds: read k draws from derive_seed(stage_seed(seed, SeedStage::kReadNoise), k), its own
// stream. So a read is reproduced from (seed, k) alone, independently of how many reads came
// before or of how a batch is split across threads, and it is independent of the programming
// stages that used the same user seed. sample() is const and thread-safe.
#pragma once

#include <cstdint>

#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

struct ReadNoiseOptions {
  // Relative sigma [key read-noise-sigma]: SD of G_read as a fraction of G, finite, >= 0.
  // Reported RRAM read noise is ~0.5 .. 5 % of G. Default 0: no noise unless asked for.
  double relative_sigma = 0.0;
  // Absolute sigma [key read-noise-sigma-s], siemens, finite, >= 0; the alternative to
  // relative_sigma (at most one of the two may be non-zero). Default 0.
  double absolute_sigma_s = 0.0;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  bool enabled() const { return relative_sigma > 0 || absolute_sigma_s > 0; }
};

struct NoisyRead {
  RowMatrix g_s;                // the conductances this read sees, siemens
  int64_t clipped_at_zero = 0;  // cells whose noisy value was negative and set to 0
};

class ReadNoise {
 public:
  // Validates `options` (InputError); `seed` is the user seed.
  ReadNoise(const ReadNoiseOptions& options, uint64_t seed);
  // Read number `read_index` of the array g_s (finite, >= 0). With noise disabled it returns
  // g_s unchanged and draws nothing.
  NoisyRead sample(const RowMatrix& g_s, uint64_t read_index) const;

 private:
  ReadNoiseOptions options_;
  uint64_t stream_seed_;
};

}  // namespace xbar::devices
