#include "devices/random_stream.h"

#include <cmath>

namespace xbar::devices {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t derive_seed(uint64_t parent, uint64_t index) {
  return splitmix64(parent ^ splitmix64(index));
}

uint64_t stage_seed(uint64_t user_seed, SeedStage stage) {
  return derive_seed(user_seed, static_cast<uint64_t>(stage));
}

double RandomStream::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_normal_;
  }
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double u1 = double((engine_() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  const double u2 = double(engine_() >> 11) * 0x1.0p-53;        // [0, 1)
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = kTwoPi * u2;
  spare_normal_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

}  // namespace xbar::devices
