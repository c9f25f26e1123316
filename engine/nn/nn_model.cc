// The libtorch side of the networks: modules, model files, software evaluation.
#include "engine/nn/nn_model.h"

#include <chrono>
#include <filesystem>
#include <sstream>

#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/nn_torch.h"
#include "engine/nn/nn_torch_api.h"

namespace xbar::engine::nn {

namespace internal {

std::vector<LayerSpec> architecture_layers(Architecture a) {
  using K = LayerKind;
  if (a == Architecture::kMlp)
    return {{K::kDense, "fc1", 784, 256}, {K::kRelu, "relu1"}, {K::kDense, "fc2", 256, 128},
            {K::kRelu, "relu2"},          {K::kDense, "fc3", 128, 10}};
  return {{K::kConv, "conv1", 1, 6, 5, 2}, {K::kRelu, "relu1"}, {K::kMaxPool, "pool1", 0, 0, 2},
          {K::kConv, "conv2", 6, 16, 5, 0}, {K::kRelu, "relu2"}, {K::kMaxPool, "pool2", 0, 0, 2},
          {K::kFlatten, "flatten"},         {K::kDense, "fc1", 400, 120}, {K::kRelu, "relu3"},
          {K::kDense, "fc2", 120, 84},      {K::kRelu, "relu4"},          {K::kDense, "fc3", 84, 10}};
}

XbarNetImpl::XbarNetImpl(Architecture a) : arch_(a), specs_(architecture_layers(a)) {
  linears_.resize(specs_.size(), nullptr);
  convs_.resize(specs_.size(), nullptr);
  for (size_t k = 0; k < specs_.size(); ++k) {
    const LayerSpec& s = specs_[k];
    if (s.kind == LayerKind::kDense)
      linears_[k] = register_module(s.name, torch::nn::Linear(s.in, s.out));
    else if (s.kind == LayerKind::kConv)
      convs_[k] = register_module(
          s.name, torch::nn::Conv2d(torch::nn::Conv2dOptions(s.in, s.out, s.kernel).padding(s.padding)));
  }
}

torch::Tensor XbarNetImpl::forward(const torch::Tensor& input, const MvmHook* hook) {
  const int64_t b = input.size(0);
  torch::Tensor x = arch_ == Architecture::kCnn ? input.view({b, 1, 28, 28}) : input;
  size_t mvm = 0;
  for (size_t k = 0; k < specs_.size(); ++k) {
    const LayerSpec& s = specs_[k];
    switch (s.kind) {
      case LayerKind::kDense:
        x = hook ? (*hook)(mvm++, s, x, linears_[k]->weight, linears_[k]->bias) : linears_[k]->forward(x);
        break;
      case LayerKind::kConv:
        x = hook ? (*hook)(mvm++, s, x, convs_[k]->weight, convs_[k]->bias) : convs_[k]->forward(x);
        break;
      case LayerKind::kRelu: x = torch::relu(x); break;
      case LayerKind::kMaxPool: x = torch::max_pool2d(x, s.kernel); break;
      case LayerKind::kFlatten: x = x.reshape({b, -1}); break;
    }
  }
  return x;
}

std::vector<std::pair<torch::Tensor, torch::Tensor>> XbarNetImpl::mvm_parameters() const {
  std::vector<std::pair<torch::Tensor, torch::Tensor>> r;
  for (size_t k = 0; k < specs_.size(); ++k) {
    if (specs_[k].kind == LayerKind::kDense) r.emplace_back(linears_[k]->weight, linears_[k]->bias);
    if (specs_[k].kind == LayerKind::kConv) r.emplace_back(convs_[k]->weight, convs_[k]->bias);
  }
  return r;
}

void save_model(XbarNet& net, const nlohmann::json& meta, const std::string& path) {
  torch::serialize::OutputArchive ar;
  net->save(ar);
  ar.write("xbar_meta", c10::IValue(meta.dump()));
  io::write_file_atomically(path, [&](std::ostream& os) { ar.save_to(os); });
}

namespace {

std::string torch_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  const size_t nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

}  // namespace

XbarNet load_model(const std::string& path, nlohmann::json* meta_out) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    throw InputError("model file '" + path + "' does not exist (expected DIR/model.pt written by `xbar train`)");
  // A directory or a device is there, but is no model: say what it is (issue 17).
  if (std::filesystem::is_directory(status))
    throw InputError("model file '" + path + "' is a directory (expected DIR/model.pt written by `xbar train`)");
  if (!std::filesystem::is_regular_file(status))
    throw InputError("model file '" + path + "' is not a regular file (a device or a pipe; expected DIR/model.pt "
                     "written by `xbar train`)");
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error& e) {
    throw InputError(path + ": not a model file written by `xbar train` (not a PyTorch archive: " +
                     torch_message(e) + ")");
  }
  c10::IValue v;
  bool has_meta = false;
  try {
    has_meta = ar.try_read("xbar_meta", v) && v.isString();
  } catch (const c10::Error&) {
    has_meta = false;
  }
  if (!has_meta)
    throw InputError(path + ": a PyTorch archive but not an xbar model (no \"xbar_meta\" record; "
                     "models come from `xbar train`)");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(v.toStringRef());
  } catch (const std::exception& e) {
    throw InputError(path + ": the \"xbar_meta\" record is not JSON: " + e.what());
  }
  if (!meta.is_object() || meta.value("format", "") != kModelFormat)
    throw InputError(path + ": \"xbar_meta\" does not say format \"" + kModelFormat + "\"");
  if (meta.value("format_version", 0) != kModelFormatVersion)
    throw InputError(path + ": model format version " + meta.value("format_version", nlohmann::json(0)).dump() +
                     ", this xbar reads version " + std::to_string(kModelFormatVersion));
  Architecture arch;
  try {
    arch = parse_architecture(meta.value("architecture", ""));
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
  XbarNet net(arch);
  try {
    net->load(ar);
  } catch (const c10::Error& e) {
    throw InputError(path + ": parameters do not fit the " + to_string(arch) +
                     " architecture: " + torch_message(e));
  }
  if (meta_out) *meta_out = std::move(meta);
  return net;
}

torch::Tensor images_tensor(const io::ImageSet& s, int64_t first, int64_t count) {
  return torch::from_blob(const_cast<float*>(s.pixels.data()) + first * io::kImagePixels, {count, io::kImagePixels},
                          torch::kFloat32)
      .clone();
}

torch::Tensor labels_tensor(const io::ImageSet& s, int64_t first, int64_t count) {
  return torch::from_blob(const_cast<uint8_t*>(s.labels.data()) + first, {count}, torch::kUInt8)
      .to(torch::kInt64);
}

void configure_torch(int threads) {
  torch::set_num_threads(threads);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
}

}  // namespace internal

nlohmann::json read_model_meta(const std::string& path) {
  nlohmann::json meta;
  internal::load_model(path, &meta);
  return meta;
}

Network internal::load_network_torch(const std::string& path) {
  nlohmann::json meta;
  internal::XbarNet net = internal::load_model(path, &meta);
  Network n;
  n.arch = to_string(net->architecture());
  n.hat = meta.value("hat", false);
  n.meta = meta;
  n.source = path;
  const auto params = net->mvm_parameters();
  size_t mvm = 0;
  for (const internal::LayerSpec& s : net->specs()) {
    Layer l;
    l.kind = s.kind;
    l.name = s.name;
    l.kernel = s.kernel;
    l.padding = s.padding;
    if (s.kind == LayerKind::kDense || s.kind == LayerKind::kConv) {
      const auto& [w, b] = params[mvm++];
      // torch: out x fan_in (conv: out x C x k x k, flattened in (c, ky, kx) order).
      const torch::Tensor w2 = w.detach().reshape({w.size(0), -1}).to(torch::kFloat64).contiguous();
      const torch::Tensor b1 = b.detach().to(torch::kFloat64).contiguous();
      const Eigen::Map<const RowMatrixXd> wm(w2.data_ptr<double>(), w2.size(0), w2.size(1));
      l.w = wm.transpose();
      l.b = Eigen::Map<const Eigen::VectorXd>(b1.data_ptr<double>(), b1.size(0));
      for (Eigen::Index k = 0; k < l.w.size(); ++k)
        if (!std::isfinite(l.w.data()[k]))
          throw InputError(path + ": layer " + s.name + " holds a non-finite weight");
    }
    n.layers.push_back(std::move(l));
  }
  n.infer_shapes();
  if (n.outputs() != io::kClasses)
    throw InputError(path + ": the network ends in " + std::to_string(n.outputs()) + " outputs, expected 10 classes");
  return n;
}

SoftwareEvaluation internal::evaluate_software_torch(const std::string& model_path, const io::ImageSet& images, int threads,
                                     int64_t batch) {
  internal::configure_torch(threads);
  internal::XbarNet net = internal::load_model(model_path, nullptr);
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = internal::images_tensor(images, 0, images.count);
  SoftwareEvaluation r;
  r.predictions.resize(size_t(images.count));
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < images.count; first += batch) {
    const int64_t n = std::min(batch, images.count - first);
    const torch::Tensor pred = net->forward(x.narrow(0, first, n)).argmax(1).contiguous();
    const int64_t* p = pred.data_ptr<int64_t>();
    for (int64_t k = 0; k < n; ++k) r.predictions[size_t(first + k)] = int(p[k]);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int64_t k = 0; k < images.count; ++k) r.correct += r.predictions[size_t(k)] == images.labels[size_t(k)];
  r.accuracy = images.count ? double(r.correct) / double(images.count) : 0.0;
  return r;
}

}  // namespace xbar::engine::nn

// The module's one entry point (engine/nn/nn_torch_api.h).
extern "C" const xbar::engine::nn::internal::TorchApi* xbar_torch_api() {
  static const xbar::engine::nn::internal::TorchApi api{xbar::engine::nn::internal::kTorchApiVersion,
                                                    &xbar::engine::nn::internal::load_network_torch,
                                                    &xbar::engine::nn::internal::evaluate_software_torch,
                                                    &xbar::engine::nn::internal::train_model_torch,
                                                    &xbar::engine::nn::internal::is_xbar_model_torch,
                                                    &xbar::engine::nn::internal::load_user_model_torch};
  return &api;
}
