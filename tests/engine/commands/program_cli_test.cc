// `xbar program` end to end: reproducible from its seed, defects from a mask land on the
// rails, realised rates within sampling bounds, and bad input named.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/io/npy.h"
#include "tests/engine/scratch_run.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("program is reproducible from its seed and different seeds give different arrays") {
  xbar::test::ScratchDir d;
  const std::string base = "program --rows 40 --cols 30 --levels 8 --variation gaussian "
                           "--variation-sigma 0.05 --stuck-on-rate 0.01 --quiet";
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 5 --out a") == 0);
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 5 --out b") == 0);
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 6 --out c") == 0);
  CHECK(bytes(d.path / "a/g_programmed.npy") == bytes(d.path / "b/g_programmed.npy"));
  CHECK(bytes(d.path / "a/g_programmed.npy") != bytes(d.path / "c/g_programmed.npy"));
  const json r = xbar::test::load_json(d.path / "a/result.json");
  CHECK(r["seed"] == 5);
  CHECK(r["programming"]["realised"]["seed"] == 5);
  const auto g = xbar::engine::io::read_npy((d.path / "a/g_programmed.npy").string());
  REQUIRE(g.shape == std::vector<int64_t>{40, 30});
}

TEST_CASE("a defect mask pins exactly its cells to the rails and is counted") {
  xbar::test::ScratchDir d;
  const int64_t m = 6, n = 5;
  std::vector<double> target(size_t(m * n), 5e-5), mask(size_t(m * n), 0.0);
  mask[7] = 1;   // (1, 2) stuck on
  mask[12] = 2;  // (2, 2) stuck off
  mask[29] = 1;  // (5, 4) stuck on
  xbar::engine::io::write_npy((d.path / "g.npy").string(), target.data(), {m, n});
  xbar::engine::io::write_npy((d.path / "mask.npy").string(), mask.data(), {m, n});
  REQUIRE(xbar::test::run_xbar(d, "program --g g.npy --stuck-mask mask.npy --g-min 2e-6 --g-max 9e-5 --quiet --out o") == 0);
  const auto g = xbar::engine::io::read_npy((d.path / "o/g_programmed.npy").string());
  for (int64_t k = 0; k < m * n; ++k) {
    const double expect = mask[size_t(k)] == 1 ? 9e-5 : mask[size_t(k)] == 2 ? 2e-6 : 5e-5;
    CHECK(g.data[size_t(k)] == expect);
  }
  const json r = xbar::test::load_json(d.path / "o/result.json")["programming"]["realised"];
  CHECK(r["stuck_on"] == 2);
  CHECK(r["stuck_off"] == 1);
  CHECK(r["stuck_source"] == "mask");
}

TEST_CASE("realised stuck-at rates match the requested ones within five standard errors") {
  xbar::test::ScratchDir d;
  const double p_on = 0.02, p_off = 0.05, cells = 200.0 * 200.0;
  REQUIRE(xbar::test::run_xbar(d, "program --rows 200 --cols 200 --stuck-on-rate 0.02 --stuck-off-rate 0.05 "
                  "--seed 11 --quiet --out o") == 0);
  const json r = xbar::test::load_json(d.path / "o/result.json")["programming"]["realised"];
  // Binomial counts: mean n p, standard error sqrt(n p (1 - p)).
  CHECK(std::abs(r["stuck_on"].get<double>() - cells * p_on) < 5 * std::sqrt(cells * p_on * (1 - p_on)));
  CHECK(std::abs(r["stuck_off"].get<double>() - cells * p_off) < 5 * std::sqrt(cells * p_off * (1 - p_off)));
}

TEST_CASE("program rejects bad input with the key or file named and writes nothing") {
  xbar::test::ScratchDir d;
  std::vector<double> bad_mask(12, 3.0);
  xbar::engine::io::write_npy((d.path / "m34.npy").string(), bad_mask.data(), {3, 4});
  xbar::engine::io::write_npy((d.path / "m43.npy").string(), bad_mask.data(), {4, 3});
  const std::pair<std::string, std::string> cases[] = {
      {"program --rows 3 --cols 4 --stuck-mask m43.npy --out o", "m43.npy"},
      {"program --rows 3 --cols 4 --stuck-mask m34.npy --out o", "m34.npy"},
      {"program --rows 3 --cols 4 --level-table nowhere.csv --out o", "nowhere.csv"},
      {"program --rows 3 --cols 4 --variation gaussian --variation-sigma -0.1 --out o", "variation-sigma"},
      {"program --rows 3 --cols 4 --stuck-on-rate 1.5 --out o", "stuck-on-rate"},
      {"program --rows 3 --cols 4 --variation wobbly --out o", "variation"},
      {"program --rows 3 --cols 4 --out o --r-row 2", "r-row"},
  };
  for (const auto& [args, needle] : cases) {
    CAPTURE(args);
    std::string err;
    CHECK(xbar::test::run_xbar(d, args, &err) == 2);
    CHECK(err.find(needle) != std::string::npos);
    CHECK_FALSE(fs::exists(d.path / "o"));
  }
}
