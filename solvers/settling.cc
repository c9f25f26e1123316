#include "solvers/settling.h"

#include <cmath>
#include <string>

#include "support/contract.h"
#include "support/input_error.h"

namespace xbar::solvers {

double default_settle_tol(int error_adc_bits) {
  if (error_adc_bits < 1 || error_adc_bits > 24)
    throw InputError("key error-adc-bits = " + std::to_string(error_adc_bits) + ": must be in [1, 24]");
  return 0.5 / std::ldexp(1.0, error_adc_bits);
}

Settling settling_time(const Eigen::VectorXd& times_s, const Eigen::VectorXd& waveform,
                       double final_value, double band) {
  XBAR_EXPECTS(times_s.size() == waveform.size() && times_s.size() >= 1,
               "settling_time: times and waveform must have the same length >= 1");
  XBAR_EXPECTS(band >= 0, "settling_time: the band must be >= 0");
  const Eigen::Index n = waveform.size();
  Eigen::Index last_out = -1;
  for (Eigen::Index k = n - 1; k >= 0 && last_out < 0; --k)
    if (std::abs(waveform(k) - final_value) > band) last_out = k;
  Settling s;
  if (last_out < 0) {
    s.time_s = times_s(0);
    return s;
  }
  if (last_out == n - 1) {
    s.time_s = times_s(n - 1);
    s.settled = false;
    return s;
  }
  // The straight line from sample last_out (outside) to the next (inside) crosses the edge of
  // the band on the side where last_out lies.
  const double e0 = waveform(last_out) - final_value, e1 = waveform(last_out + 1) - final_value;
  const double edge = e0 > 0 ? band : -band;
  const double frac = (e0 - edge) / (e0 - e1);
  s.time_s = times_s(last_out) + frac * (times_s(last_out + 1) - times_s(last_out));
  return s;
}

}  // namespace xbar::solvers
