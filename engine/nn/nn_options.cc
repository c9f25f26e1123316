// The torch-free parts of the network options (nn_model.h, train.h): parsing and validation
// run in the executable; only training and model files need the libtorch module.
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "engine/nn/nn_model.h"
#include "engine/nn/train.h"

namespace xbar::engine::nn {

using nlohmann::json;

std::string to_string(Architecture a) { return a == Architecture::kMlp ? "mlp" : "cnn"; }

Architecture parse_architecture(const std::string& s) {
  if (s == "mlp") return Architecture::kMlp;
  if (s == "cnn") return Architecture::kCnn;
  throw InputError("key model = '" + s + "': expected mlp or cnn");
}

void HatOptions::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw InputError(msg);
  };
  need(std::isfinite(g_min_s) && g_min_s >= 0, "key g-min = " + format_number(g_min_s) + ": must be finite and >= 0 S");
  need(std::isfinite(g_max_s) && g_max_s > g_min_s, "key g-max = " + format_number(g_max_s) + ": must be finite and > g-min");
  need(levels == 0 || (levels >= 2 && levels <= (int64_t(1) << 20)),
       "key levels = " + std::to_string(levels) + ": must be 0 (continuous) or 2 .. 2^20");
  need(variation == "none" || variation == "gaussian" || variation == "lognormal",
       "key variation = '" + variation + "': expected none, gaussian or lognormal");
  need(std::isfinite(variation_sigma) && variation_sigma >= 0,
       "key variation-sigma = " + format_number(variation_sigma) + ": must be finite and >= 0");
  need(variation != "none" || variation_sigma == 0,
       "key variation-sigma = " + format_number(variation_sigma) + " given with variation = none: choose gaussian or lognormal");
  need(stuck_on_rate >= 0 && stuck_on_rate <= 1, "key stuck-on-rate = " + format_number(stuck_on_rate) + ": must be in [0, 1]");
  need(stuck_off_rate >= 0 && stuck_off_rate <= 1, "key stuck-off-rate = " + format_number(stuck_off_rate) + ": must be in [0, 1]");
  need(stuck_on_rate + stuck_off_rate <= 1, "keys stuck-on-rate + stuck-off-rate: must sum to at most 1");
  need(std::isfinite(read_noise_sigma) && read_noise_sigma >= 0,
       "key read-noise-sigma = " + format_number(read_noise_sigma) + ": must be finite and >= 0");
  need(dac_bits >= 0 && dac_bits <= 24, "key dac-bits = " + std::to_string(dac_bits) + ": must be 0 (unlimited) .. 24");
  need(adc_bits == 0 || (adc_bits >= 2 && adc_bits <= 24),
       "key adc-bits = " + std::to_string(adc_bits) + ": must be 0 (unlimited) or 2 .. 24");
  need(tile_rows >= 1, "key tile-rows = " + std::to_string(tile_rows) + ": must be >= 1");
  if (enabled && levels == 0 && variation_sigma == 0 && stuck_on_rate == 0 && stuck_off_rate == 0 &&
      read_noise_sigma == 0 && dac_bits == 0 && adc_bits == 0)
    throw InputError("key hat: hardware-aware training needs something to inject: give at least one of "
                     "--variation/--variation-sigma, --stuck-on-rate, --stuck-off-rate, --read-noise-sigma, "
                     "--levels, --dac-bits, --adc-bits");
}

json HatOptions::to_json() const {
  return {{"enabled", enabled},
          {"g_min_s", g_min_s},
          {"g_max_s", g_max_s},
          {"levels", levels},
          {"variation", variation},
          {"variation_sigma", variation_sigma},
          {"stuck_on_rate", stuck_on_rate},
          {"stuck_off_rate", stuck_off_rate},
          {"read_noise_sigma", read_noise_sigma},
          {"defect_aware", defect_aware},
          {"dac_bits", dac_bits},
          {"adc_bits", adc_bits},
          {"tile_rows", tile_rows}};
}

void TrainOptions::validate() const {
  if (out.empty()) throw InputError("key out: train needs --out DIR");
  if (epochs < 1) throw InputError("key epochs = " + std::to_string(epochs) + ": must be >= 1");
  if (batch_size < 1) throw InputError("key batch-size = " + std::to_string(batch_size) + ": must be >= 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate))
    throw InputError("key lr = " + format_number(learning_rate) + ": must be finite and > 0");
  if (train_subset < 0) throw InputError("key train-subset = " + std::to_string(train_subset) + ": must be >= 0 (0 = all)");
  if (test_subset < 0) throw InputError("key subset = " + std::to_string(test_subset) + ": must be >= 0 (0 = all)");
  if (threads < 1 || threads > 256) throw InputError("key threads = " + std::to_string(threads) + ": must be 1 .. 256");
  hat.validate();
}

}  // namespace xbar::engine::nn
