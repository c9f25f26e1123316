#include "engine/nn/layer_runner.h"

#include <algorithm>

#include "support/contract.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

LayerRunner::LayerRunner(std::shared_ptr<HardwareLayer> layer, int threads)
    : layer_(std::move(layer)), threads_(std::max(threads, 1)), calib_max_a_(layer_->tiles.size(), 0.0) {}

void LayerRunner::observe_input(const Eigen::Ref<const RowMatrixXd>& x) {
  if (x.size()) observe_input_max(x.maxCoeff());
}

void LayerRunner::observe_input_max(double x_max) {
  std::lock_guard<std::mutex> lock(mutex_);
  input_max_ = std::max(input_max_, x_max);
}

void LayerRunner::finish_input_calibration() {
  std::lock_guard<std::mutex> lock(mutex_);
  layer_->set_input_full_scale(input_max_);
  std::fill(calib_max_a_.begin(), calib_max_a_.end(), 0.0);
  adc_calibrated_ = false;
}

void LayerRunner::finish_adc_calibration() {
  std::lock_guard<std::mutex> lock(mutex_);
  layer_->set_adc_ranges(calib_max_a_);
  adc_calibrated_ = true;
}

RowMatrixXd LayerRunner::mvm(const Eigen::Ref<const RowMatrixXd>& x, int64_t images, uint64_t first_batch,
                             bool calibrating) {
  RowMatrixXd y(x.rows(), layer_->fan_out());
  mvm_into(x, images, first_batch, calibrating, y);
  return y;
}

void LayerRunner::mvm_into(const Eigen::Ref<const RowMatrixXd>& x, int64_t images, uint64_t first_batch,
                           bool calibrating, Eigen::Ref<RowMatrixXd> y) {
  mvm_rows(x, images, first_batch, calibrating, y);
}

void LayerRunner::mvm_into(const Eigen::Ref<const RowMatrixXf>& x, int64_t images, uint64_t first_batch,
                           bool calibrating, Eigen::Ref<RowMatrixXd> y) {
  mvm_rows(x, images, first_batch, calibrating, y);
}

template <typename Matrix>
void LayerRunner::mvm_rows(const Matrix& x, int64_t images, uint64_t first_batch, bool calibrating,
                           Eigen::Ref<RowMatrixXd> y) {
  const HardwareLayer& l = *layer_;
  if (x.cols() != l.fan_in())
    throw InputError("layer " + l.name() + ": inputs have " + std::to_string(x.cols()) + " features, the layer " +
                     std::to_string(l.fan_in()));
  if (x.rows() == 0) return;
  if (images < 1 || x.rows() % images != 0)
    throw InputError("layer " + l.name() + ": " + std::to_string(x.rows()) + " input rows are not " +
                     std::to_string(images) + " images of equal reads");
  if (!(l.x_max > 0) || (!calibrating && !adc_calibrated_))
    throw InputError("layer " + l.name() + ": not calibrated (the DAC full scale and the ADC ranges come from "
                     "calibration inputs first)");
  XBAR_EXPECTS(y.rows() == x.rows() && y.cols() == l.fan_out(), "LayerRunner::mvm_into: y must be rows x fan_out");
  const int64_t reads = x.rows() / images;
  for_each_batch(images, threads_, [&](int64_t first, int64_t n, uint64_t b) {
    RowMatrixXd scratch = x.middleRows(first * reads, n * reads).template cast<double>();
    LayerCallStats s = l.new_stats();
    y.middleRows(first * reads, n * reads) = l.mvm(scratch, first_batch + b, calibrating, s);
    std::lock_guard<std::mutex> lock(mutex_);
    if (calibrating)
      for (size_t t = 0; t < calib_max_a_.size(); ++t) calib_max_a_[t] = std::max(calib_max_a_[t], s.max_abs_a[t]);
    else
      layer_->merge(s);
  });
  if (!calibrating) {
    std::lock_guard<std::mutex> lock(mutex_);
    reads_ += x.rows();
    images_ += images;
  }
}

void LayerRunner::reprogram(RowMatrixXd w, std::optional<uint64_t> layer_seed) {
  const HardwareLayer& old = *layer_;
  if (w.rows() != old.fan_in() || w.cols() != old.fan_out())
    throw InputError("layer " + old.name() + ": new weights are " + std::to_string(w.rows()) + " x " +
                     std::to_string(w.cols()) + ", the layer " + std::to_string(old.fan_in()) + " x " +
                     std::to_string(old.fan_out()));
  auto fresh = std::make_shared<HardwareLayer>(old.name(), std::move(w), old.options(), old.mode(),
                                               layer_seed.value_or(old.layer_seed()));
  build_layers({fresh.get()}, threads_, fresh->mode());
  std::lock_guard<std::mutex> lock(mutex_);
  fresh->x_max = old.x_max;
  for (size_t t = 0; t < fresh->tiles.size(); ++t) {
    fresh->tiles[t].adc_range_a = old.tiles[t].adc_range_a;
    fresh->tiles[t].calib_max_a = old.tiles[t].calib_max_a;
  }
  layer_ = std::move(fresh);
}

nlohmann::json LayerRunner::summary_json(bool per_tile) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json j = layer_->summary_json(per_tile);
  j["mode"] = to_string(layer_->mode());
  j["images"] = images_;
  j["reads"] = reads_;
  return j;
}

}  // namespace xbar::engine::nn
