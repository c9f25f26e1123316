// A HardwareLayer driven one layer at a time, by callers that own the rest of the network:
// xbar.torch (python/), whose converted Linear and Conv modules call it from PyTorch, and the
// TorchScript models of `xbar evaluate` (engine/nn/torchscript_model.cc), whose graphs call it
// through a custom op. Both see whole batches of images at a layer; the runner splits them
// into the evaluation's batches so that the read noise is the one `xbar evaluate` draws:
//
//   LayerRunner r(layer, threads);
//   r.observe_input(x_software);              // calibration, software pass: DAC full scale
//   r.finish_input_calibration();
//   r.mvm(x_cal, images, kCalibrationBatchBase, /*calibrating=*/true);   // ADC ranges
//   r.finish_adc_calibration();
//   RowMatrixXd y = r.mvm(x, images, first_batch, false);
//
// Inputs are `images` x reads rows (image-major: the rows of image n are [n reads, (n+1) reads),
// one read per output pixel of a convolution, per token of a sequence, 1 for a plain dense
// layer) by fan_in columns. Batch b of kEvalBatchImages images (rows [b R, (b+1) R) with
// R = kEvalBatchImages reads) reads noise stream first_batch + b of every tile; batches run on
// `threads` threads, each the same whichever thread runs it. Statistics (DAC and ADC counts,
// the calibration maxima) are merged under the runner's lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "engine/nn/hardware_layer.h"

namespace xbar::engine::nn {

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

class LayerRunner {
 public:
  LayerRunner(std::shared_ptr<HardwareLayer> layer, int threads);

  HardwareLayer& layer() { return *layer_; }
  const HardwareLayer& layer() const { return *layer_; }

  // Software pass of the calibration: the largest input value seen so far (DAC full scale).
  void observe_input(const Eigen::Ref<const RowMatrixXd>& x);
  void observe_input_max(double x_max);
  // The DAC full scale from the largest input observed (to be called before any hardware read);
  // starts a new ADC calibration.
  void finish_input_calibration();
  // The ADC ranges from the largest |signed current| of each tile over the calibrating mvm calls.
  void finish_adc_calibration();

  // reads x fan_out products of x (images x reads rows, fan_in columns), bias not included.
  RowMatrixXd mvm(const Eigen::Ref<const RowMatrixXd>& x, int64_t images, uint64_t first_batch, bool calibrating);
  // The same into y (x.rows() x fan_out), e.g. a NumPy array's memory; float32 inputs (what
  // torch models compute in) are widened batch by batch, exactly, instead of all at once.
  void mvm_into(const Eigen::Ref<const RowMatrixXd>& x, int64_t images, uint64_t first_batch, bool calibrating,
                Eigen::Ref<RowMatrixXd> y);
  void mvm_into(const Eigen::Ref<const RowMatrixXf>& x, int64_t images, uint64_t first_batch, bool calibrating,
                Eigen::Ref<RowMatrixXd> y);

  // Hardware-aware training: the same layer (name, options, mode) holding new weights w (fan_in
  // x fan_out), every tile programmed and solved again on `threads` threads, with the same layer
  // seed (the same chip) or `layer_seed` (another chip); the DAC full scale and the ADC ranges
  // of the last calibration are kept.
  void reprogram(RowMatrixXd w, std::optional<uint64_t> layer_seed = std::nullopt);

  // The layer's summary_json plus how many products it computed.
  nlohmann::json summary_json(bool per_tile) const;

 private:
  template <typename Matrix>
  void mvm_rows(const Matrix& x, int64_t images, uint64_t first_batch, bool calibrating, Eigen::Ref<RowMatrixXd> y);

  std::shared_ptr<HardwareLayer> layer_;
  int threads_;
  double input_max_ = 0;
  std::vector<double> calib_max_a_;  // per tile, over the calibrating calls
  bool adc_calibrated_ = false;
  int64_t reads_ = 0, images_ = 0;
  mutable std::mutex mutex_;
};

}  // namespace xbar::engine::nn
