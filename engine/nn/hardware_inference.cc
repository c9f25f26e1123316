#include "engine/nn/hardware_inference.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <stdexcept>

#include "devices/random_stream.h"

namespace xbar::engine::nn {

using nlohmann::json;

HardwareNetwork::HardwareNetwork(const Network& net, const HardwareOptions& options, HardwareMode mode,
                                 Progress progress)
    : net_(net), o_(options), mode_(mode), progress_(progress) {
  o_.validate();
  layer_slot_.assign(net.layers.size(), -1);
  layers_.reserve(net.mvm_layers().size());
  for (size_t k = 0; k < net.layers.size(); ++k) {
    const Layer& l = net.layers[k];
    if (!l.is_mvm()) continue;
    const uint64_t layer_seed = devices::derive_seed(o_.seed, layers_.size());
    layer_slot_[k] = int(layers_.size());
    layers_.emplace_back(l.name, l.w, o_, mode_, layer_seed);
    layers_.back().layer = k;
  }
  std::vector<HardwareLayer*> all;
  for (HardwareLayer& l : layers_) all.push_back(&l);
  build_s_ = build_layers(all, o_.threads, mode_, progress);
}

HardwareNetwork::CallStats HardwareNetwork::new_stats() const {
  CallStats s;
  for (const HardwareLayer& l : layers_) s.push_back(l.new_stats());
  return s;
}

RowMatrixXd HardwareNetwork::run(const RowMatrixXd& images, uint64_t batch_index, bool calibrating,
                                 CallStats& stats) const {
  return engine::nn::forward(net_, images, [&](size_t layer, RowMatrixXd& in) {
    const size_t slot = size_t(layer_slot_[layer]);
    return layers_[slot].mvm(in, batch_index, calibrating, stats[slot]);
  });
}

RowMatrixXd HardwareNetwork::forward(const RowMatrixXd& images, uint64_t batch_index) {
  CallStats s = new_stats();
  RowMatrixXd logits = run(images, batch_index, false, s);
  std::lock_guard<std::mutex> lock(merge_mutex_);
  for (size_t k = 0; k < layers_.size(); ++k) layers_[k].merge(s[k]);
  return logits;
}

namespace {

RowMatrixXd image_rows(const std::vector<float>& pixels, int64_t first, int64_t count, int64_t features) {
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
             pixels.data() + first * features, count, features)
      .cast<double>();
}

}  // namespace

void HardwareNetwork::calibrate(const RowMatrixXd& images) {
  const auto t0 = std::chrono::steady_clock::now();
  // DAC: the largest input of each MVM layer in software (double precision).
  std::vector<double> x_max(layers_.size(), 0.0);
  engine::nn::forward(net_, images, [&](size_t layer, RowMatrixXd& in) {
    double& m = x_max[size_t(layer_slot_[layer])];
    if (in.size()) m = std::max(m, in.maxCoeff());
    return RowMatrixXd(in * net_.layers[layer].w);
  });
  for (size_t k = 0; k < layers_.size(); ++k) layers_[k].set_input_full_scale(x_max[k]);
  // ADC: the largest signed current of each tile on the hardware, ADC bypassed. The calibration
  // images use read-noise batch indices far from the evaluation ones.
  // The batches run on o_.threads threads as the evaluation's do (a maximum does not depend on
  // their order): nonlinear tiles solve every calibration image by Newton.
  CallStats total = new_stats();
  std::mutex total_mutex;
  batches_with_progress("calibration", images.rows(), [&](int64_t first, int64_t n, uint64_t b) {
    CallStats s = new_stats();
    run(images.middleRows(first, n), kCalibrationBatchBase + b, true, s);
    std::lock_guard<std::mutex> lock(total_mutex);
    for (size_t k = 0; k < layers_.size(); ++k)
      for (size_t t = 0; t < layers_[k].tiles.size(); ++t)
        total[k].max_abs_a[t] = std::max(total[k].max_abs_a[t], s[k].max_abs_a[t]);
  });
  for (size_t k = 0; k < layers_.size(); ++k) layers_[k].set_adc_ranges(total[k].max_abs_a);
  calibrate_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void HardwareNetwork::batches_with_progress(const std::string& what, int64_t count,
                                            const std::function<void(int64_t, int64_t, uint64_t)>& fn) const {
  constexpr double kProgressEveryS = 30;
  if (!progress_ || mode_ == HardwareMode::kIdeal) return for_each_batch(count, o_.threads, fn);
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  int64_t done = 0;
  std::mutex m;
  for_each_batch(count, o_.threads, [&](int64_t first, int64_t n, uint64_t b) {
    fn(first, n, b);
    std::lock_guard<std::mutex> lock(m);
    done += n;
    const auto now = std::chrono::steady_clock::now();
    if (done < count && std::chrono::duration<double>(now - last).count() >= kProgressEveryS) {
      last = now;
      progress_(std::string(to_string(mode_)) + ": " + what + ": " + std::to_string(done) + "/" + std::to_string(count) + " images (" +
                std::to_string(int64_t(std::chrono::duration<double>(now - t0).count())) + " s)");
    }
  });
}

std::vector<int> HardwareNetwork::predict(const std::vector<float>& pixels, int64_t count) {
  const int64_t features = net_.input_c * net_.input_h * net_.input_w;
  if (int64_t(pixels.size()) < count * features)
    throw std::invalid_argument("HardwareNetwork::predict: fewer pixels than count x input features");
  std::vector<int> pred(static_cast<size_t>(count));
  batches_with_progress("inference", count, [&](int64_t first, int64_t n, uint64_t b) {
    const std::vector<int> p = argmax_rows(forward(image_rows(pixels, first, n, features), b));
    std::copy(p.begin(), p.end(), pred.begin() + first);
  });
  return pred;
}

json HardwareNetwork::summary_json(bool per_tile) const {
  json layers = json::array();
  for (const HardwareLayer& hl : layers_) {
    const Layer& l = net_.layers[hl.layer];
    json lj = hl.summary_json(per_tile);
    lj["kind"] = to_string(l.kind);
    lj["reads_per_image"] = l.reads_per_image();
    layers.push_back(lj);
  }
  return {{"mode", to_string(mode_)},
          {"layers", layers},
          {"times_s", {{"build_s", build_s_}, {"calibration_s", calibrate_s_}}}};
}

}  // namespace xbar::engine::nn
