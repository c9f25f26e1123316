// Programming variation: the realised mean and sigma of G' against the model's closed forms
// (Gaussian and mean-preserving log-normal, relative and absolute), clipping counted against
// the probability of leaving the window, and the seed contract.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "devices/programming_variation.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::ConductanceRange;
using devices::RowMatrix;
using devices::VariationModel;
using devices::VariationOptions;
using test::check_within_se;

namespace {

constexpr int64_t kSide = 1000;  // 1e6 cells per draw
constexpr double kCells = double(kSide * kSide);
// Two summation orders (Welford in the code, Eigen's reduction here) of 1e6 relative errors of
// size ~0.05 agree to about n * eps * 0.05 ~ 1e-11 in the worst case.
constexpr double kSummationTol = 1e-10;

// A window wide enough that no draw below reaches it (|z| < 6 for 1e6 normals with
// overwhelming probability), so no clipping disturbs the moments.
ConductanceRange wide_range() {
  ConductanceRange r;
  r.g_min_s = 0.0;
  r.g_max_s = 1.0;
  return r;
}

VariationOptions options(VariationModel m, double rel, double abs_s = 0.0) {
  VariationOptions o;
  o.model = m;
  o.relative_sigma = rel;
  o.absolute_sigma_s = abs_s;
  return o;
}

struct Moments {
  double mean = 0, sd = 0;
};

Moments moments(const RowMatrix& x) {
  const double mean = x.mean();
  const double var = (x.array() - mean).square().sum() / double(x.size() - 1);
  return {mean, std::sqrt(var)};
}

}  // namespace

TEST_CASE("gaussian relative variation has mean G and sigma relative_sigma * G") {
  const double g0 = 5e-5, rel = 0.05;
  RowMatrix g = RowMatrix::Constant(kSide, kSide, g0);
  const auto st = devices::apply_programming_variation(g, options(VariationModel::kGaussian, rel),
                                                       wide_range(), 1);
  const Moments m = moments(g);
  const double sigma = rel * g0;
  check_within_se("mean G'", m.mean, g0, sigma / std::sqrt(kCells));
  // SE of a normal sample SD: sigma / sqrt(2 (n - 1)).
  check_within_se("SD G'", m.sd, sigma, sigma / std::sqrt(2 * (kCells - 1)));
  CHECK(st.cells_varied == kSide * kSide);
  CHECK(st.clipped_low + st.clipped_high == 0);
  // The reported relative error is the same statistic over (G' - G) / G.
  CHECK(st.rel_error_cells == kSide * kSide);
  CHECK(std::abs(st.rel_error_mean - (m.mean / g0 - 1)) <= kSummationTol);
  CHECK(std::abs(st.rel_error_sigma - m.sd / g0) <= kSummationTol);
}

TEST_CASE("gaussian absolute variation has the same sigma in siemens for every G") {
  const double sigma_s = 2e-6;
  RowMatrix g(kSide, kSide);
  g.leftCols(kSide / 2).setConstant(1e-5);
  g.rightCols(kSide / 2).setConstant(8e-5);
  const RowMatrix before = g;
  devices::apply_programming_variation(g, options(VariationModel::kGaussian, 0.0, sigma_s),
                                       wide_range(), 2);
  const double half = kCells / 2;
  for (int side = 0; side < 2; ++side) {
    CAPTURE(side);
    const RowMatrix d = side == 0 ? RowMatrix(g.leftCols(kSide / 2) - before.leftCols(kSide / 2))
                                  : RowMatrix(g.rightCols(kSide / 2) - before.rightCols(kSide / 2));
    const Moments m = moments(d);
    check_within_se("mean G' - G", m.mean, 0.0, sigma_s / std::sqrt(half));
    check_within_se("SD G' - G", m.sd, sigma_s, sigma_s / std::sqrt(2 * (half - 1)));
  }
}

TEST_CASE("lognormal relative variation preserves the mean and has sigma relative_sigma * G") {
  // Mean-preserving form G' = G exp(s z - s^2/2), s^2 = ln(1 + rel^2). Closed forms for
  // X = G'/G: E[X^k] = exp(k (k - 1) s^2 / 2), so E[X] = 1, Var X = rel^2, and ln X is exactly
  // N(-s^2/2, s^2).
  const double g0 = 4e-5, rel = 0.3;
  RowMatrix g = RowMatrix::Constant(kSide, kSide, g0);
  const auto st = devices::apply_programming_variation(g, options(VariationModel::kLognormal, rel),
                                                       wide_range(), 3);
  CHECK(st.clipped_low + st.clipped_high == 0);
  const RowMatrix x = g / g0;
  const Moments m = moments(x);
  const double s2 = std::log1p(rel * rel);
  check_within_se("mean G'/G", m.mean, 1.0, rel / std::sqrt(kCells));
  // SE of the sample SD from the exact 4th central moment of X (mean 1):
  // mu4 = E X^4 - 4 E X^3 + 6 E X^2 - 3; SE(s^2) = sqrt((mu4 - rel^4) / n);
  // SE(s) = SE(s^2) / (2 rel).
  const auto ex = [&](int k) { return std::exp(k * (k - 1) * s2 / 2); };
  const double mu4 = ex(4) - 4 * ex(3) + 6 * ex(2) - 3;
  check_within_se("SD G'/G", m.sd, rel, std::sqrt((mu4 - std::pow(rel, 4)) / kCells) / (2 * rel));
  const Moments lm = moments(RowMatrix(x.array().log()));
  check_within_se("mean ln(G'/G)", lm.mean, -s2 / 2, std::sqrt(s2 / kCells));
  check_within_se("SD ln(G'/G)", lm.sd, std::sqrt(s2), std::sqrt(s2 / (2 * (kCells - 1))));
  // Mean-preserving, not median-preserving: the median of G'/G is exp(-s^2/2) < 1, so the
  // fraction of cells below G is Phi(s/2) > 1/2.
  const double below = (x.array() < 1.0).cast<double>().sum() / kCells;
  const double p_below = 0.5 * std::erfc(-std::sqrt(s2) / 2 / std::sqrt(2.0));
  check_within_se("P(G' < G)", below, p_below, test::binomial_se(p_below, kCells));
}

TEST_CASE("lognormal absolute variation has sigma in siemens and keeps G' positive") {
  const double g0 = 2e-5, sigma_s = 4e-6;  // CV 0.2 at this G
  RowMatrix g = RowMatrix::Constant(kSide, kSide, g0);
  devices::apply_programming_variation(g, options(VariationModel::kLognormal, 0.0, sigma_s),
                                       wide_range(), 4);
  const double cv = sigma_s / g0, s2 = std::log1p(cv * cv);
  const auto ex = [&](int k) { return std::exp(k * (k - 1) * s2 / 2); };
  const double mu4 = ex(4) - 4 * ex(3) + 6 * ex(2) - 3;  // of G'/G, as above
  const Moments m = moments(RowMatrix(g / g0));
  check_within_se("mean G'/G", m.mean, 1.0, cv / std::sqrt(kCells));
  check_within_se("SD G'/G", m.sd, cv, std::sqrt((mu4 - std::pow(cv, 4)) / kCells) / (2 * cv));
  CHECK(g.minCoeff() > 0);
}

TEST_CASE("variation is clipped to the window and every clip is counted") {
  // Cells at g_max with a symmetric Gaussian: exactly half the draws (z > 0) leave the window
  // upwards; cells at g_min likewise downwards. Each half is a binomial(n/2, 1/2) count.
  ConductanceRange r;
  r.g_min_s = 1e-6;
  r.g_max_s = 1e-4;
  RowMatrix g(kSide, kSide);
  g.topRows(kSide / 2).setConstant(r.g_max_s);
  g.bottomRows(kSide / 2).setConstant(r.g_min_s);
  const auto st =
      devices::apply_programming_variation(g, options(VariationModel::kGaussian, 0.1), r, 5);
  const double half = kCells / 2;
  check_within_se("clipped high fraction", st.clipped_high / half, 0.5,
                  test::binomial_se(0.5, half));
  check_within_se("clipped low fraction", st.clipped_low / half, 0.5, test::binomial_se(0.5, half));
  CHECK(g.minCoeff() >= r.g_min_s);
  CHECK(g.maxCoeff() <= r.g_max_s);
  // The clipped values sit exactly on the rails.
  CHECK((g.array() == r.g_max_s).count() >= st.clipped_high);
}

TEST_CASE("pinned cells keep their value and do not shift the other cells' draws") {
  RowMatrix a = RowMatrix::Constant(20, 30, 5e-5), b = a;
  devices::StuckMask m = devices::StuckMask::Zero(20, 30);
  m(3, 4) = 1;
  m(10, 0) = 2;
  const auto o = options(VariationModel::kGaussian, 0.05);
  devices::apply_programming_variation(a, o, wide_range(), 9);
  const auto st = devices::apply_programming_variation(b, o, wide_range(), 9, &m);
  CHECK(st.cells_varied == 20 * 30 - 2);
  CHECK(b(3, 4) == 5e-5);
  CHECK(b(10, 0) == 5e-5);
  b(3, 4) = a(3, 4);
  b(10, 0) = a(10, 0);
  CHECK(a == b);
}

TEST_CASE("identical seeds give identical arrays and different seeds differ") {
  const auto o = options(VariationModel::kLognormal, 0.1);
  RowMatrix a = RowMatrix::Constant(64, 64, 3e-5), b = a, c = a;
  devices::apply_programming_variation(a, o, wide_range(), 77);
  devices::apply_programming_variation(b, o, wide_range(), 77);
  devices::apply_programming_variation(c, o, wide_range(), 78);
  CHECK(a == b);
  CHECK((a.array() != c.array()).count() == a.size());
}

TEST_CASE("model none changes nothing") {
  RowMatrix g = RowMatrix::Constant(4, 4, 3e-5);
  const auto st = devices::apply_programming_variation(g, VariationOptions{}, wide_range(), 1);
  CHECK(g == RowMatrix::Constant(4, 4, 3e-5));
  CHECK(st.cells_varied == 0);
}

TEST_CASE("variation options name the key, the value and the broken constraint") {
  VariationOptions o = options(VariationModel::kGaussian, -0.1);
  CHECK_THROWS_WITH_AS(o.validate(),
                       doctest::Contains("key variation-sigma = -0.1: must be a finite value >= 0"),
                       InputError);
  o = options(VariationModel::kGaussian, 0.0, -1e-6);
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key variation-sigma-s = -1e-06"),
                       InputError);
  o = options(VariationModel::kGaussian, 0.05, 1e-6);
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("both set"), InputError);
  o = options(VariationModel::kNone, 0.05);
  CHECK_THROWS_WITH_AS(o.validate(),
                       doctest::Contains("key variation = none but variation-sigma = 0.05"),
                       InputError);
  CHECK_THROWS_WITH_AS(
      devices::parse_variation_model("uniform"),
      doctest::Contains("key variation = 'uniform': expected none, gaussian or lognormal"),
      InputError);
  CHECK(devices::parse_variation_model("lognormal") == VariationModel::kLognormal);
}
