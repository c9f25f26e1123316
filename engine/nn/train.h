// `xbar train`: training the MLP or the CNN of nn_model.h on Fashion-MNIST with libtorch,
// plainly or hardware-aware (--hat).
//
//   engine::nn::TrainOptions o;  o.architecture = Architecture::kMlp;  o.out = "run";
//   o.hat.enabled = true;  o.hat.variation_sigma = 0.05;  ...
//   engine::nn::TrainResult r = engine::nn::train_model(o, progress);   // writes run/model.pt
//
// Reproducibility: one seed [key seed] seeds libtorch's generator (weight initialisation and
// every HAT draw) and the shuffling (std::mt19937_64 with an explicit Fisher-Yates, so the order
// does not depend on the standard library). libtorch runs `threads` intra-op threads with its
// deterministic-algorithms switch on; the same seed and thread count give the same model file.
//
// Hardware-aware training (HAT): every forward pass of a training batch samples a fresh
// "chip" and runs each crossbar layer (dense and conv) as the hardware would, in normalised
// conductance units g = G / g_max (lo = g_min / g_max):
//   1. weights -> a differential pair, g+ = lo + (1 - lo) relu(W) / max|W|, g- likewise for -W
//      (the mapping of weight_mapping.h, with one scale per layer instead of per tile);
//   2. conductance levels (levels > 0): g snapped to the uniform grid on [lo, 1];
//   3. programming variation: gaussian g (1 + s z) or mean-preserving lognormal, clipped to
//      [lo, 1] (programming_variation.h);
//   4. stuck-at: each cell independently at 1 (stuck-on) or lo (stuck-off) at the given rates
//      (drawn first; with defect_aware the healthy partner keeps the pair's difference, as the
//      hardware's defect-aware programming does, before levels and variation act on it);
//   5. read noise: g (1 + r z);
//   6. the effective weight (g+ - g-) max|W| / (1 - lo);
//   7. DAC: the inputs quantised to dac_bits over [0, max of the batch];
//   8. ADC: the product split into row tiles of tile_rows inputs, each partial sum quantised to
//      adc_bits over the symmetric range +-max|partial sum| of the batch, then summed.
// Rounding steps pass gradients straight through (straight-through estimator); noise and
// defects are redrawn every batch, so the network learns weights that tolerate any draw.
// Evaluation (test accuracy in train.json) is noise-free software.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/nn/nn_model.h"

namespace xbar::engine::nn {

struct HatOptions {
  bool enabled = false;          // [key hat]
  // Device window [keys g-min, g-max], siemens: only the ratio g_min / g_max matters here.
  double g_min_s = 1e-6, g_max_s = 1e-4;
  int64_t levels = 0;            // [key levels] uniform conductance levels, 0 = continuous
  std::string variation = "none";   // [key variation] none|gaussian|lognormal
  double variation_sigma = 0.0;  // [key variation-sigma] relative
  double stuck_on_rate = 0.0;    // [key stuck-on-rate]
  double stuck_off_rate = 0.0;   // [key stuck-off-rate]
  double read_noise_sigma = 0.0; // [key read-noise-sigma] relative
  // [key defect-aware] the hardware reprograms the healthy partner of a stuck cell
  // (hardware_inference.h): inject stuck cells that way, not as bare rails.
  bool defect_aware = false;
  int dac_bits = 0;              // [key dac-bits] 0 = unlimited
  int adc_bits = 0;              // [key adc-bits] 0 = unlimited
  int64_t tile_rows = 128;       // [key tile-rows] inputs per crossbar (ADC partial sums)
  // Throws InputError naming the key; with enabled and nothing to inject, an error too (a HAT
  // run that injects nothing is a plain run under another name).
  void validate() const;
  nlohmann::json to_json() const;
};

struct TrainOptions {
  Architecture architecture = Architecture::kMlp;  // [key model]
  std::string data_dir = io::kDefaultFashionMnistDir;  // [key data-dir]
  int epochs = 5;                  // [key epochs] >= 1; 5 reaches ~88% (MLP) on the full set
  int64_t batch_size = 128;        // [key batch-size] >= 1
  double learning_rate = 1e-3;     // [key lr] Adam step size, > 0
  int64_t train_subset = 0;        // [key train-subset] first N training images, 0 = all 60,000
  int64_t test_subset = 0;         // [key subset] test images for the reported accuracy, 0 = all
  uint64_t seed = 1;               // [key seed]
  int threads = 2;                 // [key threads] libtorch intra-op threads, >= 1
  std::string init_path;           // [key init] start from this model.pt (same architecture)
  HatOptions hat;
  std::string out;                 // [key out] directory: model.pt, train.json
  bool quiet = false;
  void validate() const;           // InputError naming the key
};

struct TrainResult {
  nlohmann::json metrics;  // per epoch: loss, train accuracy, seconds; final test accuracy
  double test_accuracy = 0;
  double seconds = 0;
};

// Trains, then writes out/model.pt (atomically). Progress lines go to `progress` (may be empty).
TrainResult train_model(const TrainOptions& options, const std::function<void(const std::string&)>& progress);

}  // namespace xbar::engine::nn
