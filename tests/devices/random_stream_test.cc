// The random source under every sampler: splitmix64 against its published outputs, and the
// uniform and normal mappings against the moments of U[0, 1) and N(0, 1).
#include <doctest/doctest.h>

#include <cmath>

#include "support/random_array.h"
#include "devices/random_stream.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::RandomStream;
using test::check_within_se;

namespace {
constexpr int kDraws = 1000000;  // 1e6: standard errors of 1e-3 of sigma, ~30 ms per pass
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
}  // namespace

TEST_CASE("splitmix64 reproduces the published outputs of the generator seeded with 0") {
  // Outputs k = 0, 1, 2 of splitmix64.c (Steele, Lea and Flood 2014; prng.di.unimi.it) with
  // state 0: output k is the finalizer applied to k * golden gamma.
  CHECK(devices::splitmix64(0) == 0xE220A8397B1DCDAFull);
  CHECK(devices::splitmix64(kGolden) == 0x6E789E6AA1B965F4ull);
  CHECK(devices::splitmix64(2 * kGolden) == 0x06C45D188009454Full);
}

TEST_CASE("stage seeds differ between stages and between neighbouring user seeds") {
  using devices::SeedStage;
  const SeedStage stages[] = {SeedStage::kStuckAt, SeedStage::kVariation, SeedStage::kDrift,
                              SeedStage::kReadNoise};
  for (uint64_t seed : {0ull, 1ull, 2ull}) {
    for (SeedStage a : stages)
      for (SeedStage b : stages)
        if (a != b) CHECK(devices::stage_seed(seed, a) != devices::stage_seed(seed, b));
    CHECK(devices::stage_seed(seed, SeedStage::kVariation) !=
          devices::stage_seed(seed + 1, SeedStage::kVariation));
    // The stage seed is never the raw user seed, which the random target arrays use.
    for (SeedStage a : stages) CHECK(devices::stage_seed(seed, a) != seed);
  }
  // The documented formula, spelled out.
  CHECK(devices::stage_seed(7, SeedStage::kDrift) ==
        devices::splitmix64(7 ^ devices::splitmix64(3)));
}

TEST_CASE("uniform draws use the same 53-bit mapping as the random target arrays") {
  const support::RowMatrix m = support::uniform_matrix(3, 5, 0.0, 1.0, 42);
  RandomStream rng(42);
  for (int k = 0; k < 15; ++k) CHECK(rng.uniform() == m.data()[k]);
}

TEST_CASE("uniform draws have the mean and variance of U[0, 1) within five standard errors") {
  RandomStream rng(11);
  double sum = 0, sum2 = 0, lo = 1, hi = 0;
  for (int k = 0; k < kDraws; ++k) {
    const double u = rng.uniform();
    sum += u;
    sum2 += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double n = kDraws, mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  check_within_se("mean", mean, 0.5, std::sqrt(1.0 / 12.0 / n));
  // SE of a sample variance: sqrt((mu4 - sigma^4) / n); for U[0,1) mu4 = 1/80, sigma^4 = 1/144.
  check_within_se("variance", var, 1.0 / 12.0, std::sqrt((1.0 / 80 - 1.0 / 144) / n));
}

TEST_CASE("normal draws match N(0, 1) in mean, variance, tails and pair independence") {
  RandomStream rng(12);
  double sum = 0, sum2 = 0, below_minus_one = 0, above_two = 0, pair_product = 0;
  double previous = 0;
  for (int k = 0; k < kDraws; ++k) {
    const double z = rng.normal();
    sum += z;
    sum2 += z * z;
    below_minus_one += z < -1.0;
    above_two += z > 2.0;
    // z0 z1 of one Box-Muller pair (k odd) must be uncorrelated: E[z0 z1] = 0, SD 1.
    if (k % 2 == 1) pair_product += previous * z;
    previous = z;
  }
  const double n = kDraws, mean = sum / n, var = sum2 / n - mean * mean;
  check_within_se("mean", mean, 0.0, 1.0 / std::sqrt(n));
  // SE of a sample variance of N(0, 1): sqrt((mu4 - 1) / n) = sqrt(2 / n).
  check_within_se("variance", var, 1.0, std::sqrt(2.0 / n));
  // Phi(-1) and 1 - Phi(2), from erfc: 0.5 erfc(1 / sqrt 2), 0.5 erfc(2 / sqrt 2).
  const double p1 = 0.5 * std::erfc(1.0 / std::sqrt(2.0)),
               p2 = 0.5 * std::erfc(2.0 / std::sqrt(2.0));
  check_within_se("P(z < -1)", below_minus_one / n, p1, test::binomial_se(p1, n));
  check_within_se("P(z > 2)", above_two / n, p2, test::binomial_se(p2, n));
  check_within_se("E[z0 z1]", pair_product / (n / 2), 0.0, 1.0 / std::sqrt(n / 2));
}

TEST_CASE("a stream is reproduced by its seed and differs for another seed") {
  RandomStream a(5), b(5), c(6);
  int same_ac = 0;
  for (int k = 0; k < 1000; ++k) {
    const double za = a.normal(), zb = b.normal(), zc = c.normal();
    CHECK(za == zb);
    same_ac += za == zc;
  }
  CHECK(same_ac == 0);
}

TEST_CASE("bernoulli draws succeed with probability p within five standard errors") {
  RandomStream rng(13);
  for (double p : {0.0, 0.003, 0.25, 1.0}) {
    double hits = 0;
    for (int k = 0; k < kDraws / 4; ++k) hits += rng.bernoulli(p);
    const double n = kDraws / 4;
    if (p == 0.0 || p == 1.0)
      CHECK(hits == p * n);  // exact at the ends
    else
      check_within_se("bernoulli frequency", hits / n, p, test::binomial_se(p, n));
  }
}
