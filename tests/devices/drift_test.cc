// Drift: the power law in closed form when every device shares nu, the statistics of nu over a
// million devices, the truncation at 0 against Phi(-nu_mean / nu_sigma), and the time checks.
#include <doctest/doctest.h>

#include <cmath>

#include "devices/drift.h"
#include "support/input_error.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::DriftOptions;
using devices::RowMatrix;
using test::check_within_se;

namespace {

// exp(-nu ln(t/t0)) against std::pow(t/t0, -nu): two libm paths, each within an ulp or two.
constexpr double kPowerLawRelTol = 1e-14;

DriftOptions drift(double t_s, double t0_s, double nu, double nu_sigma) {
  DriftOptions o;
  o.time_s = t_s;
  o.t0_s = t0_s;
  o.nu_mean = nu;
  o.nu_sigma = nu_sigma;
  return o;
}

}  // namespace

TEST_CASE("with nu_sigma = 0 every cell follows G0 (t / t0)^-nu exactly") {
  RowMatrix g(2, 3);
  g << 1e-6, 5e-6, 2e-5, 4e-5, 8e-5, 1e-4;
  const RowMatrix g0 = g;
  const double t = 86400, t0 = 20, nu = 0.06;
  const auto st = devices::apply_drift(g, drift(t, t0, nu, 0.0), 1);
  for (Eigen::Index k = 0; k < g.size(); ++k)
    CHECK(g.data()[k] ==
          doctest::Approx(g0.data()[k] * std::pow(t / t0, -nu)).epsilon(kPowerLawRelTol));
  CHECK(st.cells_drifted == 6);
  CHECK(st.nu_clipped_at_zero == 0);
  CHECK(st.nu_mean_realised == nu);
  CHECK(st.factor_mean == doctest::Approx(std::pow(t / t0, -nu)).epsilon(kPowerLawRelTol));
}

TEST_CASE("at t = t0 and with drift off nothing changes") {
  RowMatrix g = RowMatrix::Constant(3, 3, 4e-5);
  devices::apply_drift(g, drift(5, 5, 0.1, 0.02), 1);
  CHECK(g == RowMatrix::Constant(3, 3, 4e-5));
  const auto st = devices::apply_drift(g, DriftOptions{}, 1);  // time_s = 0: off
  CHECK(g == RowMatrix::Constant(3, 3, 4e-5));
  CHECK(st.cells_drifted == 0);
}

TEST_CASE("per-device nu has the requested mean and sigma within five standard errors") {
  // nu = -ln(G/G0) / ln(t/t0) recovers each device's exponent; with nu_mean = 10 nu_sigma the
  // truncation at 0 (P = Phi(-10) ~ 8e-24) is invisible, so nu is N(nu_mean, nu_sigma^2).
  const int64_t side = 1000;
  const double n = double(side * side), t = 1e4, t0 = 1, mu = 0.05, sd = 0.005;
  RowMatrix g = RowMatrix::Constant(side, side, 5e-5);
  const auto st = devices::apply_drift(g, drift(t, t0, mu, sd), 17);
  const Eigen::ArrayXXd nu = -(g.array() / 5e-5).log() / std::log(t / t0);
  const double mean = nu.mean();
  const double var = (nu - mean).square().sum() / (n - 1);
  check_within_se("mean nu", mean, mu, sd / std::sqrt(n));
  check_within_se("SD nu", std::sqrt(var), sd, sd / std::sqrt(2 * (n - 1)));
  CHECK(st.nu_clipped_at_zero == 0);
}

TEST_CASE("negative draws of nu are clipped to 0, counted, and those devices do not drift") {
  // nu_mean = nu_sigma: P(nu < 0) = Phi(-1) = 0.1587 per device.
  const int64_t side = 1000;
  const double n = double(side * side);
  RowMatrix g = RowMatrix::Constant(side, side, 5e-5);
  const auto st = devices::apply_drift(g, drift(100, 1, 0.02, 0.02), 23);
  const double p = 0.5 * std::erfc(1.0 / std::sqrt(2.0));
  check_within_se("clipped fraction", st.nu_clipped_at_zero / n, p, test::binomial_se(p, n));
  // The clipped devices are exactly the unchanged ones; no device gained conductance.
  CHECK((g.array() == 5e-5).count() == st.nu_clipped_at_zero);
  CHECK(g.maxCoeff() <= 5e-5);
}

TEST_CASE("stuck cells do not drift and identical seeds give identical arrays") {
  RowMatrix a = RowMatrix::Constant(30, 30, 5e-5), b = a, c = a;
  devices::StuckMask m = devices::StuckMask::Zero(30, 30);
  m(2, 2) = 1;
  const auto o = drift(1000, 1, 0.05, 0.01);
  const auto st = devices::apply_drift(a, o, 4, &m);
  devices::apply_drift(b, o, 4, &m);
  devices::apply_drift(c, o, 5, &m);
  CHECK(st.cells_drifted == 899);
  CHECK(a(2, 2) == 5e-5);
  CHECK(a == b);
  CHECK((a.array() != c.array()).count() == a.size() - 1);
}

TEST_CASE("drift options name the key, the value and the broken constraint") {
  CHECK_THROWS_WITH_AS(
      drift(0.5, 1, 0.05, 0).validate(),
      doctest::Contains(
          "key drift-time = 0.5: must be 0 (no drift) or finite and >= drift-t0 = 1 s"),
      InputError);
  CHECK_THROWS_WITH_AS(drift(10, 0, 0.05, 0).validate(),
                       doctest::Contains("key drift-t0 = 0: must be finite and > 0 s"), InputError);
  CHECK_THROWS_WITH_AS(drift(10, 1, -0.01, 0).validate(),
                       doctest::Contains("key drift-nu = -0.01: must be in [0, 1]"), InputError);
  CHECK_THROWS_WITH_AS(drift(10, 1, 0.05, -1).validate(),
                       doctest::Contains("key drift-nu-sigma = -1: must be a finite value >= 0"),
                       InputError);
}
