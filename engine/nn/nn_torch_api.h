// The libtorch module's interface. libtorch's static initialisers (operator registration,
// OpenCV, Qt ... ~300 shared libraries) cost ~1 s at every process start, so the two
// libtorch translation units (nn_model.cc, train.cc) are built as a loadable module,
// libxbar_torch.so, that the executable opens only when a network is trained or loaded
// (nn_torch_loader.cc). The executable exports its symbols (CMake ENABLE_EXPORTS); the module
// takes the engine functions it calls (file writing, the data reader) from there.
//
//   const TorchApi& api = torch_api();   // dlopen on first use; a clear error when missing
//   Network net = api.load_network("model.pt");
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/nn/nn_model.h"
#include "engine/nn/train.h"
#include "engine/nn/user_model.h"

namespace xbar::engine::nn::internal {

// Bumped whenever a signature below changes: a stale module is refused, not called.
constexpr int kTorchApiVersion = 2;

struct TorchApi {
  int version;
  Network (*load_network)(const std::string& path);
  SoftwareEvaluation (*evaluate_software)(const std::string& model_path, const io::ImageSet& images, int threads,
                                          int64_t batch);
  TrainResult (*train_model)(const TrainOptions& options, const std::function<void(const std::string&)>& progress);
  bool (*is_xbar_model)(const std::string& path);
  std::shared_ptr<UserModel> (*load_user_model)(const std::string& path);
};

// The implementations inside the module (nn_model.cc, train.cc, torchscript_model.cc); the
// engine's load_network, evaluate_software, train_model, is_xbar_model and load_user_model
// forward to them through torch_api().
Network load_network_torch(const std::string& path);
SoftwareEvaluation evaluate_software_torch(const std::string& model_path, const io::ImageSet& images, int threads,
                                           int64_t batch = 1000);
TrainResult train_model_torch(const TrainOptions& options, const std::function<void(const std::string&)>& progress);
bool is_xbar_model_torch(const std::string& path);                       // torchscript_model.cc
std::shared_ptr<UserModel> load_user_model_torch(const std::string& path);  // torchscript_model.cc

// Opens the module once (thread-safe): $XBAR_TORCH_MODULE if set, else libxbar_torch.so next
// to the running executable, else in the build directory. Throws std::runtime_error naming
// every path tried and the loader's message.
const TorchApi& torch_api();

}  // namespace xbar::engine::nn::internal

extern "C" const xbar::engine::nn::internal::TorchApi* xbar_torch_api();
