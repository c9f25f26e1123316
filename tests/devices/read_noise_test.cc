// Read noise: moments over a million cells, clipping at 0 against the normal probability,
// per-read streams (reproducible by index, independent between reads and of the programming
// stages), and option errors.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "devices/programming_variation.h"
#include "devices/read_noise.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::ReadNoise;
using devices::ReadNoiseOptions;
using devices::RowMatrix;
using test::check_within_se;

namespace {

constexpr int64_t kSide = 1000;
constexpr double kCells = double(kSide * kSide);

ReadNoiseOptions noise(double rel, double abs_s = 0.0) {
  ReadNoiseOptions o;
  o.relative_sigma = rel;
  o.absolute_sigma_s = abs_s;
  return o;
}

}  // namespace

TEST_CASE("relative read noise has mean G and sigma relative_sigma * G") {
  const double g0 = 5e-5, rel = 0.02;
  const RowMatrix g = RowMatrix::Constant(kSide, kSide, g0);
  const devices::NoisyRead r = ReadNoise(noise(rel), 1).sample(g, 0);
  const double mean = r.g_s.mean();
  const double sd = std::sqrt((r.g_s.array() - mean).square().sum() / (kCells - 1));
  check_within_se("mean", mean, g0, rel * g0 / std::sqrt(kCells));
  check_within_se("SD", sd, rel * g0, rel * g0 / std::sqrt(2 * (kCells - 1)));
  CHECK(r.clipped_at_zero == 0);
}

TEST_CASE("negative noisy conductances are set to 0 and counted") {
  // Absolute noise on G = 0: exactly the draws with z < 0, probability 1/2.
  const RowMatrix g = RowMatrix::Zero(kSide, kSide);
  const devices::NoisyRead r = ReadNoise(noise(0.0, 1e-6), 2).sample(g, 0);
  check_within_se("clipped fraction", r.clipped_at_zero / kCells, 0.5,
                  test::binomial_se(0.5, kCells));
  CHECK(r.g_s.minCoeff() == 0.0);
  CHECK((r.g_s.array() == 0.0).count() == r.clipped_at_zero);
}

TEST_CASE("each read is reproduced by its index alone and reads are independent") {
  const ReadNoise rn(noise(0.05), 3);
  const RowMatrix g = RowMatrix::Constant(kSide, kSide, 1.0);  // noise = 0.05 z exactly
  const RowMatrix r1 = rn.sample(g, 1).g_s;
  const RowMatrix r0 = rn.sample(g, 0).g_s;  // out of order: same as if drawn first
  CHECK(rn.sample(g, 1).g_s == r1);
  CHECK(ReadNoise(noise(0.05), 3).sample(g, 0).g_s == r0);
  CHECK(ReadNoise(noise(0.05), 4).sample(g, 0).g_s != r0);
  // Cycle to cycle: the noise of reads 0 and 1 is uncorrelated, E[z0 z1] = 0 with SD 1 per cell.
  const double corr = ((r0.array() - 1.0) * (r1.array() - 1.0)).sum() / (0.05 * 0.05) / kCells;
  check_within_se("E[z_read0 z_read1]", corr, 0.0, 1.0 / std::sqrt(kCells));
}

TEST_CASE("read noise draws from its own stream, not the programming variation's") {
  const RowMatrix g = RowMatrix::Constant(50, 50, 5e-5);
  RowMatrix varied = g;
  devices::VariationOptions v;
  v.model = devices::VariationModel::kGaussian;
  v.relative_sigma = 0.05;
  devices::ConductanceRange wide;
  wide.g_min_s = 0;
  wide.g_max_s = 1;
  devices::apply_programming_variation(varied, v, wide, 7);
  const RowMatrix read = ReadNoise(noise(0.05), 7).sample(g, 0).g_s;
  CHECK((read.array() != varied.array()).count() == g.size());
}

TEST_CASE("disabled read noise returns the array unchanged") {
  const RowMatrix g = RowMatrix::Constant(3, 3, 2e-5);
  const auto r = ReadNoise(ReadNoiseOptions{}, 1).sample(g, 5);
  CHECK(r.g_s == g);
  CHECK(r.clipped_at_zero == 0);
}

TEST_CASE("read noise options name the key, the value and the broken constraint") {
  CHECK_THROWS_WITH_AS(
      noise(-0.01).validate(),
      doctest::Contains("key read-noise-sigma = -0.01: must be a finite value >= 0"), InputError);
  CHECK_THROWS_WITH_AS(noise(0, -1e-7).validate(),
                       doctest::Contains("key read-noise-sigma-s = -1e-07"), InputError);
  CHECK_THROWS_WITH_AS(ReadNoise(noise(0.01, 1e-7), 1), doctest::Contains("both set"), InputError);
}
