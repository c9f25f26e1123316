// Honest error figures: column currents of a (compensated, calibrated or raw) array against
// the ideal product, on held-out inputs, in amperes, % of full scale and ADC LSB.
//
//   RowMatrixXd v = calib::heldout_inputs(1000, m, 0.2, InputDistribution::kUniform, seed);
//   ReadoutSpec adc{8, calib::full_scale_a(g, 0.2)};
//   ErrorStats e = calib::error_stats(v * t, v * g, adc);   // e.max_lsb, e.rms_lsb, ...
//
// Held-out inputs come from their own seeded stream (calib::InputStream below), never the one
// the calibration tables are fitted on, so every error reported is an out-of-sample figure.
#pragma once

#include <cstdint>
#include <string>

#include "netlists/crossbar_builder.h"

namespace xbar::calib {

using netlists::RowMatrixXd;

// Row-voltage distribution of random inputs: every row independently
//   uniform: uniform in [0, v_max];  binary: 0 or v_max with probability 1/2 each (bit-serial
//   DACs);  full: every row at v_max (the worst case for IR drop; deterministic).
enum class InputDistribution { kUniform, kBinary, kFull };
std::string to_string(InputDistribution d);
InputDistribution parse_input_distribution(const std::string& s);  // throws InputError ("inputs")

// Which stream an input set comes from: fitting (calibration tables) and held-out (errors)
// never share draws. Stage constants are part of the reproducibility contract (append only).
enum class InputStream : uint64_t { kHeldOut = 101, kCalibration = 102 };

// K x M inputs from the stream derive_seed(seed, stream), rows in order, one draw per entry.
RowMatrixXd random_inputs(int64_t k, int64_t m, double v_max_v, InputDistribution d, uint64_t seed,
                          InputStream stream);
inline RowMatrixXd heldout_inputs(int64_t k, int64_t m, double v_max_v, InputDistribution d,
                                  uint64_t seed) {
  return random_inputs(k, m, v_max_v, d, seed, InputStream::kHeldOut);
}

// ADC read-out the errors are expressed in: LSB = full_scale_a / 2^bits.
struct ReadoutSpec {
  int bits = 8;
  double full_scale_a = 0;  // > 0
  double lsb_a() const;
};

// Largest ideal column current with every row at v_read: max_j sum_i G_ij v_read.
double full_scale_a(const RowMatrixXd& g_s, double v_read_v);

struct ErrorStats {
  double max_abs_a = 0, rms_a = 0;      // over every input and column
  double max_pct_fs = 0, rms_pct_fs = 0;  // in % of full scale
  double max_lsb = 0, rms_lsb = 0;       // in LSB
  int64_t worst_input = 0, worst_column = 0;
  int64_t inputs = 0, columns = 0;
};

// measured and ideal: K x N column currents.
ErrorStats error_stats(const RowMatrixXd& measured_a, const RowMatrixXd& ideal_a,
                       const ReadoutSpec& adc);

}  // namespace xbar::calib
