// Hardware inference: a Network (nn_network.h) programmed onto crossbar tiles and run with every
// matrix-vector product taken from the solved circuit of its tile.
//
//   engine::nn::HardwareOptions o;                         // tiles, wires, devices, DAC/ADC, seed
//   engine::nn::HardwareNetwork hw(net, o, engine::nn::HardwareMode::kCompensated, progress);
//   hw.calibrate(calibration_images);                  // DAC and ADC ranges (training images)
//   RowMatrixXd logits = hw.forward(test_batch, batch_index);
//
// Each MVM layer (dense, conv) is a HardwareLayer (hardware_layer.h: modes, the steps of a read,
// the compensation, seeds); the rest of the network (ReLU, pooling, bias) is digital
// (nn_network.h). MVM layer l (counting MVM layers only) takes layer seed derive_seed(seed, l),
// so tile k of MVM layer l programs with derive_seed(derive_seed(seed, l), k); evaluation batch
// b (kEvalBatchImages images) reads noise stream b of every tile.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/nn/hardware_layer.h"
#include "engine/nn/nn_network.h"

namespace xbar::engine::nn {

class HardwareNetwork {
 public:
  using Progress = std::function<void(const std::string&)>;
  // Maps, (compensates,) programs and solves every tile (the expensive part, timed).
  HardwareNetwork(const Network& net, const HardwareOptions& options, HardwareMode mode, Progress progress = {});
  // DAC ranges from the software activations of `images` (B x 784), then ADC ranges from the
  // hardware's signed currents on them (ADC bypassed).
  void calibrate(const RowMatrixXd& images);
  // Logits of a batch (B x 784). `batch_index` selects the read-noise streams. Thread-safe
  // for distinct calls (counts are gathered per call and merged under a lock).
  RowMatrixXd forward(const RowMatrixXd& images, uint64_t batch_index);
  // Predictions of `count` images (row-major, count x input features), batches of
  // kEvalBatchImages run on `threads` threads.
  std::vector<int> predict(const std::vector<float>& pixels, int64_t count);

  // The MVM layers in network order (each a LayerState: index in Network::layers, tiles, x_max).
  const std::vector<HardwareLayer>& layers() const { return layers_; }
  HardwareMode mode() const { return mode_; }
  double build_seconds() const { return build_s_; }
  double calibration_seconds() const { return calibrate_s_; }
  nlohmann::json summary_json(bool per_tile) const;

 private:
  // What one forward call gathers, per layer slot (merged into the layers under merge_mutex_).
  using CallStats = std::vector<LayerCallStats>;
  CallStats new_stats() const;
  RowMatrixXd run(const RowMatrixXd& images, uint64_t batch_index, bool calibrating, CallStats& stats) const;
  // Runs fn over the batches of `count` images on o_.threads threads (for_each_batch), with a
  // progress line ("<what>: done/count images (t s)") at most every kProgressEveryS seconds:
  // a nonlinear network's calibration and inference run for minutes to hours.
  void batches_with_progress(const std::string& what, int64_t count,
                             const std::function<void(int64_t, int64_t, uint64_t)>& fn) const;

  const Network& net_;
  HardwareOptions o_;
  HardwareMode mode_;
  std::vector<HardwareLayer> layers_;
  std::vector<int> layer_slot_;  // Network layer index -> index in layers_, -1 if not MVM
  Progress progress_;            // the constructor's, for calibration and inference too
  double build_s_ = 0, calibrate_s_ = 0;
  std::mutex merge_mutex_;
};

}  // namespace xbar::engine::nn
