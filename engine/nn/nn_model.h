// The two networks of issue 6 and their model file, behind a libtorch-free interface: only
// nn_model.cc and train.cc include torch (compile time; STYLE: libtorch only in engine/).
//
//   engine::nn::Network net = engine::nn::load_network("run/model.pt");     // weights -> Eigen, once
//   engine::nn::SoftwareEvaluation s = engine::nn::evaluate_software("run/model.pt", test, 2);
//
// Architectures ([key model]):
//   mlp  784-256-128-10: fc1, relu, fc2, relu, fc3.
//   cnn  LeNet-5-like: conv1 (1 -> 6, 5 x 5, padding 2), relu, 2 x 2 max pool,
//        conv2 (6 -> 16, 5 x 5), relu, 2 x 2 max pool, flatten (400), fc1 (400 -> 120), relu,
//        fc2 (120 -> 84), relu, fc3 (84 -> 10). The convolutions run on crossbars lowered by
//        im2col (nn_network.h): conv1 is a 25-row, conv2 a 150-row weight matrix.
// Inputs are the pixels / 255 in [0, 1], not mean-centred, so that every crossbar input is
// >= 0 (pixels, then ReLU and max-pool outputs) and a unipolar DAC drives the rows.
//
// Model file (model.pt): a PyTorch serialize archive (torch::serialize::OutputArchive, a zip
// readable by torch.jit.load in Python) holding the parameters under their module names
// ("fc1.weight", "conv1.bias", ...) and a string record "xbar_meta", JSON:
//   {"format": "xbar-nn-model", "format_version": 1, "architecture": "mlp"|"cnn",
//    "hat": true|false, "hat_options": {...}, "training": {...}, "version": tool version}
// A file without that record, or with another format, is not an xbar model and is refused
// with a message naming the file.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/io/fashion_mnist.h"
#include "engine/nn/nn_network.h"

namespace xbar::engine::nn {

enum class Architecture { kMlp, kCnn };
std::string to_string(Architecture a);
Architecture parse_architecture(const std::string& s);  // InputError naming key "model"

constexpr const char* kModelFormat = "xbar-nn-model";
constexpr int kModelFormatVersion = 1;

// Reads model.pt into a Network (weights as double, fan_in x fan_out). Throws InputError
// naming the path when the file is missing, not a PyTorch archive, not an xbar model, or its
// parameters do not fit the architecture it names.
Network load_network(const std::string& path);

// The model's metadata record alone (same checks as load_network).
nlohmann::json read_model_meta(const std::string& path);

struct SoftwareEvaluation {
  std::vector<int> predictions;  // argmax of the float32 logits, per image
  int64_t correct = 0;
  double accuracy = 0;           // correct / images, in [0, 1]
  double seconds = 0;            // the forward passes alone (images already in memory)
};

// The model in libtorch, float32, eval mode, `threads` intra-op threads, batches of
// `batch` images: what a user of the trained network gets in software.
SoftwareEvaluation evaluate_software(const std::string& model_path, const io::ImageSet& images,
                                     int threads, int64_t batch = 1000);

}  // namespace xbar::engine::nn
