// DAC input and ADC output quantization: the row voltages come from b-bit DACs and the column
// currents are read by b-bit ADCs, each over a fixed range.
//
//   devices::UniformQuantizer dac = devices::make_dac(dac_options);     // volts
//   devices::QuantizeCounts c = dac.quantize_in_place(v_rows);          // clips counted
//   devices::UniformQuantizer adc = devices::make_adc(adc_options);     // amperes
//   c += adc.quantize_in_place(currents);
//
// The quantizer: b bits give L = 2^b levels spread evenly over the range [lo, hi] with both
// ends included,
//   q_k = lo + k D,  D = (hi - lo) / (2^b - 1),  k = 0 .. L-1   (q_{L-1} is exactly hi),
// and x maps to the nearest level: k = floor((x - lo) / D + 1/2) (halfway rounds up, toward hi).
// This is a mid-tread quantizer anchored at the range: lo is a level with a tread of
// half-width D/2 around it, so for the usual unipolar ranges (DAC [0, v_max], ADC [0, i_max]) an
// input of exactly 0 gives exactly 0 and the full-scale value is reproduced exactly. For a
// range symmetric about 0 there is an even number of levels and 0 falls halfway between two
// of them (mid-rise about 0); a two's-complement range lo = -2^(b-1) D, hi = (2^(b-1) - 1) D
// puts a level at 0 when one is needed there.
// Values below lo or above hi are set to lo or hi and counted in QuantizeCounts, never silently.
// bits = 0 is pass-through: unlimited resolution and no range, so nothing is clipped.
// NaN passes through unchanged (inputs are checked for finiteness where they enter xbar).
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "support/random_array.h"

namespace xbar::devices {

// The conductance matrix type of every non-ideality: M x N, row-major (support/random_array.h).
using support::RowMatrix;

// Largest `bits`: 2^32 levels already resolve ~1e-10 of the range, far below any converter;
// the bound also keeps 2^b - 1 exact and the level index inside int64.
constexpr int kMaxQuantizerBits = 32;

struct QuantizeCounts {
  int64_t values = 0;        // values quantized
  int64_t clipped_low = 0;   // values below lo, set to lo
  int64_t clipped_high = 0;  // values above hi, set to hi
  QuantizeCounts& operator+=(const QuantizeCounts& o) {
    values += o.values;
    clipped_low += o.clipped_low;
    clipped_high += o.clipped_high;
    return *this;
  }
};

class UniformQuantizer {
 public:
  // Pass-through (bits = 0).
  UniformQuantizer() = default;
  // 1 <= bits <= kMaxQuantizerBits, finite lo < hi; asserts (the options' validate() gives the
  // user-facing message). bits = 0 is also accepted and ignores lo and hi.
  UniformQuantizer(int bits, double lo, double hi);

  int bits() const { return bits_; }
  bool pass_through() const { return bits_ == 0; }
  double lo() const { return lo_; }
  double hi() const { return hi_; }
  double step() const { return step_; }  // D; 0 for pass-through
  int64_t levels() const { return pass_through() ? 0 : (int64_t(1) << bits_); }

  // The quantized value of x (clipping is not counted here; use quantize_in_place for counts).
  double quantize(double x) const;
  QuantizeCounts quantize_in_place(double* data, int64_t n) const;
  QuantizeCounts quantize_in_place(RowMatrix& m) const {
    return quantize_in_place(m.data(), m.size());
  }
  QuantizeCounts quantize_in_place(Eigen::VectorXd& v) const {
    return quantize_in_place(v.data(), v.size());
  }

 private:
  int bits_ = 0;
  double lo_ = 0.0;
  double hi_ = 0.0;
  double step_ = 0.0;
};

struct DacOptions {
  // DAC resolution [key dac-bits], 0 (unlimited: the row voltages pass unchanged) or
  // 1 .. kMaxQuantizerBits. Default 0: the ideal source of DESIGN.md's canonical crossbar.
  int bits = 0;
  // DAC output range [keys dac-v-min, dac-v-max], volts, finite, v_min_v < v_max_v when
  // bits > 0. No default range (0, 0): a full scale that silently clipped every input would be
  // worse than asking for one, so a user who sets dac-bits must also set dac-v-max.
  double v_min_v = 0.0;
  double v_max_v = 0.0;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
};

struct AdcOptions {
  // ADC resolution [key adc-bits], 0 (unlimited: currents pass unchanged) or
  // 1 .. kMaxQuantizerBits. Default 0: the ideal TIA readout.
  int bits = 0;
  // ADC input range [keys adc-i-min, adc-i-max], amperes, finite, i_min_a < i_max_a when
  // bits > 0. No default range for the same reason as the DAC: the full scale depends on the
  // array size, the conductances and the read voltage.
  double i_min_a = 0.0;
  double i_max_a = 0.0;

  void validate() const;
};

// Validate the options (InputError) and build the quantizer.
UniformQuantizer make_dac(const DacOptions& options);
UniformQuantizer make_adc(const AdcOptions& options);

}  // namespace xbar::devices
