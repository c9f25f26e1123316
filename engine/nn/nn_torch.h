// Internal to the two libtorch translation units (nn_model.cc, train.cc): the networks as
// torch modules. Nothing else may include this header (it pulls in torch, ~30 s per TU).
//
// XbarNet runs a list of LayerSpecs; each crossbar layer (dense, conv) is a registered
// torch::nn::Linear / Conv2d under the spec's name. forward() takes an optional MvmHook that
// replaces the product of every crossbar layer: hardware-aware training passes one that
// injects the non-idealities (train.cc); without it the layers compute as torch would.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/nn/nn_model.h"

namespace xbar::engine::nn::internal {

struct LayerSpec {
  LayerKind kind;
  std::string name;
  int64_t in = 0, out = 0;      // dense: features; conv: channels
  int64_t kernel = 0, padding = 0;
};

std::vector<LayerSpec> architecture_layers(Architecture a);

// (mvm index, spec, input, weight as torch stores it, bias) -> the layer's output, bias included.
using MvmHook = std::function<torch::Tensor(size_t, const LayerSpec&, const torch::Tensor&,
                                            const torch::Tensor&, const torch::Tensor&)>;

class XbarNetImpl : public torch::nn::Module {
 public:
  explicit XbarNetImpl(Architecture a);
  // x: B x 784 float in [0, 1]; returns B x 10 logits.
  torch::Tensor forward(const torch::Tensor& x, const MvmHook* hook = nullptr);
  Architecture architecture() const { return arch_; }
  const std::vector<LayerSpec>& specs() const { return specs_; }
  // The crossbar layers in order: (weight, bias) of each.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> mvm_parameters() const;

 private:
  Architecture arch_;
  std::vector<LayerSpec> specs_;
  std::vector<torch::nn::Linear> linears_;  // index-aligned with specs_ (empty holders elsewhere)
  std::vector<torch::nn::Conv2d> convs_;
};
TORCH_MODULE(XbarNet);

// Writes the parameters and the metadata record atomically (engine/io/atomic_file.h).
void save_model(XbarNet& net, const nlohmann::json& meta, const std::string& path);
// Loads a model file (InputError naming the path on anything wrong); meta receives the record.
XbarNet load_model(const std::string& path, nlohmann::json* meta);

// A float tensor of images [first, first + count) of the set, count x 784 (a copy).
torch::Tensor images_tensor(const io::ImageSet& s, int64_t first, int64_t count);
torch::Tensor labels_tensor(const io::ImageSet& s, int64_t first, int64_t count);

// Intra-op threads and the deterministic-algorithms switch.
void configure_torch(int threads);

}  // namespace xbar::engine::nn::internal
