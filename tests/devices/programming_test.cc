// The programming pipeline: stage order (stuck-at, levels, variation, drift) checked through
// closed forms, the statistics it reports against the requested ones, the independence of the
// stage streams, and the input errors `xbar program` will show.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "support/input_error.h"
#include "devices/programming.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::ProgrammingOptions;
using devices::RowMatrix;
using devices::VariationModel;

namespace {

constexpr uint8_t kOn = static_cast<uint8_t>(devices::CellState::kStuckOn);
constexpr uint8_t kOff = static_cast<uint8_t>(devices::CellState::kStuckOff);
// Two summation orders of 1e6 relative errors of size ~0.05: ~1e-11 apart at worst.
constexpr double kSummationTol = 1e-10;
// Level times (t/t0)^-nu: the pipeline computes exp(-nu ln(t/t0)), the referee std::pow.
constexpr double kPowerLawRelTol = 1e-14;

// Targets uniform inside the default window [1 uS, 100 uS], from the random-array generator.
RowMatrix targets(int64_t rows, int64_t cols, uint64_t seed = 123) {
  return support::uniform_matrix(rows, cols, 1e-6, 1e-4, seed);
}

ProgrammingOptions everything_on() {
  ProgrammingOptions o;
  o.seed = 42;
  o.stuck.stuck_on_rate = 0.02;
  o.stuck.stuck_off_rate = 0.03;
  o.levels.levels = 16;
  o.variation.model = VariationModel::kLognormal;
  o.variation.relative_sigma = 0.05;
  o.drift.time_s = 3600;
  o.drift.nu_mean = 0.03;
  o.drift.nu_sigma = 0.01;
  return o;
}

}  // namespace

TEST_CASE("with every non-ideality off the programmed array is the target") {
  const RowMatrix t = targets(17, 9);
  const auto r = devices::program_conductances(t, ProgrammingOptions{});
  CHECK(r.g_s == t);
  CHECK(r.stats.stuck_source == "none");
  CHECK(r.stats.stuck.stuck_on + r.stats.stuck.stuck_off == 0);
  CHECK(r.stats.levels_available == 0);
  CHECK(r.stats.variation.cells_varied == 0);
  CHECK(r.stats.drift.cells_drifted == 0);
  CHECK(r.stats.total_rel_error_mean == 0.0);
  CHECK(r.stats.total_rel_error_sigma == 0.0);
  CHECK(r.stats.message == "programmed 17 x 9 (seed 1)");
}

TEST_CASE("targets outside the window are clipped into it and counted") {
  RowMatrix t = RowMatrix::Constant(2, 2, 5e-5);
  t(0, 0) = 0.0;
  t(1, 1) = 3e-4;
  t(1, 0) = 2e-4;
  const auto r = devices::program_conductances(t, ProgrammingOptions{});
  CHECK(r.stats.targets_clipped_low == 1);
  CHECK(r.stats.targets_clipped_high == 2);
  CHECK(r.g_s(0, 0) == 1e-6);
  CHECK(r.g_s(1, 1) == 1e-4);
  CHECK(r.stats.message.find("3 targets clipped into [g-min, g-max]") != std::string::npos);
}

TEST_CASE("stuck cells sit exactly on the rails after every later stage") {
  const auto r = devices::program_conductances(targets(300, 300), everything_on());
  int64_t on = 0, off = 0, off_rail = 0;
  for (Eigen::Index k = 0; k < r.g_s.size(); ++k) {
    const uint8_t s = r.stuck_mask.data()[k];
    on += s == kOn;
    off += s == kOff;
    if (s == kOn) off_rail += r.g_s.data()[k] != 1e-4;
    if (s == kOff) off_rail += r.g_s.data()[k] != 1e-6;
  }
  CHECK(off_rail == 0);
  CHECK(r.stats.stuck.stuck_on == on);
  CHECK(r.stats.stuck.stuck_off == off);
  CHECK(r.stats.stuck_source == "rates");
  // The stages after stuck-at act on the healthy cells only.
  const int64_t healthy = 300 * 300 - on - off;
  int64_t occupied = 0;
  for (int64_t n : r.stats.level_occupancy) occupied += n;
  CHECK(occupied == healthy);
  CHECK(r.stats.variation.cells_varied == healthy);
  CHECK(r.stats.drift.cells_drifted == healthy);
  // Realised defect rates over 9e4 cells, five standard errors.
  const double n = 300.0 * 300.0;
  test::check_within_se("stuck-on fraction", on / n, 0.02, test::binomial_se(0.02, n));
  test::check_within_se("stuck-off fraction", off / n, 0.03, test::binomial_se(0.03, n));
}

TEST_CASE(
    "levels come before drift: without variation each cell is a level times the drift factor") {
  ProgrammingOptions o;
  o.levels.levels = 8;
  o.drift.time_s = 1e5;
  o.drift.t0_s = 10;
  o.drift.nu_mean = 0.04;  // nu_sigma = 0: every device alike
  const auto r = devices::program_conductances(targets(40, 50), o);
  const double factor = std::pow(1e5 / 10, -0.04);
  const std::vector<double>& lv = r.stats.levels_s;
  REQUIRE(lv.size() == 8);
  int64_t not_on_level = 0;
  for (Eigen::Index k = 0; k < r.g_s.size(); ++k) {
    const double level = r.g_s.data()[k] / factor;
    double nearest = lv[0];
    for (double l : lv)
      if (std::abs(l - level) < std::abs(nearest - level)) nearest = l;
    not_on_level += std::abs(level - nearest) > kPowerLawRelTol * nearest;
  }
  CHECK(not_on_level == 0);
  CHECK(r.stats.levels_used == 8);  // 2000 uniform targets reach every one of 8 levels
}

TEST_CASE(
    "the reported programming error matches the requested sigma within five standard errors") {
  // Gaussian variation of 5 % around mid-window targets: no clipping, so the realised relative
  // error is N(0, 0.05^2) and the end-to-end error equals it (no other stage is on).
  ProgrammingOptions o;
  o.variation.model = VariationModel::kGaussian;
  o.variation.relative_sigma = 0.05;
  const int64_t side = 1000;
  const double n = double(side * side);
  const auto r = devices::program_conductances(RowMatrix::Constant(side, side, 5e-5), o);
  const auto& v = r.stats.variation;
  CHECK(v.clipped_low + v.clipped_high == 0);
  CHECK(v.rel_error_cells == side * side);
  test::check_within_se("mean relative error", v.rel_error_mean, 0.0, 0.05 / std::sqrt(n));
  test::check_within_se("SD relative error", v.rel_error_sigma, 0.05,
                        0.05 / std::sqrt(2 * (n - 1)));
  CHECK(std::abs(r.stats.total_rel_error_mean - v.rel_error_mean) <= kSummationTol);
  CHECK(std::abs(r.stats.total_rel_error_sigma - v.rel_error_sigma) <= kSummationTol);
}

TEST_CASE("changing the stuck-at rate leaves the other stages' draws of a healthy cell unchanged") {
  ProgrammingOptions a = everything_on(), b = everything_on();
  b.stuck.stuck_on_rate = 0.1;
  const RowMatrix t = targets(100, 100);
  const auto ra = devices::program_conductances(t, a);
  const auto rb = devices::program_conductances(t, b);
  int64_t compared = 0, differ = 0;
  for (Eigen::Index k = 0; k < t.size(); ++k) {
    if (ra.stuck_mask.data()[k] != 0 || rb.stuck_mask.data()[k] != 0) continue;
    ++compared;
    differ += ra.g_s.data()[k] != rb.g_s.data()[k];
  }
  CHECK(compared > 8000);
  CHECK(differ == 0);
}

TEST_CASE("identical seeds give identical arrays and different seeds differ") {
  const RowMatrix t = targets(64, 64);
  ProgrammingOptions o = everything_on();
  const auto a = devices::program_conductances(t, o);
  const auto b = devices::program_conductances(t, o);
  o.seed = 43;
  const auto c = devices::program_conductances(t, o);
  CHECK(a.g_s == b.g_s);
  CHECK(a.stuck_mask == b.stuck_mask);
  CHECK(a.stats.seed == 42);
  CHECK(c.stats.seed == 43);
  // Healthy cells of both runs all differ (variation and drift are continuous).
  int64_t same = 0;
  for (Eigen::Index k = 0; k < t.size(); ++k)
    if (a.stuck_mask.data()[k] == 0 && c.stuck_mask.data()[k] == 0)
      same += a.g_s.data()[k] == c.g_s.data()[k];
  CHECK(same == 0);
  CHECK(a.stuck_mask != c.stuck_mask);
}

TEST_CASE("a stuck mask is used as given and reported as the source") {
  ProgrammingOptions o;
  o.stuck.mask = devices::StuckMask::Zero(2, 3);
  o.stuck.mask(0, 2) = kOff;
  o.stuck.mask_source = "map.npy";
  const auto r = devices::program_conductances(RowMatrix::Constant(2, 3, 5e-5), o);
  CHECK(r.stats.stuck_source == "mask");
  CHECK(r.stats.stuck.stuck_off == 1);
  CHECK(r.g_s(0, 2) == 1e-6);
  CHECK_THROWS_WITH_AS(
      devices::program_conductances(RowMatrix::Constant(3, 2, 5e-5), o),
      doctest::Contains("key stuck-mask map.npy: shape (2, 3) does not match the array (3, 2)"),
      InputError);
}

TEST_CASE("bad targets and bad options are input errors naming the element or the key") {
  RowMatrix t = RowMatrix::Constant(3, 4, 5e-5);
  t(1, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(
      devices::program_conductances(t, ProgrammingOptions{}),
      doctest::Contains("target conductance (1, 2) = nan: must be finite and >= 0 S"), InputError);
  t(1, 2) = -1e-6;
  CHECK_THROWS_WITH_AS(devices::program_conductances(t, ProgrammingOptions{}),
                       doctest::Contains("target conductance (1, 2) = -1e-06"), InputError);
  CHECK_THROWS_WITH_AS(devices::program_conductances(RowMatrix(0, 4), ProgrammingOptions{}),
                       doctest::Contains("target conductance matrix is empty"), InputError);
  ProgrammingOptions o;
  o.range.g_max_s = 1e-7;
  CHECK_THROWS_WITH_AS(o.validate(),
                       doctest::Contains("key g-max = 1e-07: must be finite and > g-min = 1e-06 S"),
                       InputError);
  o = ProgrammingOptions{};
  o.levels.table_s = {5e-7, 1e-5};
  o.levels.table_source = "lv.csv";
  CHECK_THROWS_WITH_AS(o.validate(),
                       doctest::Contains("key level-table lv.csv: level 5e-07 S lies outside"),
                       InputError);
  o = ProgrammingOptions{};
  o.variation.relative_sigma = -0.1;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key variation-sigma = -0.1"), InputError);
}

TEST_CASE("the one-line message names every stage that acted") {
  const auto r = devices::program_conductances(targets(32, 32), everything_on());
  const std::string& m = r.stats.message;
  CAPTURE(m);
  CHECK(m.find("programmed 32 x 32 (seed 42)") == 0);
  CHECK(m.find("stuck-on") != std::string::npos);
  CHECK(m.find("of 16 levels used") != std::string::npos);
  CHECK(m.find("lognormal variation") != std::string::npos);
  CHECK(m.find("drift to 3600 s") != std::string::npos);
}
