// DAC/ADC quantization: hand-computed levels and rounding on small cases, the clip counts, the
// zero level of the two's-complement range, pass-through at bits = 0, and the D^2/12 error
// variance of uniformly spread inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "support/input_error.h"
#include "devices/quantizer.h"
#include "support/random_array.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::UniformQuantizer;

namespace {
// lo + k D with D = (hi - lo) / 7 is rounded twice; 1e-15 absolute on unit ranges covers it.
constexpr double kLevelAbsTol = 1e-15;
}  // namespace

TEST_CASE("a 2-bit quantizer on [0, 1.5] has levels 0, 0.5, 1, 1.5 and rounds halfway up") {
  const UniformQuantizer q(2, 0.0, 1.5);
  CHECK(q.levels() == 4);
  CHECK(q.step() == 0.5);
  CHECK(q.quantize(0.0) == 0.0);  // mid-tread: 0 is a level
  CHECK(q.quantize(0.24) == 0.0);
  CHECK(q.quantize(0.25) == 0.5);  // halfway: up
  CHECK(q.quantize(0.74) == 0.5);
  CHECK(q.quantize(0.75) == 1.0);
  CHECK(q.quantize(1.3) == 1.5);
  CHECK(q.quantize(1.5) == 1.5);   // full scale exactly
  CHECK(q.quantize(1.6) == 1.5);   // clipped
  CHECK(q.quantize(-0.1) == 0.0);  // clipped
}

TEST_CASE("quantizing in place counts the values clipped at each end") {
  const UniformQuantizer q(2, 0.0, 1.5);
  Eigen::VectorXd v(6);
  v << -0.1, 0.3, 1.6, 2.0, 1.5, 0.0;
  const devices::QuantizeCounts c = q.quantize_in_place(v);
  CHECK(c.values == 6);
  CHECK(c.clipped_low == 1);
  CHECK(c.clipped_high == 2);  // 1.5 and 0.0 are in range, not clips
  Eigen::VectorXd expected(6);
  expected << 0.0, 0.5, 1.5, 1.5, 1.5, 0.0;
  CHECK(v == expected);
  devices::RowMatrix m(1, 2);
  m << 3.0, -3.0;
  devices::QuantizeCounts total = c;
  total += q.quantize_in_place(m);
  CHECK(total.values == 8);
  CHECK(total.clipped_low == 2);
  CHECK(total.clipped_high == 3);
}

TEST_CASE("a symmetric range is mid-rise about 0 and the two's-complement range has a zero level") {
  // [-1, 1], 3 bits: D = 2/7, levels -1 + 2k/7; 0 lies halfway between k = 3 and 4 and rounds up.
  const UniformQuantizer sym(3, -1.0, 1.0);
  CHECK(std::abs(sym.quantize(0.0) - 1.0 / 7.0) <= kLevelAbsTol);
  CHECK(std::abs(sym.quantize(-0.5) - (-3.0 / 7.0)) <= kLevelAbsTol);  // k = floor(1.75 + 0.5) = 2
  // Two's-complement range [-4 D, 3 D] with D = 0.25: 0 is level k = 4.
  const UniformQuantizer tc(3, -1.0, 0.75);
  CHECK(tc.step() == 0.25);
  CHECK(tc.quantize(0.0) == 0.0);
  CHECK(tc.quantize(0.1) == 0.0);
  CHECK(tc.quantize(0.13) == 0.25);
}

TEST_CASE("a 1-bit quantizer is a comparator at mid-range") {
  const UniformQuantizer q(1, 0.0, 1.0);
  CHECK(q.quantize(0.49) == 0.0);
  CHECK(q.quantize(0.5) == 1.0);
}

TEST_CASE("bits = 0 passes every value through and clips nothing") {
  devices::DacOptions o;  // bits 0, no range needed
  const UniformQuantizer q = devices::make_dac(o);
  CHECK(q.pass_through());
  Eigen::VectorXd v(3);
  v << -5.0, 0.123456789, 1e9;
  const Eigen::VectorXd before = v;
  const auto c = q.quantize_in_place(v);
  CHECK(v == before);
  CHECK(c.clipped_low + c.clipped_high == 0);
  CHECK(std::isnan(UniformQuantizer(4, 0, 1).quantize(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("the quantization error of uniformly spread inputs has mean 0 and variance D^2/12") {
  // Inputs uniform over the range: the error is uniform on [-D/2, D/2) (the two half treads at
  // the ends together make one full tread), mean 0, variance D^2/12, 4th moment D^4/80.
  const UniformQuantizer q(8, 0.0, 1.0);
  const int64_t n = 200000;
  devices::RowMatrix x = support::uniform_matrix(1, n, 0.0, 1.0, 99);
  const devices::RowMatrix before = x;
  const auto c = q.quantize_in_place(x);
  CHECK(c.clipped_low + c.clipped_high == 0);
  const Eigen::ArrayXXd e = (x - before).array();
  const double d = q.step(), mean = e.mean(), var = (e - mean).square().sum() / double(n - 1);
  CHECK(e.abs().maxCoeff() <= d / 2 + 1e-15);
  test::check_within_se("mean error", mean, 0.0, std::sqrt(d * d / 12 / double(n)));
  test::check_within_se("error variance", var, d * d / 12,
                        std::sqrt((std::pow(d, 4) / 80 - std::pow(d * d / 12, 2)) / double(n)));
}

TEST_CASE("converter options name the key, the value and the broken constraint") {
  devices::AdcOptions adc;
  adc.bits = 8;  // no full scale given
  CHECK_THROWS_WITH_AS(
      adc.validate(),
      doctest::Contains(
          "key adc-i-max = 0: must be finite and > adc-i-min = 0 A when adc-bits = 8"),
      InputError);
  adc.bits = 33;
  CHECK_THROWS_WITH_AS(adc.validate(),
                       doctest::Contains("key adc-bits = 33: must be 0 (unlimited) or 1 .. 32"),
                       InputError);
  devices::DacOptions dac;
  dac.bits = -1;
  CHECK_THROWS_WITH_AS(dac.validate(), doctest::Contains("key dac-bits = -1"), InputError);
  dac.bits = 6;
  dac.v_min_v = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(dac.validate(), doctest::Contains("key dac-v-min = nan: must be finite (V)"),
                       InputError);
  dac.v_min_v = 0.0;
  dac.v_max_v = 0.2;
  const UniformQuantizer q = devices::make_dac(dac);
  CHECK(q.levels() == 64);
  CHECK(q.quantize(0.2) == 0.2);
}
