// `xbar train` end to end on Fashion-MNIST subsets: it learns (far above the 10% of chance),
// the same seed gives the same model file, hardware-aware training is recorded, bad input is
// refused with the key or path named and nothing written.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "tests/engine/nn/nn_cli_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::test::file_bytes;
using xbar::test::load_json;
using xbar::test::run_xbar;
using xbar::test::ScratchDir;

namespace {
// Chance is 0.1 on ten balanced classes; these short runs reach ~0.75 (MLP, 2000 images,
// 2 epochs of batch 64), ~0.65 (CNN, 1000 images, 2 epochs of batch 32) and ~0.65 (HAT MLP, 500
// images, 2 epochs of batch 32); the bounds sit far above chance and well below those.
constexpr double kMlpLearnsAbove = 0.6;
constexpr double kCnnLearnsAbove = 0.4;
}  // namespace

TEST_CASE("a short MLP training run on a subset learns, and train.json holds metrics, config, seed, times") {
  ScratchDir d;
  std::string err;
  REQUIRE(run_xbar(d, "train --model mlp --epochs 2 --batch-size 64 --train-subset 2000 --subset 1000 --seed 3 --threads 1 --out m", &err) == 0);
  CHECK(err.find("epoch 2/2") != std::string::npos);  // progress on stderr
  const json j = load_json(d.path / "m/train.json");
  CHECK(j["test_accuracy"].get<double>() > kMlpLearnsAbove);
  CHECK(j["test_accuracy"].get<double>() <= 1.0);
  CHECK(j["seed"] == 3);
  CHECK(j["config"]["epochs"]["value"] == 2);
  CHECK(j["metrics"]["epochs"].size() == 2);
  CHECK(j["metrics"]["test_images"] == 1000);
  CHECK(j["metrics"]["train_images"] == 2000);
  // Training lowers the loss.
  CHECK(j["metrics"]["epochs"][1]["loss"].get<double>() < j["metrics"]["epochs"][0]["loss"].get<double>());
  CHECK(j["times_s"]["train_s"].get<double>() > 0);
  CHECK(j["model"]["hat"] == false);
  CHECK(fs::file_size(d.path / "m/model.pt") > 784 * 256 * 4);
}

TEST_CASE("a short CNN training run learns") {
  ScratchDir d;
  REQUIRE(run_xbar(d, "train --model cnn --epochs 2 --batch-size 32 --train-subset 1000 --subset 500 --threads 1 --quiet --out c") == 0);
  CHECK(load_json(d.path / "c/train.json")["test_accuracy"].get<double>() > kCnnLearnsAbove);
}

TEST_CASE("the same seed gives the same model file; another seed another model") {
  ScratchDir d;
  const std::string base = "train --model mlp --epochs 1 --batch-size 64 --train-subset 500 --subset 200 --quiet";
  REQUIRE(run_xbar(d, base + " --seed 7 --out a") == 0);
  REQUIRE(run_xbar(d, base + " --seed 7 --out b") == 0);
  REQUIRE(run_xbar(d, base + " --seed 8 --out c") == 0);
  CHECK(file_bytes(d.path / "a/model.pt") == file_bytes(d.path / "b/model.pt"));
  CHECK(file_bytes(d.path / "a/model.pt") != file_bytes(d.path / "c/model.pt"));
  CHECK(load_json(d.path / "a/train.json")["test_accuracy"] == load_json(d.path / "b/train.json")["test_accuracy"]);
}

TEST_CASE("hardware-aware training is seeded, recorded in the model and still learns") {
  ScratchDir d;
  // Every injection at once (each draws from the seeded generator); small batches so that 500
  // images give 16 steps per epoch.
  const std::string base = "train --model mlp --hat --variation gaussian --variation-sigma 0.05 --stuck-on-rate 0.005 "
                           "--stuck-off-rate 0.005 --defect-aware true --read-noise-sigma 0.01 --levels 64 --dac-bits 6 --adc-bits 6 "
                           "--tile-rows 128 --epochs 2 --batch-size 32 --train-subset 500 --subset 500 --threads 1 --quiet";
  REQUIRE(run_xbar(d, base + " --seed 4 --out h") == 0);
  REQUIRE(run_xbar(d, base + " --seed 4 --out h2") == 0);
  const json j = load_json(d.path / "h/train.json");
  CHECK(j["model"]["hat"] == true);
  CHECK(j["hat_options"]["variation_sigma"] == 0.05);
  CHECK(j["hat_options"]["adc_bits"] == 6);
  CHECK(j["hat_options"]["defect_aware"] == true);
  CHECK(j["test_accuracy"].get<double>() > kCnnLearnsAbove);
  CHECK(file_bytes(d.path / "h/model.pt") == file_bytes(d.path / "h2/model.pt"));
}

TEST_CASE("train refuses bad input with the key or path named and writes nothing") {
  ScratchDir d;
  std::string err;
  CHECK(run_xbar(d, "train --data-dir /nonexistent/fmnist --out o", &err) == 2);
  CHECK(err.find("Fashion-MNIST not found: directory '/nonexistent/fmnist' does not exist") != std::string::npos);
  CHECK(err.find("dataset-fashion-mnist") != std::string::npos);
  CHECK(run_xbar(d, "train --model resnet --out o", &err) == 2);
  CHECK(err.find("key model = 'resnet': expected mlp or cnn") != std::string::npos);
  CHECK(run_xbar(d, "train --hat --out o", &err) == 2);
  CHECK(err.find("key hat: hardware-aware training needs something to inject") != std::string::npos);
  CHECK(run_xbar(d, "train --variation-sigma 0.05 --out o", &err) == 2);
  CHECK(err.find("key variation-sigma: a non-ideality to inject needs --hat") != std::string::npos);
  CHECK(run_xbar(d, "train --epochs 0 --out o", &err) == 2);
  CHECK(err.find("key epochs = 0: must be >= 1") != std::string::npos);
  CHECK(run_xbar(d, "train --train-subset 70000 --out o", &err) == 2);
  CHECK(err.find("key train-subset = 70000: the train split has only 60000 images") != std::string::npos);
  std::ofstream(d.path / "not_a_model.pt") << "hello";
  CHECK(run_xbar(d, "train --init not_a_model.pt --out o", &err) == 2);
  CHECK(err.find("not_a_model.pt: not a model file written by `xbar train`") != std::string::npos);
  CHECK(run_xbar(d, "train --out", &err) == 2);
  CHECK(!fs::exists(d.path / "o"));
}
