// `xbar evaluate` on a CNN (convolutions lowered by im2col) and with a hardware-aware trained
// model: ideal predictions equal libtorch's on every image, the compensated run and the `hat`
// entry are produced and recomputable from predictions.npy.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/engine/nn/nn_cli_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::test::load_json;
using xbar::test::process_dir;
using xbar::test::run_xbar;

namespace {
// 32 x 32 tiles: the CNN takes 137 of them (conv1 1, conv2 5, fc1 104, fc2 24, fc3 3); 1 ohm
// wires keep the compensation maps short (3-5 iterations).
const std::string kHardware = " --tile-rows 32 --tile-cols 32 --r-row 1 --r-col 1 --variation gaussian "
                              "--variation-sigma 0.05 --stuck-on-rate 0.005 --stuck-off-rate 0.005 --adc-bits 8 "
                              "--calib-images 100 --comp-tol 1e-5 --tile-details false";

std::string cnn() {
  return xbar::test::trained("cnn", "--model cnn --epochs 1 --batch-size 32 --train-subset 1000 --subset 100 --seed 1 --threads 1");
}

std::string cnn_hat() {
  cnn();
  return xbar::test::trained("cnn_hat", "--model cnn --hat --init cnn/model.pt --variation gaussian "
                                        "--variation-sigma 0.05 --stuck-on-rate 0.005 --stuck-off-rate 0.005 "
                                        "--adc-bits 8 --tile-rows 32 --epochs 1 --batch-size 32 --train-subset 300 "
                                        "--subset 100 --seed 1 --threads 1");
}
}  // namespace

TEST_CASE("CNN: ideal hardware predicts what libtorch predicts on every image; compensated and hat reported") {
  cnn_hat();
  std::string err;
  REQUIRE(run_xbar(process_dir(), "evaluate --model cnn/model.pt --hat-model cnn_hat/model.pt --subset 300" +
                   kHardware + " --quiet --out ev", &err) == 0);
  INFO(err);
  const fs::path dir = process_dir().path / "ev";
  const json j = load_json(dir / "accuracy.json");
  const auto p = xbar::test::predictions(dir);
  CHECK(p.at("ideal") == p.at("software"));
  CHECK(j["ideal_matches_software"] == true);
  for (const char* k : {"software", "ideal", "uncompensated", "compensated", "hat"}) {
    CAPTURE(k);
    REQUIRE(j.contains(k));
    CHECK(j[k].get<double>() == xbar::test::accuracy_of(p.at(k), p.at("labels")));
  }
  CHECK(j["model"]["architecture"] == "cnn");
  CHECK(j["hat_model"]["hat"] == true);
  CHECK(j["hat_source"].get<std::string>().find("--hat-model") != std::string::npos);
  // Every compensated tile reached its targets: none above g-max (the per-pair scales), none
  // below g-min (the in-map floor).
  for (const json& l : j["runs"]["compensated"]["layers"]) {
    CAPTURE(l["layer"]);
    CHECK(l["compensation"]["needs_above_max"] == 0);
    CHECK(l["compensation"]["needs_below_min"] == 0);
    CHECK(l["compensation"]["scale_max"].get<double>() <= 1.0);
    CHECK(l["compensation"]["scale"].get<std::string>().rfind("per-column", 0) == 0);
  }
  CHECK(j["runs"]["compensated"]["layers"][0]["kind"] == "conv");
  CHECK(j["runs"]["compensated"]["layers"][0]["reads_per_image"] == 28 * 28);
  CHECK(j["runs"]["compensated"]["layers"][2]["tiles"] == 104);
}

TEST_CASE("a model that is itself hardware-aware trained reports hat as its compensated accuracy") {
  cnn_hat();
  REQUIRE(run_xbar(process_dir(), "evaluate --model cnn_hat/model.pt --subset 100" + kHardware + " --quiet --out evh") == 0);
  const json j = load_json(process_dir().path / "evh/accuracy.json");
  CHECK(j["hat"] == j["compensated"]);
  CHECK(j["hat_source"].get<std::string>().find("itself") != std::string::npos);
  CHECK(j["model"]["hat"] == true);
}
