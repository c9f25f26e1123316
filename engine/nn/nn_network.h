// Network: a trained model as the hardware sees it, free of libtorch. nn_model.cc (the torch
// translation unit) converts a model.pt into one of these once; weight mapping, programming
// and hardware inference work on it with Eigen.
//
//   engine::nn::Network net = engine::nn::load_network("run/model.pt");          // nn_model.h
//   RowMatrixXd logits = engine::nn::forward(net, images,                    // B x 784 in, B x 10 out
//       [&](size_t layer, const RowMatrixXd& x) { return RowMatrixXd(x * net.layers[layer].w); });
//
// Activations are row-major matrices, one row per image, features in PyTorch's (C, H, W) order,
// so a Flatten is free and the last layer's output row is the logits. The crossbar layers
// (dense and conv, "MVM layers") hold their weights as the crossbar stores them: w is
// fan_in x fan_out (row i of the array = input i, column j = output j), i.e. the transpose of
// torch's Linear weight; a convolution is lowered to the same matrix-vector products by
// im2col: each output pixel's receptive field (c, ky, kx, PyTorch's weight order) is one input
// vector of fan_in = C k k rows. The bias is added digitally after the products.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netlists/crossbar_builder.h"

namespace xbar::engine::nn {

using netlists::RowMatrixXd;

enum class LayerKind { kDense, kConv, kRelu, kMaxPool, kFlatten };
const char* to_string(LayerKind k);

struct Layer {
  LayerKind kind = LayerKind::kRelu;
  std::string name;          // as in the model file: "fc1", "conv2", "relu", ...
  RowMatrixXd w;             // MVM layers: fan_in x fan_out
  Eigen::VectorXd b;         // MVM layers: fan_out
  int64_t kernel = 0;        // conv: square kernel side; max pool: window = stride
  int64_t padding = 0;       // conv: zero padding on every side
  // Shapes (C, H, W) of the layer's input and output, filled by Network::infer_shapes().
  int64_t in_c = 0, in_h = 0, in_w = 0, out_c = 0, out_h = 0, out_w = 0;

  bool is_mvm() const { return kind == LayerKind::kDense || kind == LayerKind::kConv; }
  int64_t fan_in() const { return w.rows(); }
  int64_t fan_out() const { return w.cols(); }
  int64_t in_features() const { return in_c * in_h * in_w; }
  int64_t out_features() const { return out_c * out_h * out_w; }
  // Conv: output pixels per image (one crossbar read each); dense: 1.
  int64_t reads_per_image() const { return kind == LayerKind::kConv ? out_h * out_w : 1; }
};

struct Network {
  std::string arch;          // "mlp" or "cnn"
  bool hat = false;          // trained hardware-aware (--hat)
  std::vector<Layer> layers;
  nlohmann::json meta;       // the model file's metadata (architecture, training config, seed)
  std::string source;        // the file it came from
  // Input shape (C, H, W); Fashion-MNIST's by default. Tests build smaller networks.
  int64_t input_c = 1, input_h = 28, input_w = 28;

  // Propagates the input shape through the layers; throws InputError (naming `source`) when a
  // weight shape does not fit its input.
  void infer_shapes();
  int64_t outputs() const { return layers.empty() ? input_c * input_h * input_w : layers.back().out_features(); }
  std::vector<size_t> mvm_layers() const;
};

// The input vectors of an MVM layer for a batch x (B x in_features): dense: x itself;
// conv: im2col, (B * out_h * out_w) x fan_in, row b * out_h * out_w + oy * out_w + ox.
RowMatrixXd mvm_inputs(const Layer& layer, const RowMatrixXd& x);
// The inverse arrangement of an MVM layer's products y ((B * reads) x fan_out) plus the bias,
// as the layer's B x out_features output.
RowMatrixXd mvm_outputs(const Layer& layer, const RowMatrixXd& y, int64_t batch);

// Runs the network on x (B x input features, 784 for Fashion-MNIST). `mvm(layer_index, inputs)`
// returns the products of the MVM layer (inputs from mvm_inputs(), result rows x fan_out, bias
// not included); it may overwrite `inputs` (a scratch copy, e.g. scaled to volts in place).
// ReLU, max pooling and the bias are digital. The software reference is mvm = inputs * w in
// double precision.
using MvmFunction = std::function<RowMatrixXd(size_t, RowMatrixXd&)>;
RowMatrixXd forward(const Network& net, const RowMatrixXd& x, const MvmFunction& mvm);

// Index of the largest entry of each row (the first on ties).
std::vector<int> argmax_rows(const RowMatrixXd& logits);

}  // namespace xbar::engine::nn
