// Stuck-at defects: rates against the binomial expectation, the nesting of defect sets across
// rates, masks (values and shape) with element-naming errors, and the rails.
#include <doctest/doctest.h>

#include <limits>

#include "support/input_error.h"
#include "devices/stuck_at.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::CellState;
using devices::RowMatrix;
using devices::StuckAtOptions;
using devices::StuckMask;

namespace {

constexpr uint8_t kOn = static_cast<uint8_t>(CellState::kStuckOn);
constexpr uint8_t kOff = static_cast<uint8_t>(CellState::kStuckOff);

StuckAtOptions rates(double on, double off) {
  StuckAtOptions o;
  o.stuck_on_rate = on;
  o.stuck_off_rate = off;
  return o;
}

}  // namespace

TEST_CASE("stuck-at rates are realised within five standard errors over a million cells") {
  const int64_t rows = 1000, cols = 1000;
  const double n = double(rows * cols);
  for (auto [p_on, p_off] : {std::pair{0.01, 0.02}, std::pair{0.001, 0.0}, std::pair{0.3, 0.5}}) {
    CAPTURE(p_on);
    CAPTURE(p_off);
    const StuckMask m = devices::place_stuck_cells(rows, cols, rates(p_on, p_off), 31);
    const devices::StuckCounts c = devices::count_stuck_cells(m);
    test::check_within_se("stuck-on fraction", c.stuck_on / n, p_on, test::binomial_se(p_on, n));
    if (p_off > 0)
      test::check_within_se("stuck-off fraction", c.stuck_off / n, p_off,
                            test::binomial_se(p_off, n));
    else
      CHECK(c.stuck_off == 0);
  }
}

TEST_CASE("raising a stuck-at rate only adds defects to those placed at the lower rate") {
  const StuckMask low = devices::place_stuck_cells(200, 300, rates(0.01, 0.01), 5);
  const StuckMask high = devices::place_stuck_cells(200, 300, rates(0.05, 0.01), 5);
  int64_t lost = 0;
  for (Eigen::Index k = 0; k < low.size(); ++k)
    lost += low.data()[k] == kOn && high.data()[k] != kOn;
  CHECK(lost == 0);
  CHECK(devices::count_stuck_cells(high).stuck_on > devices::count_stuck_cells(low).stuck_on);
}

TEST_CASE("stuck cells go to the rails and the counts are returned") {
  devices::ConductanceRange r;
  r.g_min_s = 2e-6;
  r.g_max_s = 8e-5;
  RowMatrix g = RowMatrix::Constant(2, 3, 3e-5);
  StuckMask m = StuckMask::Zero(2, 3);
  m(0, 1) = kOn;
  m(1, 2) = kOff;
  m(1, 0) = kOn;
  const devices::StuckCounts c = devices::apply_stuck_cells(g, m, r);
  CHECK(c.stuck_on == 2);
  CHECK(c.stuck_off == 1);
  CHECK(g(0, 1) == 8e-5);
  CHECK(g(1, 0) == 8e-5);
  CHECK(g(1, 2) == 2e-6);
  CHECK(g(0, 0) == 3e-5);
}

TEST_CASE("identical seeds place identical defects and different seeds differ") {
  const auto o = rates(0.1, 0.1);
  const StuckMask a = devices::place_stuck_cells(100, 100, o, 8);
  const StuckMask b = devices::place_stuck_cells(100, 100, o, 8);
  const StuckMask c = devices::place_stuck_cells(100, 100, o, 9);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("a mask is taken as given and must match the array shape") {
  RowMatrix values(2, 2);
  values << 0, 1, 2, 0;
  StuckAtOptions o;
  o.mask = devices::stuck_mask_from_values(values, "defects.npy");
  o.mask_source = "defects.npy";
  const StuckMask m = devices::place_stuck_cells(2, 2, o, 1);
  CHECK(m(0, 1) == kOn);
  CHECK(m(1, 0) == kOff);
  CHECK(devices::count_stuck_cells(m).stuck_on == 1);
  CHECK_THROWS_WITH_AS(
      devices::place_stuck_cells(2, 3, o, 1),
      doctest::Contains("key stuck-mask defects.npy: shape (2, 2) does not match the array (2, 3)"),
      InputError);
}

TEST_CASE("mask values other than 0, 1 and 2 are errors naming the element") {
  const double bad[] = {3.0, 0.5, -1.0, std::numeric_limits<double>::quiet_NaN()};
  const char* shown[] = {"3", "0.5", "-1", "nan"};
  for (int k = 0; k < 4; ++k) {
    RowMatrix values = RowMatrix::Zero(3, 4);
    values(2, 1) = bad[k];
    values(2, 3) = 7;  // a later bad element: the first one (row-major) is reported
    CHECK_THROWS_WITH_AS(
        devices::stuck_mask_from_values(values, "m.npy"),
        doctest::Contains((std::string("key stuck-mask m.npy: element (2, 1) = ") + shown[k] +
                           ": must be 0 (healthy), 1 (stuck-on) or 2 (stuck-off)")
                              .c_str()),
        InputError);
  }
  StuckAtOptions o;
  o.mask = StuckMask::Zero(2, 2);
  o.mask(1, 1) = 9;  // filled in code, caught by validate()
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("element (1, 1) = 9"), InputError);
}

TEST_CASE("stuck-at options reject bad rates and a mask given with rates") {
  CHECK_THROWS_WITH_AS(
      rates(-0.1, 0).validate(),
      doctest::Contains("key stuck-on-rate = -0.1: must be a probability in [0, 1]"), InputError);
  CHECK_THROWS_WITH_AS(rates(0, 1.5).validate(), doctest::Contains("key stuck-off-rate = 1.5"),
                       InputError);
  CHECK_THROWS_WITH_AS(rates(0.6, 0.5).validate(), doctest::Contains("their sum must be <= 1"),
                       InputError);
  StuckAtOptions o = rates(0.01, 0);
  o.mask = StuckMask::Zero(2, 2);
  o.mask_source = "m.npy";
  CHECK_THROWS_WITH_AS(
      o.validate(),
      doctest::Contains("keys stuck-mask = m.npy and stuck-on-rate/stuck-off-rate both set"),
      InputError);
  // Rates 0 and 1 are exact: nobody or everybody.
  CHECK(devices::count_stuck_cells(devices::place_stuck_cells(50, 50, rates(1, 0), 3)).stuck_on ==
        2500);
  CHECK(devices::count_stuck_cells(devices::place_stuck_cells(50, 50, rates(0, 1), 3)).stuck_off ==
        2500);
}
