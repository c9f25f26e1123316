// The sweep INI grammar (engine/sweep/sweep_grid.h): lists, ranges, integer ranges, quoted values,
// zip groups, the order of the grid, point seeds, and one clear file:line error for each kind
// of bad line. Values are checked against lists written out by hand.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/input_error.h"
#include "devices/random_stream.h"
#include "engine/sweep/sweep_grid.h"

using xbar::engine::sweep::SweepDefinition;
using Strings = std::vector<std::string>;

namespace {

// Accepts every key except `bogus` (the real check comes from the CLI; see sweep_cli_test.cc).
std::string accept_all_but_bogus(const std::string& command, const std::string& key) {
  return key == "bogus" ? "unknown key 'bogus' for " + command : "";
}

SweepDefinition parse(const std::string& text) {
  std::istringstream in(text);
  return xbar::engine::sweep::parse_sweep_ini(in, "S.ini", accept_all_but_bogus);
}

// The message of the InputError that parsing `text` throws ("" if none).
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const xbar::InputError& e) {
    return e.what();
  }
  return "";
}

Strings expand(const std::string& item) { return xbar::engine::sweep::expand_sweep_value("k", item, "S.ini:1: "); }

std::string value_of(const xbar::engine::sweep::SweepPoint& p, const std::string& key) {
  for (const auto& k : p.keys)
    if (k.key == key) return k.value;
  return "<missing>";
}

}  // namespace

TEST_CASE("sweep ranges include their stop and print without rounding noise") {
  CHECK(expand("0.5:0.5:3") == Strings{"0.5", "1", "1.5", "2", "2.5", "3"});
  // (0.8 - 0.5) / 0.1 = 2.9999999999999996 steps: the stop is still included.
  CHECK(expand("0.5:0.1:0.8") == Strings{"0.5", "0.6", "0.7", "0.8"});
  // 0.1 + 2 * 0.1 = 0.30000000000000004 in binary; it reads 0.3.
  CHECK(expand("0.1:0.1:0.3") == Strings{"0.1", "0.2", "0.3"});
  CHECK(expand("3:-1:1") == Strings{"3", "2", "1"});
  CHECK(expand("1:2:6") == Strings{"1", "3", "5"});  // 6 is not on the grid
  CHECK(expand("1e-6:1e-6:3e-6") == Strings{"1e-06", "2e-06", "3e-06"});
  CHECK(expand("2:1:2") == Strings{"2"});
  CHECK(expand("1..5") == Strings{"1", "2", "3", "4", "5"});
  CHECK(expand("-2..1") == Strings{"-2", "-1", "0", "1"});
  CHECK(expand("\"16,32,64\"") == Strings{"16,32,64"});
  CHECK(expand("auto") == Strings{"auto"});
  CHECK(expand("../g.npy") == Strings{"../g.npy"});  // a path, not a range
  CHECK(expand("-0.2") == Strings{"-0.2"});
}

TEST_CASE("sweep lists mix values and ranges; a quoted item keeps its commas") {
  const SweepDefinition d = parse("command = size\nr-row = 1, 2:2:6, 10\nsizes = \"16,32\", \"64,128\"\n");
  REQUIRE(d.keys.size() == 2);
  CHECK(d.keys[0].values == Strings{"1", "2", "4", "6", "10"});
  CHECK(d.keys[1].values == Strings{"16,32", "64,128"});
  CHECK(d.points() == 10);
}

TEST_CASE("sweep grid: Cartesian product in file order, last axis fastest, zip groups as one axis") {
  const SweepDefinition d = parse(
      "[array]\ncommand = calibrate   # comment\nrows = 8, 16, 32\nr-row = 1, 2\ncols = 4, 8, 12\n"
      "scale = auto\nzip = rows, cols\n");
  REQUIRE(d.points() == 6);  // (rows, cols) zipped: 3, times r-row: 2
  REQUIRE(d.axes.size() == 2);
  const Strings expect_rows = {"8", "8", "16", "16", "32", "32"};
  const Strings expect_cols = {"4", "4", "8", "8", "12", "12"};
  const Strings expect_r = {"1", "2", "1", "2", "1", "2"};
  for (int64_t i = 0; i < 6; ++i) {
    const auto p = d.point(i);
    CHECK(value_of(p, "rows") == expect_rows[size_t(i)]);
    CHECK(value_of(p, "cols") == expect_cols[size_t(i)]);
    CHECK(value_of(p, "r-row") == expect_r[size_t(i)]);
    CHECK(value_of(p, "scale") == "auto");  // a fixed key reaches every point
  }
  CHECK(d.point(3).id == "00003");
  CHECK(d.swept_keys() == Strings{"rows", "cols", "r-row"});
  // where each value came from, for the subcommand's own error messages
  CHECK(d.point(0).keys[0].where == "S.ini:3");
}

TEST_CASE("derived point seeds come from the sweep seed and the point, not from its position") {
  const SweepDefinition a = parse("command = solve\nsweep-seed = 42\nrows = 8, 16\nr-row = 1, 2\n");
  const SweepDefinition b = parse("command = solve\nsweep-seed = 42\nr-row = 2, 1\nrows = 16, 8\n");
  // Point (rows 16, r-row 2) is index 3 in a and index 0 in b.
  REQUIRE(value_of(a.point(3), "rows") == "16");
  REQUIRE(value_of(b.point(0), "rows") == "16");
  CHECK(a.point(3).seed == b.point(0).seed);
  // The rule, computed independently: FNV-1a of the sorted key=value lines, then derive_seed.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : std::string("r-row=2\nrows=16\n")) h = (h ^ c) * 0x100000001b3ULL;
  const uint64_t expect = xbar::devices::derive_seed(42, h) & ((uint64_t(1) << 53) - 1);
  CHECK(a.point(3).seed == expect);
  CHECK(value_of(a.point(3), "seed") == std::to_string(expect));
  // Different points, different seeds; another sweep seed, other seeds.
  CHECK(a.point(0).seed != a.point(3).seed);
  const SweepDefinition c = parse("command = solve\nsweep-seed = 43\nrows = 8, 16\nr-row = 1, 2\n");
  CHECK(c.point(3).seed != a.point(3).seed);
  // FNV-1a test vectors (Fowler/Noll/Vo reference): "" and "a".
  CHECK(xbar::engine::sweep::fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(xbar::engine::sweep::fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
}

TEST_CASE("a seed key in the sweep INI is every point's seed, as written") {
  const SweepDefinition d = parse("command = solve\nseed = 1..3\nrows = 8, 16\n");
  REQUIRE(d.points() == 6);
  CHECK(d.point(0).seed == 1);
  CHECK(d.point(1).seed == 1);
  CHECK(d.point(5).seed == 3);
  CHECK(d.swept_keys() == Strings{"rows"});  // the seed has its own column
  CHECK(d.seed_source == xbar::engine::sweep::SeedSource::kSwept);
}

TEST_CASE("bad sweep INIs are refused with the file, line and what was expected") {
  // bad ranges
  CHECK(error_of("command = solve\nr-row = 0.5:0:3\n") == "S.ini:2: key r-row = '0.5:0:3': bad range: the step must not be 0");
  CHECK(error_of("command = solve\nr-row = 3:0.5:0.5\n").find("S.ini:2: key r-row = '3:0.5:0.5': bad range: the step 0.5 goes away from stop 0.5") == 0);
  CHECK(error_of("command = solve\nr-row = 0.5:3\n").find("S.ini:2: key r-row = '0.5:3': bad range: expected start:step:stop") == 0);
  CHECK(error_of("command = solve\nseed = 5..1\n").find("S.ini:2: key seed = '5..1': bad integer range") == 0);
  CHECK(error_of("command = solve\nseed = 1..2.5\n").find("S.ini:2: key seed = '1..2.5': bad integer range") == 0);
  CHECK(error_of("command = solve\nr-row = 1e-9:1e-9:1\n").find("S.ini:2: key r-row = '1e-9:1e-9:1': bad range: more than") == 0);
  // unknown key (the message of the key check, with the line)
  CHECK(error_of("command = solve\n\nbogus = 3\n") == "S.ini:3: unknown key 'bogus' for solve");
  // empty list, empty item
  CHECK(error_of("command = solve\nrows =\n") == "S.ini:2: key 'rows' has no value after '=' (an empty list)");
  CHECK(error_of("command = solve\nrows = 8,,16\n").find("S.ini:2: key rows = '': empty item") == 0);
  // zip length mismatch, and other zip mistakes
  CHECK(error_of("command = solve\nrows = 8, 16, 32\ncols = 8, 16\nzip = rows, cols\n") ==
        "S.ini:4: zip = 'rows, cols': rows has 3 value(s) (line 2) but cols has 2 (line 3); zipped keys vary "
        "together and need lists of the same length");
  CHECK(error_of("command = solve\nrows = 8, 16\nzip = rows, cols\n").find("S.ini:3: zip = 'rows, cols': 'cols' is not a key") == 0);
  CHECK(error_of("command = solve\nrows = 8, 16\nzip = rows\n").find("S.ini:3: zip = 'rows': a zip group needs at least two keys") == 0);
  CHECK(error_of("command = solve\nrows = 8, 16\ncols = 1, 2\nr-row = 1, 2\nzip = rows, cols\nzip = cols, r-row\n")
            .find("S.ini:6: zip = 'cols, r-row': 'cols' is already zipped at line 5") == 0);
  // keys of the sweep itself
  CHECK(error_of("rows = 8\n") .find("S.ini: no `command = ...` line") == 0);
  CHECK(error_of("command = solve, check\n").find("S.ini:1: command = 'solve, check': one subcommand per sweep") == 0);
  CHECK(error_of("command = netlist\n").find("S.ini:1: command = 'netlist': not a subcommand a sweep can run") == 0);
  CHECK(error_of("command = solve\nrows = 8\nrows = 16\n").find("S.ini:3: key 'rows' given twice (first at line 2)") == 0);
  CHECK(error_of("command = solve\nout = x\n").find("S.ini:2: key 'out' is set by xbar sweep itself") == 0);
  CHECK(error_of("command = solve\nseed = 1\nsweep-seed = 2\n").find("S.ini:3: sweep-seed and seed (line 2) both given") == 0);
  CHECK(error_of("command = solve\nsweep-threads = 0\n").find("S.ini:2: key sweep-threads = '0': expected one integer in [1, 1024]") == 0);
  CHECK(error_of("command = solve\nsweep-threads = 1, 2\n").find("S.ini:2: key sweep-threads = '1, 2': expected one integer") == 0);
  CHECK(error_of("command = solve\nseed = -1\n").find("S.ini:2: key seed = '-1': '-1' is not an integer >= 0") == 0);
  CHECK(error_of("command = solve\nrows = \"8\n").find("S.ini:2: key rows = '\"8': unterminated") == 0);
  // tolerances name a metric of the command
  CHECK(error_of("command = calibrate\nmax-increase.accuracy = 1\n").find("S.ini:2: key max-increase.accuracy: 'accuracy' is not a metric of calibrate") == 0);
  CHECK(error_of("command = calibrate\nmax-increase.comp_max_lsb = -1\n").find("S.ini:2: key max-increase.comp_max_lsb = '-1': expected a number >= 0") == 0);
}

TEST_CASE("tolerances: absolute or percent, higher or lower is worse") {
  const SweepDefinition d = parse("command = calibrate\nmax-increase.comp_max_lsb = 0.05\nmax-decrease.comp_scale = 2%\n");
  REQUIRE(d.tolerances.size() == 2);
  CHECK(d.tolerances[0].metric == "comp_max_lsb");
  CHECK(d.tolerances[0].direction == "increase");
  CHECK(d.tolerances[0].amount == 0.05);
  CHECK_FALSE(d.tolerances[0].relative);
  CHECK(d.tolerances[1].direction == "decrease");
  CHECK(d.tolerances[1].amount == 2.0);
  CHECK(d.tolerances[1].relative);
  CHECK(d.points() == 1);  // tolerances are not keys of the points
  CHECK(d.point(0).keys.size() == 1);  // just the derived seed
}
