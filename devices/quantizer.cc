#include "devices/quantizer.h"

#include <cmath>
#include <string>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

namespace {

// Shared by the DAC and the ADC; `prefix` is "dac" or "adc", `what` the range's unit.
void validate_converter(const std::string& prefix, int bits, const std::string& lo_key, double lo,
                        const std::string& hi_key, double hi, const char* unit) {
  if (bits < 0 || bits > kMaxQuantizerBits)
    throw InputError("key " + prefix + "-bits = " + std::to_string(bits) +
                     ": must be 0 (unlimited) or 1 .. " + std::to_string(kMaxQuantizerBits));
  if (bits == 0) return;  // pass-through: the range is not used
  if (!std::isfinite(lo))
    throw InputError("key " + lo_key + " = " + format_number(lo) + ": must be finite (" + unit +
                     ")");
  if (!std::isfinite(hi) || !(hi > lo))
    throw InputError("key " + hi_key + " = " + format_number(hi) + ": must be finite and > " +
                     lo_key + " = " + format_number(lo) + " " + unit + " when " + prefix +
                     "-bits = " + std::to_string(bits) + " (set the converter's full scale)");
}

}  // namespace

UniformQuantizer::UniformQuantizer(int bits, double lo, double hi) : bits_(bits), lo_(lo), hi_(hi) {
  XBAR_EXPECTS(bits >= 0 && bits <= kMaxQuantizerBits, "UniformQuantizer: bits out of range");
  if (bits == 0) {
    lo_ = hi_ = 0.0;
    return;
  }
  XBAR_EXPECTS(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
               "UniformQuantizer: need finite lo < hi (validate the options first)");
  step_ = (hi - lo) / double((int64_t(1) << bits) - 1);
}

double UniformQuantizer::quantize(double x) const {
  if (pass_through() || std::isnan(x)) return x;
  if (x <= lo_) return lo_;
  if (x >= hi_) return hi_;
  const int64_t last = levels() - 1;
  int64_t k = int64_t(std::floor((x - lo_) / step_ + 0.5));
  if (k > last) k = last;  // rounding of (x - lo) / D just below hi
  return k == last ? hi_ : lo_ + double(k) * step_;
}

QuantizeCounts UniformQuantizer::quantize_in_place(double* data, int64_t n) const {
  QuantizeCounts c;
  c.values = n;
  if (pass_through()) return c;
  for (int64_t k = 0; k < n; ++k) {
    c.clipped_low += data[k] < lo_;
    c.clipped_high += data[k] > hi_;
    data[k] = quantize(data[k]);
  }
  return c;
}

void DacOptions::validate() const {
  validate_converter("dac", bits, "dac-v-min", v_min_v, "dac-v-max", v_max_v, "V");
}

void AdcOptions::validate() const {
  validate_converter("adc", bits, "adc-i-min", i_min_a, "adc-i-max", i_max_a, "A");
}

UniformQuantizer make_dac(const DacOptions& options) {
  options.validate();
  return UniformQuantizer(options.bits, options.v_min_v, options.v_max_v);
}

UniformQuantizer make_adc(const AdcOptions& options) {
  options.validate();
  return UniformQuantizer(options.bits, options.i_min_a, options.i_max_a);
}

}  // namespace xbar::devices
