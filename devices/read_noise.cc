#include "devices/read_noise.h"

#include <cmath>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"

namespace xbar::devices {

void ReadNoiseOptions::validate() const {
  if (!std::isfinite(relative_sigma) || relative_sigma < 0)
    throw InputError("key read-noise-sigma = " + format_number(relative_sigma) +
                     ": must be a finite value >= 0 (a fraction of G)");
  if (!std::isfinite(absolute_sigma_s) || absolute_sigma_s < 0)
    throw InputError("key read-noise-sigma-s = " + format_number(absolute_sigma_s) +
                     ": must be a finite value >= 0 S");
  if (relative_sigma > 0 && absolute_sigma_s > 0)
    throw InputError("keys read-noise-sigma = " + format_number(relative_sigma) +
                     " and read-noise-sigma-s = " + format_number(absolute_sigma_s) +
                     " both set: give the sigma either relative to G or in siemens, not both");
}

ReadNoise::ReadNoise(const ReadNoiseOptions& options, uint64_t seed)
    : options_(options), stream_seed_(stage_seed(seed, SeedStage::kReadNoise)) {
  options_.validate();
}

NoisyRead ReadNoise::sample(const RowMatrix& g_s, uint64_t read_index) const {
  NoisyRead r;
  r.g_s = g_s;
  if (!options_.enabled()) return r;
  RandomStream rng(derive_seed(stream_seed_, read_index));
  for (Eigen::Index k = 0; k < r.g_s.size(); ++k) {
    double& g = r.g_s.data()[k];  // row-major storage: k runs in row-major cell order
    const double sigma =
        options_.absolute_sigma_s > 0 ? options_.absolute_sigma_s : options_.relative_sigma * g;
    g += sigma * rng.normal();
    if (g < 0) {
      g = 0;
      ++r.clipped_at_zero;
    }
  }
  return r;
}

}  // namespace xbar::devices
