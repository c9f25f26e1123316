// Replays the committed fuzz inputs through the harness bodies in the normal test suite: the
// seed corpus (tests/fuzz/corpus/<harness>/) and every input that once crashed a reader
// (tests/fuzz/regressions/<harness>/, named after what it found). Each must either read or be
// refused with xbar::InputError, and a successful read must satisfy the reader's
// postconditions (tests/fuzz/fuzz_targets.h). Under -DXBAR_SANITIZE=ON this is also the
// sanitizer regression test of every crash the fuzzers found.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/input_error.h"
#include "engine/cli/cli_ini.h"
#include "engine/io/npy.h"
#include "netlists/spice_reader.h"
#include "tests/fuzz/fuzz_targets.h"
#if XBAR_HAVE_SWEEP_GRID
#include "engine/sweep/sweep_grid.h"
#endif

#ifndef XBAR_FUZZ_DIR
#error "XBAR_FUZZ_DIR (tests/fuzz in the source tree) must be defined by the build"
#endif

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file under tests/fuzz/<kind>/<harness>/, sorted for a stable order.
std::vector<fs::path> inputs(const std::string& kind, const std::string& harness) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(XBAR_FUZZ_DIR) / kind / harness;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

void replay(const std::string& harness, void (*one)(const uint8_t*, size_t)) {
  size_t replayed = 0;
  for (const char* kind : {"corpus", "regressions"})
    for (const fs::path& p : inputs(kind, harness)) {
      INFO(p.string());
      const std::string bytes = read_bytes(p);
      CHECK_NOTHROW(one(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++replayed;
    }
  // The seed corpus is committed: an empty directory means the path or the checkout is wrong.
  CHECK(replayed >= 4);
}

}  // namespace

TEST_CASE("the SPICE reader reads or refuses every committed fuzz input") {
  replay("spice_reader", xbar::fuzz::spice_reader_one);
}

TEST_CASE("the .npy reader reads or refuses every committed fuzz input, and round-trips reads") {
  replay("npy_reader", xbar::fuzz::npy_reader_one);
}

TEST_CASE("the INI reader reads or refuses every committed fuzz input") {
  replay("ini", xbar::fuzz::ini_one);
}

TEST_CASE("the level-table reader reads or refuses every committed fuzz input") {
  replay("level_table", xbar::fuzz::level_table_one);
}

#if XBAR_HAVE_SWEEP_GRID
TEST_CASE("the sweep-grid parser reads or refuses every committed fuzz input") {
  replay("sweep_grid", xbar::fuzz::sweep_grid_one);
}

TEST_CASE("fuzz regression: a sweep INI value that is not UTF-8 is refused with its line") {
  // Found by sweep_grid_fuzz within seconds: the definition went into sweep.json, whose writer
  // (nlohmann::json) threw type_error 316; `xbar sweep` ended in "internal error", exit 1.
  std::ifstream in(std::string(XBAR_FUZZ_DIR) + "/regressions/sweep_grid/invalid_utf8_value.ini",
                   std::ios::binary);
  REQUIRE(in.good());
  const xbar::engine::sweep::SweepKeyCheck any = [](const std::string&, const std::string&) { return std::string(); };
  // The line also holds NUL bytes, which the bounded line reader refuses first (issue 17):
  // either way it is refused with its line.
  CHECK_THROWS_WITH_AS(xbar::engine::sweep::parse_sweep_ini(in, "s.ini", any),
                       doctest::Contains("s.ini:4: NUL byte at column 10"), xbar::InputError);
  std::istringstream utf8_only("command = solve\nrows = \xb7\xb5\n");
  CHECK_THROWS_WITH_AS(xbar::engine::sweep::parse_sweep_ini(utf8_only, "s.ini", any),
                       doctest::Contains("s.ini:2: not valid UTF-8 (byte 0xb7 at offset 7)"), xbar::InputError);
}
TEST_CASE("regression: integer ranges that end at INT64_MAX or start at INT64_MIN expand and stop") {
  // Issue 17: `seed = 9223372036854775807..9223372036854775807` never ended (the loop
  // `v <= b; ++v` overflowed at INT64_MAX) and grew memory by ~160 MB/s; `-5..INT64_MAX`
  // overflowed b - a. Each range below must give exactly its values, or a clear error.
  std::ifstream in(std::string(XBAR_FUZZ_DIR) + "/regressions/sweep_grid/int64_limit_ranges.ini", std::ios::binary);
  REQUIRE(in.good());
  const xbar::engine::sweep::SweepKeyCheck any = [](const std::string&, const std::string&) { return std::string(); };
  const xbar::engine::sweep::SweepDefinition d = xbar::engine::sweep::parse_sweep_ini(in, "r.ini", any);
  CHECK(d.points() == 2);
  CHECK(d.point(1).seed == uint64_t(9223372036854775807ULL));
  CHECK(d.keys[2].values == std::vector<std::string>{"-9223372036854775808", "-9223372036854775807"});
  CHECK_THROWS_WITH_AS(xbar::engine::sweep::expand_sweep_value("seed", "-5..9223372036854775807", "r.ini:1: "),
                       doctest::Contains("more than 100000 values"), xbar::InputError);
}
#endif

// The crash inputs, one by one, with what each must give now.
TEST_CASE("fuzz regression: an empty (0, 3) float64 .npy reads as an empty array") {
  // Found by npy_reader_fuzz under UBSan: memcpy(nullptr, nullptr, 0) for an empty array.
  const xbar::engine::io::NpyArray a =
      xbar::engine::io::read_npy(std::string(XBAR_FUZZ_DIR) + "/regressions/npy_reader/empty_0x3.npy");
  CHECK(a.shape == std::vector<int64_t>{0, 3});
  CHECK(a.data.empty());
}

TEST_CASE("fuzz regression: '=' where a node name belongs is refused, as ngspice reads another circuit") {
  // Found by spice_reader_fuzz in CI (stop 25): "r3 mid=5kOhmOhm" tokenizes as r3, mid, '=',
  // 5kOhmOhm, so the reader took '=' as r3's second node; ngspice drops the '=' and reads
  // 5kOhmOhm as the node, with no value. Refused now with the line.
  std::ifstream in(std::string(XBAR_FUZZ_DIR) + "/regressions/spice_reader/equals_sign_as_node_name.cir",
                   std::ios::binary);
  REQUIRE(in.good());
  CHECK_THROWS_WITH_AS(xbar::netlists::read_spice(in, "f.cir"),
                       "f.cir:2: resistor 'r3': node name '=' holds '=', a field separator to ngspice; rename it",
                       xbar::InputError);
}

TEST_CASE("fuzz regression: an INI value holding Boost's own '%value%' placeholder is refused") {
  // Found by ini_fuzz as a timeout: Boost 1.74's error::what() replaced "%value%" by the value
  // in a loop that never ended when the value contained "%value%" itself. The reader now names
  // file, line and key without letting Boost quote the value (engine/cli/cli_ini.h).
  namespace po = boost::program_options;
  po::options_description desc;
  desc.add_options()("quiet", po::bool_switch(), "")("r-row", po::value<double>(), "");
  po::variables_map vm;
  std::ifstream in(std::string(XBAR_FUZZ_DIR) + "/regressions/ini/boost_placeholder_loop.ini");
  REQUIRE(in.good());
  std::istringstream sliced("[wires]\nquiet = yes\nr-row = 1%value%\n");
  CHECK_THROWS_WITH_AS(xbar::engine::cli::store_ini(sliced, "p.ini", desc, vm),
                       "p.ini:3: key r-row = '1%value%': the argument for option 'r-row' is "
                       "invalid: expected a number",
                       xbar::InputError);
  // A value with one '%' cannot hold a placeholder: Boost's own message, value quoted.
  po::variables_map vm2;
  std::istringstream single("r-row = 5%\n");
  CHECK_THROWS_WITH_AS(xbar::engine::cli::store_ini(single, "q.ini", desc, vm2),
                       "q.ini:1: key r-row = '5%': the argument ('5%') for option 'r-row' is "
                       "invalid: expected a number",
                       xbar::InputError);
}
