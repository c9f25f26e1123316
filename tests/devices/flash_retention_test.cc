// Flash retention: dV_th = -alpha ln(1 + t / tau) in closed form when every cell shares alpha
// (also for t << tau, where ln(1 + x) must not be computed as log(1 + x)), the statistics of a
// per-cell alpha, its clipping at 0, and the keys.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "devices/flash_retention.h"
#include "support/input_error.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::RetentionOptions;
using devices::RowMatrix;
using test::check_within_se;

namespace {

// The shift against the closed form: a few ulp of the thresholds (volts of order 1).
constexpr double kShiftTolV = 1e-15;

RetentionOptions retention(double t_s, double tau_s, double alpha, double sigma) {
  RetentionOptions o;
  o.time_s = t_s;
  o.tau_s = tau_s;
  o.alpha_v = alpha;
  o.alpha_sigma_v = sigma;
  return o;
}

}  // namespace

TEST_CASE("without spread every threshold falls by exactly alpha ln(1 + t / tau)") {
  RowMatrix vth(2, 3);
  vth << 0.7, 1.1, 1.5, -0.2, 0.0, 2.4;
  const RowMatrix v0 = vth;
  const double t = 3.156e8, tau = 2.0, alpha = 0.012;  // ten years
  const auto st = devices::apply_retention(vth, retention(t, tau, alpha, 0.0), 1);
  const double shift = -alpha * std::log(1 + t / tau);  // 1 + t/tau is exact enough here
  for (Eigen::Index k = 0; k < vth.size(); ++k) CHECK(std::abs(vth.data()[k] - (v0.data()[k] + shift)) <= kShiftTolV);
  CHECK(st.cells == 6);
  CHECK(st.alpha_clipped_at_zero == 0);
  CHECK(st.alpha_mean_realised_v == alpha);
  CHECK(st.shift_mean_v == doctest::Approx(shift).epsilon(1e-14));
  CHECK(st.shift_min_v == doctest::Approx(shift).epsilon(1e-14));
  // About -0.23 V after ten years with alpha = 12 mV (alpha ln 10 = 27.6 mV per decade).
  CHECK(shift == doctest::Approx(-0.2265).epsilon(1e-3));
}

TEST_CASE("long before tau the loss is linear in time, alpha t / tau, to full precision") {
  // t / tau = 1e-12: log(1 + 1e-12) in double is off by ~1e-4 relative (1 + 1e-12 rounds), the
  // series x - x^2/2 is exact here to 1e-24 relative.
  RowMatrix vth = RowMatrix::Zero(1, 1);
  devices::apply_retention(vth, retention(1e-12, 1.0, 0.5, 0.0), 1);
  const double x = 1e-12;
  CHECK(vth(0, 0) == doctest::Approx(-0.5 * (x - x * x / 2)).epsilon(1e-15));
}

TEST_CASE("per-cell alpha has the requested mean and sigma within five standard errors") {
  const int64_t side = 1000;
  const double n = double(side * side), t = 1e6, tau = 1.0, mu = 0.01, sd = 0.002;
  RowMatrix vth = RowMatrix::Constant(side, side, 1.0);
  const auto st = devices::apply_retention(vth, retention(t, tau, mu, sd), 17);
  const Eigen::ArrayXXd alpha = (1.0 - vth.array()) / std::log1p(t / tau);
  const double mean = alpha.mean();
  const double var = (alpha - mean).square().sum() / (n - 1);
  check_within_se("mean alpha", mean, mu, sd / std::sqrt(n));
  check_within_se("SD alpha", std::sqrt(var), sd, sd / std::sqrt(2 * (n - 1)));
  CHECK(st.alpha_clipped_at_zero == 0);  // P = Phi(-5) per cell: ~0.3 expected
  // A different seed draws different alphas; the same seed the same ones.
  RowMatrix again = RowMatrix::Constant(side, side, 1.0), other = again;
  devices::apply_retention(again, retention(t, tau, mu, sd), 17);
  devices::apply_retention(other, retention(t, tau, mu, sd), 18);
  CHECK(again == vth);
  CHECK(other != vth);
}

TEST_CASE("negative alpha draws are clipped to 0 and counted: retention never raises a threshold") {
  const int64_t side = 1000;
  const double n = double(side * side);
  RowMatrix vth = RowMatrix::Constant(side, side, 1.0);
  const auto st = devices::apply_retention(vth, retention(100, 1, 0.01, 0.01), 23);
  const double p = 0.5 * std::erfc(1.0 / std::sqrt(2.0));  // Phi(-1)
  check_within_se("clipped fraction", st.alpha_clipped_at_zero / n, p, test::binomial_se(p, n));
  CHECK((vth.array() == 1.0).count() == st.alpha_clipped_at_zero);
  CHECK((vth.array() <= 1.0).all());
}

TEST_CASE("with retention off nothing moves") {
  RowMatrix vth = RowMatrix::Constant(3, 3, 0.8);
  const auto st = devices::apply_retention(vth, RetentionOptions{}, 1);
  CHECK(vth == RowMatrix::Constant(3, 3, 0.8));
  CHECK(st.cells == 0);
}

TEST_CASE("bad retention options throw InputError naming the key") {
  auto expect_error = [](const RetentionOptions& o, const std::string& needle) {
    RowMatrix vth = RowMatrix::Zero(1, 1);
    try {
      devices::apply_retention(vth, o, 1);
      FAIL("no InputError; expected one naming " << needle);
    } catch (const InputError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
    }
  };
  expect_error(retention(-1, 1, 0.01, 0), "key retention-time = -1");
  expect_error(retention(NAN, 1, 0.01, 0), "key retention-time = nan");
  expect_error(retention(10, 0, 0.01, 0), "key retention-tau = 0");
  expect_error(retention(10, 1, -0.01, 0), "key retention-alpha = -0.01");
  expect_error(retention(10, 1, 0.01, -1), "key retention-alpha-sigma = -1");
}
