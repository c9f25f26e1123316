#include "calib/error_metrics.h"

#include <cmath>

#include "support/input_error.h"
#include "devices/random_stream.h"

namespace xbar::calib {

std::string to_string(InputDistribution d) {
  switch (d) {
    case InputDistribution::kUniform: return "uniform";
    case InputDistribution::kBinary: return "binary";
    case InputDistribution::kFull: return "full";
  }
  return "?";
}

InputDistribution parse_input_distribution(const std::string& s) {
  if (s == "uniform") return InputDistribution::kUniform;
  if (s == "binary") return InputDistribution::kBinary;
  if (s == "full") return InputDistribution::kFull;
  throw InputError("key inputs = '" + s + "': expected uniform, binary or full");
}

RowMatrixXd random_inputs(int64_t k, int64_t m, double v_max_v, InputDistribution d, uint64_t seed,
                          InputStream stream) {
  RowMatrixXd v(k, m);
  if (d == InputDistribution::kFull) {
    v.setConstant(v_max_v);
    return v;
  }
  devices::RandomStream rng(devices::derive_seed(seed, uint64_t(stream)));
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    const double u = rng.uniform();
    v.data()[i] = d == InputDistribution::kUniform ? u * v_max_v : (u < 0.5 ? 0.0 : v_max_v);
  }
  return v;
}

double ReadoutSpec::lsb_a() const { return full_scale_a / std::ldexp(1.0, bits); }

double full_scale_a(const RowMatrixXd& g_s, double v_read_v) {
  return g_s.size() ? g_s.colwise().sum().maxCoeff() * std::abs(v_read_v) : 0.0;
}

ErrorStats error_stats(const RowMatrixXd& measured_a, const RowMatrixXd& ideal_a,
                       const ReadoutSpec& adc) {
  ErrorStats e;
  e.inputs = measured_a.rows();
  e.columns = measured_a.cols();
  if (measured_a.size() == 0) return e;
  const RowMatrixXd d = measured_a - ideal_a;
  Eigen::Index wk = 0, wj = 0;
  e.max_abs_a = d.cwiseAbs().maxCoeff(&wk, &wj);
  e.rms_a = std::sqrt(d.squaredNorm() / double(d.size()));
  e.worst_input = wk;
  e.worst_column = wj;
  if (adc.full_scale_a > 0) {
    e.max_pct_fs = 100 * e.max_abs_a / adc.full_scale_a;
    e.rms_pct_fs = 100 * e.rms_a / adc.full_scale_a;
    e.max_lsb = e.max_abs_a / adc.lsb_a();
    e.rms_lsb = e.rms_a / adc.lsb_a();
  }
  return e;
}

}  // namespace xbar::calib
