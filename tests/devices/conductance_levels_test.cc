// Finite conductance levels: uniform levels and snapping by hand, occupancy against the
// binomial expectation for uniformly spread targets, and every level-table CSV error with its
// file:line.
#include <doctest/doctest.h>

#include "devices/conductance_levels.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::ConductanceLevels;
using devices::ConductanceRange;
using devices::LevelOptions;
using devices::RowMatrix;

namespace {

// Uniform levels are g_min + span * k / (L - 1): one product, one division and one sum, each
// rounded once, so 4 ulp of the level is more than enough and any formula error is far larger.
constexpr double kLevelRelTol = 4 * 2.2e-16;

ConductanceRange range_of(double lo, double hi) {
  ConductanceRange r;
  r.g_min_s = lo;
  r.g_max_s = hi;
  return r;
}

}  // namespace

TEST_CASE("uniform levels are evenly spaced over the range with both ends included") {
  const auto lv = ConductanceLevels::uniform(5, range_of(1e-6, 5e-6));
  REQUIRE(lv.count() == 5);
  for (int k = 0; k < 5; ++k)
    CHECK(lv.levels_s()[k] == doctest::Approx((k + 1) * 1e-6).epsilon(kLevelRelTol));
  CHECK(lv.levels_s().front() == 1e-6);
  CHECK(lv.levels_s().back() == 5e-6);  // exactly the top of the window
}

TEST_CASE("a target snaps to the nearest level, halfway goes down and outside goes to the ends") {
  const auto lv = ConductanceLevels::uniform(5, range_of(0.0, 4.0));  // 0, 1, 2, 3, 4 exactly
  CHECK(lv.snap(2.49) == 2.0);
  CHECK(lv.snap(2.51) == 3.0);
  CHECK(lv.snap(1.5) == 1.0);  // halfway: the lower level
  CHECK(lv.snap(std::nextafter(1.5, 2.0)) == 2.0);
  CHECK(lv.snap(3.0) == 3.0);
  CHECK(lv.snap(-1.0) == 0.0);
  CHECK(lv.snap(10.0) == 4.0);
  CHECK(lv.nearest_index(3.7) == 4);
}

TEST_CASE("continuous levels leave every value as it is") {
  const ConductanceLevels lv;
  CHECK(lv.continuous());
  CHECK(lv.snap(3.14159e-5) == 3.14159e-5);
  RowMatrix g = RowMatrix::Constant(2, 2, 7e-6);
  CHECK(lv.snap_in_place(g).empty());
  CHECK(g(1, 1) == 7e-6);
}

TEST_CASE("level occupancy of uniformly spread targets matches the binomial expectation") {
  // Targets uniform on [0, 1] with 11 levels 0, 0.1, .., 1: a level's snapping interval is
  // 0.1 wide (0.05 for the two end levels), so it catches each target with that probability.
  const int64_t rows = 1000, cols = 1000;
  const double n = double(rows * cols);
  RowMatrix g = support::uniform_matrix(rows, cols, 0.0, 1.0, 2024);
  const auto lv = ConductanceLevels::uniform(11, range_of(0.0, 1.0));
  const std::vector<int64_t> occ = lv.snap_in_place(g);
  REQUIRE(occ.size() == 11);
  int64_t total = 0;
  for (size_t k = 0; k < occ.size(); ++k) {
    CAPTURE(k);
    const double p = (k == 0 || k == 10) ? 0.05 : 0.1;
    test::check_within_se("occupancy fraction", double(occ[k]) / n, p, test::binomial_se(p, n));
    total += occ[k];
  }
  CHECK(total == rows * cols);
  // Every cell now holds one of the levels.
  int64_t off_level = 0;
  for (Eigen::Index k = 0; k < g.size(); ++k) off_level += lv.snap(g.data()[k]) != g.data()[k];
  CHECK(off_level == 0);
}

TEST_CASE("pinned cells are neither snapped nor counted") {
  const auto lv = ConductanceLevels::uniform(3, range_of(0.0, 2.0));
  RowMatrix g(1, 3);
  g << 0.4, 0.6, 1.7;
  devices::StuckMask m = devices::StuckMask::Zero(1, 3);
  m(0, 1) = static_cast<uint8_t>(devices::CellState::kStuckOn);
  const auto occ = lv.snap_in_place(g, &m);
  CHECK(g(0, 0) == 0.0);
  CHECK(g(0, 1) == 0.6);
  CHECK(g(0, 2) == 2.0);
  CHECK(occ == std::vector<int64_t>{1, 0, 1});
}

TEST_CASE("a level table is read with header, comments, CRLF and trailing commas, then sorted") {
  test::ScratchFile f("levels_ok.csv",
                      "# measured 2-bit cell\r\n"
                      "conductance_s\r\n"
                      "\r\n"
                      "4e-5, # third\r\n"
                      "+1e-6\r\n"
                      "  2.5e-5  \r\n"
                      "1e-4\r\n");
  const std::vector<double> t = devices::read_level_table(f.path());
  CHECK(t == std::vector<double>{1e-6, 2.5e-5, 4e-5, 1e-4});
}

TEST_CASE("level table errors name the file and the line") {
  struct Case {
    const char* name;
    const char* text;
    const char* message;  // expected fragment, after "<path>"
  };
  const Case cases[] = {
      {"dup.csv", "g\n1e-6\n# x\n2e-6\n1e-6\n", ":5: level 1e-06 S duplicates line 2"},
      {"nan_word.csv", "g\n1e-6\nabc\n", ":3: 'abc' is not a number"},
      {"typo.csv", "1e-6x\n2e-6\n", ":1: '1e-6x' is not a number"},
      {"inf.csv", "g\n1e-6\ninf\n", ":3: conductance inf: must be finite"},
      {"inf_first.csv", "inf\n", ":1: conductance inf: must be finite"},
      {"neg.csv", "# c\n-1e-6\n", ":2: conductance -1e-06: must be >= 0 S"},
      {"two.csv", "g\n1e-6,2e-6\n", ":2: 2 fields: expected one conductance"},
      {"empty.csv", "# nothing\nconductance\n\n", ": no conductance levels"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    test::ScratchFile f(c.name, c.text);
    CHECK_THROWS_WITH_AS(devices::read_level_table(f.path()),
                         doctest::Contains((f.path() + c.message).c_str()), InputError);
  }
  CHECK_THROWS_WITH_AS(devices::read_level_table("/nonexistent/levels.csv"),
                       doctest::Contains("/nonexistent/levels.csv: cannot open"), InputError);
}

TEST_CASE("level options reject a single level, negative counts and levels with a table") {
  LevelOptions o;
  o.levels = 1;
  CHECK_THROWS_WITH_AS(
      o.validate(), doctest::Contains("key levels = 1: must be 0 (continuous) or 2"), InputError);
  o.levels = -3;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key levels = -3"), InputError);
  o.levels = 8;
  o.table_s = {1e-6, 2e-6};
  o.table_source = "t.csv";
  CHECK_THROWS_WITH_AS(o.validate(),
                       doctest::Contains("keys levels = 8 and level-table = t.csv both set"),
                       InputError);
  o.levels = 0;
  o.table_s = {2e-6, 1e-6};
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("sorted ascending and distinct"),
                       InputError);
}

TEST_CASE("make_levels builds the asked-for levels and rejects a table outside the window") {
  const ConductanceRange r = range_of(1e-6, 1e-4);
  LevelOptions o;
  CHECK(devices::make_levels(o, r).continuous());
  o.levels = 4;
  CHECK(devices::make_levels(o, r).count() == 4);
  o.levels = 0;
  o.table_s = {1e-6, 5e-5, 2e-4};
  o.table_source = "cell.csv";
  CHECK_THROWS_WITH_AS(devices::make_levels(o, r),
                       doctest::Contains("key level-table cell.csv: level 2e-04 S lies outside the "
                                         "device range [g-min, g-max] = [1e-06, 1e-04] S"),
                       InputError);
  o.table_s = {1e-6, 5e-5};
  const auto lv = devices::make_levels(o, r);
  CHECK(lv.levels_s() == o.table_s);
  CHECK(lv.snap(3e-5) == 5e-5);
}
