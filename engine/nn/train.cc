// The libtorch training loop and the hardware-aware forward pass (train.h).
#include "engine/nn/train.h"

#include <chrono>
#include <cmath>
#include <random>

#include "support/format.h"
#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/nn/nn_torch.h"
#include "engine/nn/nn_torch_api.h"
#include "xbar_version.h"

namespace xbar::engine::nn {

using nlohmann::json;

namespace {

using internal::LayerSpec;

// x + (q - x).detach(): the value of q, the gradient of x (straight-through estimator).
torch::Tensor straight_through(const torch::Tensor& x, const torch::Tensor& q) { return x + (q - x).detach(); }

// Unsigned b-bit quantisation of x >= 0 over [0, range].
torch::Tensor quantize_unsigned(const torch::Tensor& x, int bits, const torch::Tensor& range) {
  const double levels = std::ldexp(1.0, bits) - 1;
  const torch::Tensor step = (range / levels).clamp_min(1e-30);
  return straight_through(x, (x / step).round().clamp(0, levels) * step);
}

// Two's-complement b-bit quantisation over +-range (a level at 0; devices/quantizer.h).
torch::Tensor quantize_signed(const torch::Tensor& x, int bits, const torch::Tensor& range) {
  const double half = std::ldexp(1.0, bits - 1);
  const torch::Tensor step = (range / (half - 1)).clamp_min(1e-30);
  return straight_through(x, (x / step).round().clamp(-half, half - 1) * step);
}

// Stuck-at draws of one conductance matrix: each cell stuck-on (value 1), stuck-off (value lo)
// or healthy, independently at the given rates.
struct StuckDraw {
  torch::Tensor stuck;  // bool
  torch::Tensor value;  // the rail of the stuck cells
};

StuckDraw draw_stuck(const torch::Tensor& g, const HatOptions& h, double lo) {
  const torch::Tensor u = torch::rand(g.sizes());
  const torch::Tensor on = u < h.stuck_on_rate;
  return {u < h.stuck_on_rate + h.stuck_off_rate, torch::where(on, torch::ones_like(g), torch::full_like(g, lo))};
}

// Programming (levels, variation) and read noise of one conductance matrix; stuck cells, when
// drawn, are set to their rails after the variation (they ignore programming).
torch::Tensor program_and_read(torch::Tensor g, const HatOptions& h, double lo, const StuckDraw* stuck) {
  if (h.levels > 0) {
    const double steps = double(h.levels - 1);
    const torch::Tensor snapped = ((g - lo) / (1 - lo) * steps).round() / steps * (1 - lo) + lo;
    g = straight_through(g, snapped);
  }
  if (h.variation_sigma > 0) {
    const torch::Tensor z = torch::randn(g.sizes());
    if (h.variation == "gaussian") {
      g = g * (1 + h.variation_sigma * z);
    } else {  // lognormal, mean-preserving
      const double s2 = std::log1p(h.variation_sigma * h.variation_sigma);
      g = g * torch::exp(std::sqrt(s2) * z - s2 / 2);
    }
    g = g.clamp(lo, 1.0);
  }
  if (stuck) g = torch::where(stuck->stuck, stuck->value, g);
  if (h.read_noise_sigma > 0) g = (g * (1 + h.read_noise_sigma * torch::randn(g.sizes()))).clamp_min(0.0);
  return g;
}

// A differential pair of conductance matrices after every non-ideality, in the order the
// hardware applies them (hardware_inference.h): stuck cells drawn; with defect_aware the healthy
// partner of a stuck cell is retargeted to keep the difference (clipped to [lo, 1]); levels,
// variation, the rails, read noise.
std::pair<torch::Tensor, torch::Tensor> sample_pair(torch::Tensor gp, torch::Tensor gm, const HatOptions& h, double lo) {
  if (h.stuck_on_rate == 0 && h.stuck_off_rate == 0)
    return {program_and_read(gp, h, lo, nullptr), program_and_read(gm, h, lo, nullptr)};
  const StuckDraw sp = draw_stuck(gp, h, lo), sm = draw_stuck(gm, h, lo);
  if (h.defect_aware) {
    const torch::Tensor only_p = sp.stuck.logical_and(sm.stuck.logical_not());
    const torch::Tensor only_m = sm.stuck.logical_and(sp.stuck.logical_not());
    const torch::Tensor gm_adj = torch::where(only_p, (gm + (sp.value - gp)).clamp(lo, 1.0), gm);
    const torch::Tensor gp_adj = torch::where(only_m, (gp + (sm.value - gm)).clamp(lo, 1.0), gp);
    gp = gp_adj;
    gm = gm_adj;
  }
  return {program_and_read(gp, h, lo, &sp), program_and_read(gm, h, lo, &sm)};
}

// The hardware-aware product of one crossbar layer (train.h, steps 1-8).
torch::Tensor hat_mvm(const HatOptions& h, const LayerSpec& s, const torch::Tensor& x_in, const torch::Tensor& w,
                      const torch::Tensor& b) {
  const double lo = h.g_min_s / h.g_max_s;
  const torch::Tensor w_max = w.detach().abs().max().clamp_min(1e-30);
  const torch::Tensor gp = lo + (1 - lo) * torch::relu(w) / w_max;
  const torch::Tensor gm = lo + (1 - lo) * torch::relu(-w) / w_max;
  const auto [gp_hw, gm_hw] = sample_pair(gp, gm, h, lo);
  const torch::Tensor w_eff = (gp_hw - gm_hw) * (w_max / (1 - lo));
  torch::Tensor x = x_in;
  if (h.dac_bits > 0) x = quantize_unsigned(x, h.dac_bits, x.detach().max());
  const bool conv = s.kind == LayerKind::kConv;
  const int64_t fan_in = conv ? s.in * s.kernel * s.kernel : s.in;
  torch::Tensor y;
  if (h.adc_bits == 0 || fan_in <= h.tile_rows) {
    y = conv ? torch::conv2d(x, w_eff, {}, {1, 1}, {s.padding, s.padding}) : torch::matmul(x, w_eff.t());
    if (h.adc_bits > 0) y = quantize_signed(y, h.adc_bits, y.detach().abs().max());
  } else {
    // Row tiles: inputs [r0, r0 + tile_rows) of the flattened fan-in, as the crossbar sees them
    // (a convolution through im2col, torch's unfold: (B, fan_in, pixels), PyTorch's weight order).
    const torch::Tensor w_flat = w_eff.reshape({w_eff.size(0), fan_in});
    const int64_t b = x.size(0);
    const torch::Tensor cols =
        conv ? torch::nn::functional::unfold(x, torch::nn::functional::UnfoldFuncOptions({s.kernel, s.kernel})
                                                    .padding({s.padding, s.padding}))
             : x;
    for (int64_t r0 = 0; r0 < fan_in; r0 += h.tile_rows) {
      const int64_t n = std::min(h.tile_rows, fan_in - r0);
      const torch::Tensor part = conv ? torch::matmul(w_flat.narrow(1, r0, n), cols.narrow(1, r0, n))  // B x out x L
                                      : torch::matmul(cols.narrow(1, r0, n), w_flat.narrow(1, r0, n).t());
      const torch::Tensor q = quantize_signed(part, h.adc_bits, part.detach().abs().max());
      y = y.defined() ? y + q : q;
    }
    if (conv) {
      const int64_t side_h = x.size(2) + 2 * s.padding - s.kernel + 1, side_w = x.size(3) + 2 * s.padding - s.kernel + 1;
      y = y.view({b, w_eff.size(0), side_h, side_w});
    }
  }
  return conv ? y + b.view({1, -1, 1, 1}) : y + b;
}

// Fisher-Yates with an explicit mapping (std::shuffle's algorithm is not specified).
void shuffle(std::vector<int64_t>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = size_t(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

namespace {

// What may have made a run diverge, for its message: the learning rate, and with --hat the
// injected non-idealities.
// The first line of a torch message (the rest is its C++ backtrace).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string divergence_hint(const TrainOptions& o) {
  return "lr = " + format_number(o.learning_rate) +
         (o.hat.enabled ? ", and the non-idealities injected by --hat (variation-sigma = " +
                              format_number(o.hat.variation_sigma) + ", read-noise-sigma = " +
                              format_number(o.hat.read_noise_sigma) + ")"
                        : std::string()) +
         ": smaller values keep it finite";
}

}  // namespace

TrainResult internal::train_model_torch(const TrainOptions& o, const std::function<void(const std::string&)>& progress) {
  o.validate();
  auto say = [&](const std::string& m) {
    if (progress) progress(m);
  };
  const auto t_start = std::chrono::steady_clock::now();
  const io::ImageSet train = io::load_fashion_mnist(o.data_dir, io::Split::kTrain, o.train_subset, "train-subset");
  const io::ImageSet test = io::load_fashion_mnist(o.data_dir, io::Split::kTest, o.test_subset, "subset");
  internal::configure_torch(o.threads);
  torch::manual_seed(o.seed);

  json init_meta;
  internal::XbarNet net(o.architecture);
  if (!o.init_path.empty()) {
    net = internal::load_model(o.init_path, &init_meta);
    if (net->architecture() != o.architecture)
      throw InputError("key init = '" + o.init_path + "': holds a " + to_string(net->architecture()) +
                       " model, but --model is " + to_string(o.architecture));
  }
  net->train();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.learning_rate));
  const internal::MvmHook hook = [&](size_t, const LayerSpec& s, const torch::Tensor& x, const torch::Tensor& w,
                                     const torch::Tensor& b) { return hat_mvm(o.hat, s, x, w, b); };
  const torch::Tensor x_all = internal::images_tensor(train, 0, train.count);
  const torch::Tensor y_all = internal::labels_tensor(train, 0, train.count);
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> order(size_t(train.count));
  for (int64_t k = 0; k < train.count; ++k) order[size_t(k)] = k;

  say(std::string("training ") + to_string(o.architecture) + (o.hat.enabled ? " hardware-aware" : "") + " on " +
      std::to_string(train.count) + " images, " + std::to_string(o.epochs) + " epochs, batch " +
      std::to_string(o.batch_size) + ", seed " + std::to_string(o.seed) + ", " + std::to_string(o.threads) +
      " threads");
  json epochs = json::array();
  const int64_t batches = (train.count + o.batch_size - 1) / o.batch_size;
  for (int e = 0; e < o.epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    shuffle(order, rng);
    const torch::Tensor perm = torch::from_blob(order.data(), {train.count}, torch::kInt64);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t bi = 0; bi < batches; ++bi) {
      const int64_t first = bi * o.batch_size, n = std::min(o.batch_size, train.count - first);
      const torch::Tensor idx = perm.narrow(0, first, n);
      const torch::Tensor xb = x_all.index_select(0, idx), yb = y_all.index_select(0, idx);
      opt.zero_grad();
      const torch::Tensor logits = net->forward(xb, o.hat.enabled ? &hook : nullptr);
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, yb);
      loss.backward();
      const double batch_loss = loss.item<double>();
      // A step this large overflows float32 inside the optimiser (torch refuses the conversion)
      // before the loss turns non-finite: the same divergence, reported as such (issue 17).
      try {
        opt.step();
      } catch (const std::exception& err) {  // c10::Error; its type is not shared across the module boundary
        throw NumericalError("training diverged in epoch " + std::to_string(e + 1) + ", batch " + std::to_string(bi + 1) +
                             ": the optimiser step failed (" + first_line(err.what()) + "; " +
                             divergence_hint(o) + "); no model written");
      }
      loss_sum += batch_loss * double(n);
      correct += logits.argmax(1).eq(yb).sum().item<int64_t>();
    }
    const double loss = loss_sum / double(train.count), acc = double(correct) / double(train.count);
    // A diverged run (a learning rate or injected noise far too large) has a non-finite loss;
    // its weights are then NaN or inf, and a model of them must not be written (issue 17).
    if (!std::isfinite(loss))
      throw NumericalError("training diverged in epoch " + std::to_string(e + 1) + ": the mean loss is " +
                           std::to_string(loss) + " (" + divergence_hint(o) + "); no model written");
    const double secs = seconds_since(t0);
    epochs.push_back({{"epoch", e + 1}, {"loss", loss}, {"train_accuracy", acc}, {"seconds", secs}});
    char buf[160];
    std::snprintf(buf, sizeof buf, "epoch %d/%d: loss %.4f, train accuracy %.4f%s, %.1f s", e + 1, o.epochs, loss, acc,
                  o.hat.enabled ? " (with injected non-idealities)" : "", secs);
    say(buf);
  }
  const double train_s = seconds_since(t_start);

  json meta = {{"format", kModelFormat},
               {"format_version", kModelFormatVersion},
               {"architecture", to_string(o.architecture)},
               {"hat", o.hat.enabled},
               {"hat_options", o.hat.to_json()},
               {"training",
                {{"seed", o.seed},
                 {"epochs", o.epochs},
                 {"batch_size", o.batch_size},
                 {"learning_rate", o.learning_rate},
                 {"optimizer", "adam"},
                 {"train_images", train.count},
                 {"threads", o.threads},
                 {"init", o.init_path.empty() ? json(nullptr) : json(o.init_path)}}},
               {"version", XBAR_VERSION}};
  for (const auto& p : net->named_parameters())
    if (!torch::isfinite(p.value()).all().item<bool>())
      throw NumericalError("training diverged: parameter '" + p.key() + "' holds NaN or infinite values (" +
                           divergence_hint(o) + "); no model written");
  io::ensure_directory(o.out);
  internal::save_model(net, meta, o.out + "/model.pt");

  // Test accuracy of the saved model in software (noise-free), the figure train.json reports.
  const SoftwareEvaluation sw = internal::evaluate_software_torch(o.out + "/model.pt", test, o.threads);
  say("test accuracy (software, " + std::to_string(test.count) + " images): " + std::to_string(sw.accuracy));
  TrainResult r;
  r.test_accuracy = sw.accuracy;
  r.seconds = seconds_since(t_start);
  r.metrics = {{"epochs", epochs},
               {"final_loss", epochs.back()["loss"]},
               {"final_train_accuracy", epochs.back()["train_accuracy"]},
               {"test_accuracy", sw.accuracy},
               {"test_images", test.count},
               {"test_correct", sw.correct},
               {"train_images", train.count},
               {"times_s", {{"train_s", train_s}, {"test_eval_s", sw.seconds}, {"total_s", r.seconds}}},
               {"model_meta", meta}};
  return r;
}

}  // namespace xbar::engine::nn
