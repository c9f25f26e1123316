// `xbar train`, `xbar evaluate` and `xbar program --model`: the neural-network subcommands of
// issue 6, as functions of an already parsed NnRunConfig (engine/cli/nn_keys.cc fills it; no
// flag is seen here). Each returns the exit status; bad input throws xbar::InputError before
// any output file is written, and every file is written atomically (result/accuracy JSON last).
//
//   train     DIR/model.pt, DIR/train.json
//   evaluate  DIR/accuracy.json: software, ideal, uncompensated, compensated [, hat]
//   program   DIR/tiles/<layer>_r<i>_c<j>.npy (programmed conductances per tile), DIR/result.json
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/nn/hardware_inference.h"
#include "engine/nn/train.h"

namespace xbar::engine::commands {

// Nonlinear cells need a Newton solve per read: without --subset, evaluate takes this many
// test images (and says so in accuracy.json).
constexpr int64_t kNonlinearDefaultSubset = 100;

struct EvaluateOptions {
  // [key model] DIR/model.pt of `xbar train`, or a TorchScript module (torch.jit.save of a
  // scripted or traced model: engine/nn/user_model.h)
  std::string model_path;
  // [key hat-model] a hardware-aware trained model.pt of the same architecture: its
  // compensated accuracy is the `hat` entry. Without it, a --model that is itself HAT-trained
  // gives `hat` = its own compensated accuracy; a plain model gives no `hat` entry.
  std::string hat_model_path;
  std::string data_dir = io::kDefaultFashionMnistDir;  // [key data-dir]
  // [key data] a data set of .npy files instead of Fashion-MNIST (engine/io/npy_dataset.h):
  // DIR/test_inputs.npy, DIR/test_labels.npy, DIR/calib_inputs.npy. Empty: Fashion-MNIST.
  std::string data_npy_dir;
  // [key input-shape] the shape a TorchScript model takes one Fashion-MNIST image in (784
  // values); 1,28,28 (an image, channels first) by default, 784 for a flat vector.
  std::vector<int64_t> input_shape = {1, 28, 28};
  int64_t subset = 0;          // [key subset] first N test images; 0 = all 10,000
  bool subset_given = false;
  int64_t calib_images = 1000; // [key calib-images] training images for the DAC/ADC ranges
  bool calib_images_given = false;
  bool compensate = true;      // [key compensate] evaluate the compensated configuration(s)
  bool tile_details = true;    // [key tile-details] per-tile entries in the JSON
  nn::HardwareOptions hw;
  std::string out;
  bool quiet = false;
  void validate() const;
};

struct NnRunConfig {
  std::string command;  // train | evaluate | program
  nn::TrainOptions train;
  EvaluateOptions eval;
  nlohmann::json config_json;
};

// The hardware of a network's tiles as accuracy.json records it ("hardware": mapping, wires,
// cell, programming, DAC/ADC, compensation, back end, seed, threads).
nlohmann::json hardware_json(const nn::HardwareOptions& h);

int run_train(const NnRunConfig& cfg);
int run_evaluate(const NnRunConfig& cfg);
int run_program_model(const NnRunConfig& cfg);

// Throws InputError when the tile is larger than any layer of `net` can fill: more rows than
// the largest fan-in, or more columns than the widest layer's physical columns.
void require_tiles_fit(const nn::Network& net, const nn::MappingOptions& m);
// The same for the crossbar matrices of any model (`what` names it in the message).
struct MatrixLayer {
  std::string name;
  int64_t fan_in = 0, fan_out = 0;
};
void require_tiles_fit(const std::vector<MatrixLayer>& layers, const nn::MappingOptions& m, const std::string& what);

}  // namespace xbar::engine::commands
