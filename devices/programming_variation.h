// Device-to-device programming variation: a cell programmed to G ends at a random G' near it,
// drawn once per cell when the array is written (it does not change between reads; that is
// read noise, read_noise.h).
//
//   devices::VariationOptions opt;
//   opt.model = devices::VariationModel::kLognormal;
//   opt.relative_sigma = 0.05;
//   devices::VariationStats st = devices::apply_programming_variation(g, opt, range, seed);
//
// Models (z ~ N(0, 1) per cell, drawn from stage_seed(seed, SeedStage::kVariation) in row-major
// order, one normal per cell, pinned cells included, so a cell's draw never depends on which
// other cells are stuck). sigma(G) is the standard deviation in siemens:
//   sigma(G) = relative_sigma * G     (relative: key variation-sigma, a fraction of G), or
//   sigma(G) = absolute_sigma_s       (absolute: key variation-sigma-s, siemens).
//   none:      G' = G, no draws.
//   gaussian:  G' = G + sigma(G) z.
//   lognormal: mean-preserving:  G' = G exp(s z - s^2 / 2),  s^2 = ln(1 + (sigma(G) / G)^2),
//              so that E[G'] = G and SD[G'] = sigma(G) exactly, the same meaning of sigma as in
//              the Gaussian model (only the shape differs: G' > 0, skewed upwards). The median
//              is G exp(-s^2 / 2), slightly below G. Mean-preserving rather than
//              median-preserving (G exp(s z)) because column currents are sums of G': an
//              unbiased G' leaves the expected current unchanged and keeps sigma comparable
//              between models. A cell at G = 0 stays at 0 (the model is multiplicative).
// Then G' is clipped to [range.g_min_s, range.g_max_s] (a cell cannot be programmed outside
// its window) and each clip is counted in VariationStats, never silently.
//
// The realised relative error e = (G'_clipped - G) / G over the varied cells with G > 0 is
// reported as mean and sample sigma: without clipping, E[e] = 0 and SD[e] = relative_sigma.
#pragma once

#include <cstdint>
#include <string>

#include "devices/cell_state.h"
#include "devices/conductance_range.h"
#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

enum class VariationModel { kNone, kGaussian, kLognormal };

std::string to_string(VariationModel m);
// Throws xbar::InputError naming the key "variation" and the accepted values.
VariationModel parse_variation_model(const std::string& s);

struct VariationOptions {
  // Distribution of G' around G [key variation]: none | gaussian | lognormal. Default none:
  // the ideal device; a sigma without a model is an error rather than silently ignored.
  VariationModel model = VariationModel::kNone;
  // Relative sigma [key variation-sigma]: SD[G'] as a fraction of G, finite, >= 0. Typical
  // multi-level RRAM after write-verify: 0.02 .. 0.1. Default 0 (set it with the model).
  double relative_sigma = 0.0;
  // Absolute sigma [key variation-sigma-s]: SD[G'] in siemens, finite, >= 0; the alternative
  // to relative_sigma for devices whose spread does not scale with G (at most one of the two
  // may be non-zero). Default 0.
  double absolute_sigma_s = 0.0;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  // Standard deviation of G' for a cell programmed to g_s, siemens.
  double sigma_s_at(double g_s) const {
    return absolute_sigma_s > 0 ? absolute_sigma_s : relative_sigma * g_s;
  }
};

struct VariationStats {
  int64_t cells_varied = 0;      // cells the variation acted on (not pinned); 0 for model none
  int64_t clipped_low = 0;       // G' < g_min_s, set to g_min_s
  int64_t clipped_high = 0;      // G' > g_max_s, set to g_max_s
  int64_t rel_error_cells = 0;   // varied cells with G > 0, over which the next two are taken
  double rel_error_mean = 0.0;   // mean of (G'_clipped - G) / G
  double rel_error_sigma = 0.0;  // sample standard deviation of the same
};

// Applies the variation in place to every cell not pinned by `pinned` (nullptr = all cells).
// `seed` is the user seed; the stage stream is derived from it (random_stream.h). Validates
// `options` and `range` (InputError). Elements of g_s must be finite and >= 0.
VariationStats apply_programming_variation(RowMatrix& g_s, const VariationOptions& options,
                                           const ConductanceRange& range, uint64_t seed,
                                           const StuckMask* pinned = nullptr);

}  // namespace xbar::devices
