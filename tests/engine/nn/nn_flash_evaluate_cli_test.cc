// `xbar evaluate --cell flash` and `xbar program --model --cell flash` end to end on a
// short-trained MLP: the network's tiles hold thresholds from program-verify, `xbar solve` of a
// programmed tile's thresholds reads the model's weights back, and evaluate reports the flash
// programming of every layer. (The tiles against ngspice, retention and compensation:
// nn_flash_tiles_test.cc.)
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "engine/nn/nn_model.h"
#include "tests/engine/nn/nn_cli_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::test::load_json;
using xbar::test::process_dir;
using xbar::test::run_xbar;

namespace {

std::string mlp() { return xbar::test::trained_mlp(); }

// Coarse program-verify (20 mV pulses without spread, verified within 20%, about 70 pulses a
// cell): the MLP's 470,000 cells program in seconds. Each read of a 64 x 64 tile is a Newton
// solve: one test image and one calibration image.
const std::string kFlash = " --cell flash --tile-rows 64 --tile-cols 64 --pv-step 0.02 --pv-sigma 0 --pv-tol 0.2 ";

// A finer program-verify (2 mV pulses without spread, verified within 2%) that still runs in
// seconds: a window of 10 .. 100 uS (thresholds 0.65 .. 1.4 V at 1.8 V) from an erase at 0.6 V.
const std::string kFinerFlash = " --cell flash --tile-rows 64 --tile-cols 64 --pv-step 0.002 --pv-sigma 0 --pv-tol 0.02 "
                                "--flash-erase-vth 0.6 --flash-erase-sigma 0.01 --g-min 1e-5 ";

}  // namespace

TEST_CASE("evaluate --cell flash reads the network on programmed flash tiles and reports their programming") {
  const std::string m = mlp();
  std::string err;
  REQUIRE(run_xbar(process_dir(), "evaluate --model " + m + "/model.pt" + kFlash +
                   "--subset 1 --calib-images 1 --compensate false --quiet --out flash_eval", &err) == 0);
  const fs::path dir = process_dir().path / "flash_eval";
  const json j = load_json(dir / "accuracy.json");
  const auto p = xbar::test::predictions(dir);
  CHECK(j["hardware"]["cell"] == "flash");
  CHECK(j["hardware"]["flash"]["program"]["pv_step_v"] == 0.02);
  CHECK(j["hardware"]["flash"]["retention"]["time_s"] == 0.0);
  CHECK(j["ideal_matches_software"] == true);
  CHECK(j["test_set"]["count"] == 1);
  CHECK(j["uncompensated"].get<double>() == xbar::test::accuracy_of(p.at("uncompensated"), p.at("labels")));
  // Every cell of every layer programmed once: fan-in x 2 fan-out differential cells.
  const json& layers = j["runs"]["uncompensated"]["layers"];
  REQUIRE(layers.size() == 3);
  const int64_t cells[] = {784 * 512, 256 * 256, 128 * 20};
  for (int k = 0; k < 3; ++k) {
    CAPTURE(k);
    const json& f = layers[k]["flash"];
    CHECK(f["cells"] == cells[k]);
    CHECK(f["program"]["verified"].get<int64_t>() + f["program"]["failed"].get<int64_t>() == cells[k]);
    CHECK(f["program"]["pulses_mean"].get<double>() > 10);
    CHECK(f["program"]["read_rel_error_max_verified"].get<double>() <= 0.2);
    CHECK(layers[k]["tile_list"][0]["flash"]["program"]["verified"].get<int64_t>() > 0);
  }
  // The ideal run is the closed form of linear cells, not a flash tile.
  CHECK(!j["runs"]["ideal"]["layers"][0].contains("flash"));
}

TEST_CASE("program --model --cell flash writes thresholds, and xbar solve of a tile reads the model's weights") {
  const std::string m = mlp();
  std::string err;
  // No wires: a tile's column currents at v-read are then the sums of its cells' verify reads.
  REQUIRE(run_xbar(process_dir(), "program --model " + m + "/model.pt" + kFinerFlash +
                   "--compensate false --r-row 0 --r-col 0 --quiet --out flash_prog", &err) == 0);
  const fs::path dir = process_dir().path / "flash_prog";
  const json r = load_json(dir / "result.json");
  CHECK(r["outputs"]["tiles"].get<std::string>().find("thresholds V_th [V]") != std::string::npos);
  const xbar::engine::nn::Network net = xbar::engine::nn::load_network((process_dir().path / m / "model.pt").string());
  const xbar::engine::nn::RowMatrixXd& w3 = net.layers[net.mvm_layers()[2]].w;  // fc3: 128 x 10
  int checked = 0;
  for (const json& t : r["tiles"]) {
    if (t["layer"] != net.layers[net.mvm_layers()[2]].name) continue;
    const std::string file = (dir / t["file"].get<std::string>()).string();
    const auto vth = xbar::engine::io::read_npy(file);
    const int64_t r0 = t["inputs"][0], r1 = t["inputs"][1], outs = t["outputs"][1].get<int64_t>() - t["outputs"][0].get<int64_t>();
    REQUIRE(vth.shape == std::vector<int64_t>{r1 - r0, 2 * outs});
    // Thresholds in volts, inside what the default window needs at a 1.8 V gate (1-100 uS).
    CHECK(*std::min_element(vth.data.begin(), vth.data.end()) > 0.3);
    CHECK(*std::max_element(vth.data.begin(), vth.data.end()) < 2.0);
    const std::string out = "flash_solve_" + std::to_string(checked);
    REQUIRE(run_xbar(process_dir(), "solve --cell flash --vth " + file + " --v-read 0.2 --r-row 0 --r-col 0 --quiet --out " +
                     out, &err) == 0);
    const auto i = xbar::engine::io::read_npy((process_dir().path / out / "currents.npy").string());
    REQUIRE(i.data.size() == size_t(2 * outs));
    const double v = 0.2;
    REQUIRE(t["gain_s_per_weight"].size() == size_t(outs));
    for (int64_t q = 0; q < outs; ++q) {
      const double gain = t["gain_s_per_weight"][size_t(q)];
      // Every row at v-read: output q reads sum_i w_iq up to each cell's verify error, at most
      // pv-tol = 2% of its target G v: |error| <= 0.02 sum_i (G+ + G-) / a, and the measured
      // sum g_sum of the pair's reads is at least 0.98 sum_i (G+ + G-).
      double w_sum = 0;
      for (int64_t row = r0; row < r1; ++row) w_sum += w3(row, q);
      const double g_sum = (i.data[size_t(2 * q)] + i.data[size_t(2 * q + 1)]) / v;
      const double read = (i.data[size_t(2 * q)] - i.data[size_t(2 * q + 1)]) / (gain * v);
      CHECK(std::abs(read - w_sum) <= 0.02 / 0.98 * g_sum / gain);
    }
    ++checked;
  }
  CHECK(checked == 2);  // fc3: 2 row tiles (64 + 64 inputs) x 1 column tile
}
