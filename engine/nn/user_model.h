// User models: a TorchScript module (a user's network through torch.jit.script or
// torch.jit.trace, saved with torch.jit.save) whose Linear, Conv1d and Conv2d layers run on
// crossbar tiles in `xbar evaluate --model FILE.pt`. libtorch-free interface; the module
// (engine/nn/torchscript_model.cc, in libxbar_torch.so) implements it.
//
//   std::shared_ptr<UserModel> m = load_user_model("vit.pt");   // InputError naming what cannot map
//   SoftwareRun s = m->predict_software(test, threads);          // the module as saved
//   m->build_hardware(options, HardwareMode::kCompensated, progress);
//   m->calibrate(calibration_inputs);
//   std::vector<int> p = m->predict_hardware(test);
//
// What is mapped: every submodule that is a torch.nn Linear, Conv1d or Conv2d is a crossbar
// layer, in the order of named_modules() (a grouped convolution: one unit per group), unit l
// taking layer seed derive_seed(seed, l) as xbar.torch does (python/xbar/torch.py), so the same
// model, hardware and seed give the predictions xbar.torch gives. The forward graph is inlined
// and every aten::linear / conv1d / conv2d / _convolution node whose weight is such a module's
// weight is replaced by a custom op (xbar::crossbar) that runs the layer on its tiles (im2col
// for convolutions; the bias, and everything else in the graph, in torch). Refused, with the
// layer's name and why: modules xbar does not map (MultiheadAttention, Conv3d, transposed
// convolutions, RNN/LSTM/GRU, Bilinear), a linear or convolution node whose weight is not the
// parameter of a mapped module (computed, or a functional call on a raw tensor), convolution
// parameters not fixed in the module, a model with no crossbar layer.
//
// Inputs: N samples of the model's input shape, float32; outputs: N x classes (the prediction is
// the argmax of the last dimension). Evaluation runs in batches of kUserBatchImages samples; the
// read noise of batch b of kEvalBatchImages samples is stream b, as in xbar.torch.predict.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/io/npy_dataset.h"
#include "engine/nn/hardware_layer.h"

namespace xbar::engine::nn {

// Samples per forward call of a user model (a multiple of kEvalBatchImages, like
// xbar.torch.predict's default).
constexpr int64_t kUserBatchImages = 1000;

struct UserLayer {
  std::string name;               // module path, e.g. "blocks.0.mlp.fc1"
  std::string kind;               // linear | conv1d | conv2d
  int64_t groups = 1;
  int64_t fan_in = 0, fan_out = 0;  // the crossbar matrix of one group
  int64_t first_unit = 0;         // crossbar unit of group 0
  int64_t calls = 0;              // graph nodes that run it
};

struct SoftwareRun {
  std::vector<int> predictions;
  double seconds = 0;
};

class UserModel {
 public:
  using Progress = std::function<void(const std::string&)>;
  virtual ~UserModel() = default;
  virtual const std::string& path() const = 0;
  virtual const std::vector<UserLayer>& layers() const = 0;
  // The module as saved (eval mode, float32), `threads` intra-op threads.
  virtual SoftwareRun predict_software(const io::SampleSet& samples, int threads) = 0;
  // Programs and solves every layer's tiles (the previous hardware, if any, is dropped).
  virtual double build_hardware(const HardwareOptions& options, HardwareMode mode, const Progress& progress) = 0;
  // DAC full scales (software pass) and ADC ranges (hardware pass, ADC bypassed) on `inputs`.
  virtual double calibrate(const io::SampleSet& inputs) = 0;
  virtual std::vector<int> predict_hardware(const io::SampleSet& samples) = 0;
  // Per layer (unit): the HardwareLayer summaries, as accuracy.json's runs.*.layers.
  virtual nlohmann::json hardware_summary(bool per_tile) const = 0;
};

// True when `path` is a model file of `xbar train` (its "xbar_meta" record), false for any other
// file that exists (a user model, or not a model at all: load_user_model says which).
bool is_xbar_model(const std::string& path);

// Loads a TorchScript module and finds its crossbar layers. Throws InputError naming the file
// when it is missing or not a TorchScript module, and naming the layer that cannot be mapped.
std::shared_ptr<UserModel> load_user_model(const std::string& path);

}  // namespace xbar::engine::nn
