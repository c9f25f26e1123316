// RandomStream: the seeded random source of every non-ideality sampler, with each mapping from
// random bits to numbers spelled out. std::mt19937_64 is fully specified by the C++ standard;
// std::uniform_real_distribution and std::normal_distribution are not (libstdc++, libc++ and
// MSVC use different algorithms), so they are never used: the same seed gives the same arrays
// with any standard library.
//
//   devices::RandomStream rng(devices::stage_seed(user_seed, devices::SeedStage::kVariation));
//   double u = rng.uniform();   // [0, 1), 53 random bits
//   double z = rng.normal();    // standard normal, Box-Muller
//
// Seed derivation. One user seed (`--seed`) feeds every stage; each stage draws from its own
// stream so that changing one stage (say, a stuck-at rate) never shifts another stage's draws:
//
//   splitmix64(x):  x += 0x9E3779B97F4A7C15;
//                   x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
//                   x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
//                   return x ^ (x >> 31);
//   derive_seed(parent, index) = splitmix64(parent XOR splitmix64(index))
//   stage_seed(seed, stage)    = derive_seed(seed, stage constant below)
//
// splitmix64 is the output function of Steele, Lea and Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014 (Java's SplittableRandom); it is a bijection with full
// avalanche, so neighbouring user seeds (1, 2, 3, ...) give unrelated stage seeds. The stage's
// std::mt19937_64 is seeded with the derived value. The random target arrays of
// support::uniform_matrix() use the user seed directly, never a derived one, so targets and
// non-idealities are not correlated either.
//
// Mappings (row-major cell order, one draw per cell unless said otherwise):
//   uniform():  u = (w >> 11) * 2^-53 for one 64-bit output w; u in [0, 1), the same mapping as
//               support::uniform_matrix().
//   bernoulli(p): uniform() < p; P = ceil(p * 2^53) / 2^53, exact for p a multiple of 2^-53.
//   normal():   Box-Muller on two consecutive outputs w1, w2:
//                 u1 = ((w1 >> 11) + 1) * 2^-53 in (0, 1]   (never 0, so log(u1) is finite)
//                 u2 = (w2 >> 11) * 2^-53       in [0, 1)
//                 r = sqrt(-2 ln u1), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2)
//               returns z0 and keeps z1 for the next call.
// Only caveat: std::log, std::cos and std::sin are not required to be correctly rounded, so two
// math libraries may give normals that differ in the last bit; on one platform every draw is
// bit-for-bit reproducible.
#pragma once

#include <cstdint>
#include <random>

namespace xbar::devices {

// Stage constants of stage_seed(). Part of the reproducibility contract: a recorded seed
// reproduces an array only while these values stay fixed, so never renumber, only append.
enum class SeedStage : uint64_t {
  kStuckAt = 1,    // stuck-at cell placement (stuck_at.h)
  kVariation = 2,  // device-to-device programming variation (programming_variation.h)
  kDrift = 3,      // per-device drift exponent nu (drift.h)
  kReadNoise = 4,  // cycle-to-cycle read noise (read_noise.h), one sub-stream per read
  kFlashErase = 5,      // erased threshold of each Flash cell (flash_programming.h)
  kFlashProgram = 6,    // program-verify pulse shifts, one sub-stream per cell (flash_programming.h)
  kFlashRetention = 7,  // per-cell retention (charge-loss) coefficient (flash_retention.h)
};

uint64_t splitmix64(uint64_t x);
uint64_t derive_seed(uint64_t parent, uint64_t index);
uint64_t stage_seed(uint64_t user_seed, SeedStage stage);

class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : engine_(seed) {}

  // [0, 1) with 53 random bits: one engine output.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  // True with probability p (p <= 0: never, p >= 1: always): one engine output.
  bool bernoulli(double p) { return uniform() < p; }
  // Standard normal by Box-Muller: two engine outputs every second call.
  double normal();

 private:
  std::mt19937_64 engine_;
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace xbar::devices
