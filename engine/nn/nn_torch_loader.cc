// Opens the libtorch module on first use (nn_torch_api.h) and forwards the engine's network
// functions to it.
#include <dlfcn.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "devices/random_stream.h"
#include "engine/io/atomic_file.h"
#include "engine/io/fashion_mnist.h"
#include "engine/io/npy_dataset.h"
#include "engine/nn/layer_runner.h"
#include "engine/nn/nn_torch_api.h"
#include "solvers/library_threads.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#ifndef XBAR_TORCH_MODULE_DIR
#define XBAR_TORCH_MODULE_DIR ""
#endif

// The engine functions the module calls, taken from the executable: referenced here (external
// linkage, so never dropped) so that every executable that can open the module has them.
// `nm -DC --undefined-only libxbar_torch.so | grep xbar` lists what the module needs.
extern "C" {
extern const void* const xbar_torch_module_imports[];
const void* const xbar_torch_module_imports[] = {
    reinterpret_cast<const void*>(&xbar::engine::io::write_file_atomically),
    reinterpret_cast<const void*>(&xbar::engine::io::ensure_directory),
    reinterpret_cast<const void*>(&xbar::engine::io::load_fashion_mnist),
    reinterpret_cast<const void*>(&xbar::engine::nn::parse_architecture),
    reinterpret_cast<const void*>(static_cast<std::string (*)(xbar::engine::nn::Architecture)>(&xbar::engine::nn::to_string)),
    reinterpret_cast<const void*>(&xbar::engine::nn::build_layers),
    reinterpret_cast<const void*>(&xbar::devices::derive_seed),
};
}

namespace xbar::engine::nn::internal {
// Member functions the module calls (their addresses do not fit the array above). Never called.
void keep_module_member_imports() {
  [[maybe_unused]] volatile auto a = &Network::infer_shapes;
  [[maybe_unused]] volatile auto b = &HatOptions::to_json;
  [[maybe_unused]] volatile auto c = &TrainOptions::validate;
  // User models (torchscript_model.cc): the layers' runners and the data sets' samples.
  [[maybe_unused]] volatile auto d = &LayerRunner::finish_adc_calibration;
  [[maybe_unused]] volatile auto e = &LayerRunner::summary_json;
  [[maybe_unused]] volatile auto f = &io::SampleSet::features;
}
}  // namespace xbar::engine::nn::internal

namespace xbar::engine::nn {

namespace internal {

namespace {

constexpr const char* kModuleName = "libxbar_torch.so";

std::vector<std::string> candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("XBAR_TORCH_MODULE"); env && *env) {
    c.emplace_back(env);
    return c;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) c.push_back((exe.parent_path() / kModuleName).string());
  const std::string build_dir = XBAR_TORCH_MODULE_DIR;
  if (!build_dir.empty()) c.push_back((std::filesystem::path(build_dir) / kModuleName).string());
  return c;
}

const TorchApi* open_module() {
  std::string tried;
  for (const std::string& path : candidates()) {
    if (!std::filesystem::exists(path)) {
      tried += "\n  " + path + ": no such file";
      continue;
    }
#if defined(__SANITIZE_ADDRESS__)
    // Sanitizer build only: LeakSanitizer's end-of-process stop-the-world crashes ("Tracer caught
    // signal 11") in a process that has the uninstrumented libtorch loaded (tests/sanitizers/
    // README.md). Check for leaks now, before loading it; LSan then skips its exit check, so a
    // run that loads the module is leak-checked up to here rather than not at all.
    __lsan_do_leak_check();
#endif
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      tried += "\n  " + path + ": " + dlerror();
      continue;
    }
    using Entry = const TorchApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(h, "xbar_torch_api"));
    const TorchApi* api = entry ? entry() : nullptr;
    if (!api || api->version != kTorchApiVersion) {
      tried += "\n  " + path + ": not an xbar libtorch module of interface version " +
               std::to_string(kTorchApiVersion) + " (a stale build? rebuild xbar)";
      continue;
    }
    return api;  // never closed: libtorch does not support unloading
  }
  throw std::runtime_error("networks need the libtorch module " + std::string(kModuleName) +
                           " (built next to xbar; set XBAR_TORCH_MODULE=PATH to choose one), which could not be "
                           "loaded:" + tried);
}

}  // namespace

const TorchApi& torch_api() {
  static std::once_flag once;
  static const TorchApi* api = nullptr;
  std::call_once(once, [] {
    api = open_module();
    // libtorch's matrix products go through the same OpenBLAS: give it its threads back.
    solvers::unpark_blas_threads();
  });
  return *api;
}

}  // namespace internal

Network load_network(const std::string& path) { return internal::torch_api().load_network(path); }

SoftwareEvaluation evaluate_software(const std::string& model_path, const io::ImageSet& images, int threads,
                                     int64_t batch) {
  return internal::torch_api().evaluate_software(model_path, images, threads, batch);
}

TrainResult train_model(const TrainOptions& options, const std::function<void(const std::string&)>& progress) {
  return internal::torch_api().train_model(options, progress);
}

bool is_xbar_model(const std::string& path) { return internal::torch_api().is_xbar_model(path); }

std::shared_ptr<UserModel> load_user_model(const std::string& path) { return internal::torch_api().load_user_model(path); }

}  // namespace xbar::engine::nn
