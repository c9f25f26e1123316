// `xbar solve` read-out non-idealities: DAC and ADC quantization against hand-computed values
// on an ideal-wire array (where I = V G exactly), clipping counted, read noise seeded.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/io/npy.h"
#include "tests/engine/scratch_run.h"

namespace fs = std::filesystem;
using nlohmann::json;


TEST_CASE("DAC and ADC quantize inputs and outputs to their grids and count the clipping") {
  xbar::test::ScratchDir d;
  // 2 x 2 array, ideal wires: I_j = sum_i Vq_i G_ij exactly.
  const std::vector<double> g = {1e-4, 2e-4, 3e-4, 4e-4};
  // DAC 2 bits on [0, 0.3]: levels 0, 0.1, 0.2, 0.3 (round to nearest).
  const std::vector<double> v = {0.14, 0.36};  // -> 0.1 and 0.3 (clipped high)
  xbar::engine::io::write_npy((d.path / "g.npy").string(), g.data(), {2, 2});
  xbar::engine::io::write_npy((d.path / "v.npy").string(), v.data(), {2});
  REQUIRE(xbar::test::run_xbar(d, "solve --g g.npy --v v.npy --r-row 0 --r-col 0 --dac-bits 2 --dac-v-max 0.3 "
                      "--adc-bits 3 --adc-i-max 1.4e-4 --quiet --out o") == 0);
  // Currents before the ADC: I0 = 0.1e-4 + 0.3*3e-4 = 1.0e-4, I1 = 0.2e-4 + 0.3*4e-4 = 1.4e-4.
  // ADC 3 bits on [0, 1.4e-4]: step 2e-5; 1.0e-4 is exactly level 5, 1.4e-4 the top level.
  const auto i = xbar::engine::io::read_npy((d.path / "o/currents.npy").string());
  REQUIRE(i.data.size() == 2);
  CHECK(i.data[0] == doctest::Approx(1.0e-4).epsilon(1e-12));
  CHECK(i.data[1] == doctest::Approx(1.4e-4).epsilon(1e-12));
  const json r = xbar::test::load_json(d.path / "o/result.json")["read_out"];
  CHECK(r["dac"]["counts"]["clipped_high"] == 1);
  CHECK(r["adc"]["counts"]["clipped_high"] == 0);
  // A smaller ADC range clips the larger current and counts it.
  REQUIRE(xbar::test::run_xbar(d, "solve --g g.npy --v v.npy --r-row 0 --r-col 0 --dac-bits 2 --dac-v-max 0.3 "
                      "--adc-bits 3 --adc-i-max 1.2e-4 --quiet --out o2") == 0);
  const auto i2 = xbar::engine::io::read_npy((d.path / "o2/currents.npy").string());
  CHECK(i2.data[1] == doctest::Approx(1.2e-4).epsilon(1e-12));
  CHECK(xbar::test::load_json(d.path / "o2/result.json")["read_out"]["adc"]["counts"]["clipped_high"] == 1);
}

TEST_CASE("read noise is reproducible from the seed and differs between seeds") {
  xbar::test::ScratchDir d;
  const std::string base = "solve --rows 12 --cols 9 --read-noise-sigma 0.05 --quiet";
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 3 --out a") == 0);
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 3 --out b") == 0);
  REQUIRE(xbar::test::run_xbar(d, base + " --seed 4 --out c") == 0);
  REQUIRE(xbar::test::run_xbar(d, "solve --rows 12 --cols 9 --quiet --seed 3 --out clean") == 0);
  const auto a = xbar::engine::io::read_npy((d.path / "a/currents.npy").string());
  const auto b = xbar::engine::io::read_npy((d.path / "b/currents.npy").string());
  const auto c = xbar::engine::io::read_npy((d.path / "c/currents.npy").string());
  const auto clean = xbar::engine::io::read_npy((d.path / "clean/currents.npy").string());
  CHECK(a.data == b.data);
  CHECK(a.data != c.data);
  CHECK(a.data != clean.data);  // the noise really acted
  CHECK(xbar::test::load_json(d.path / "a/result.json")["read_out"]["read_noise"]["seed"] == 3);
}
