// Settling of a waveform: the last time it is outside a band around its final value.
//
//   const double band = solvers::default_settle_tol(8) * full_scale_a;  // half an LSB
//   solvers::Settling s = solvers::settling_time(times_s, waveform, final_value, band);
//   s.time_s, s.settled
//
// Definition (issue 20): a column's settling time is the last time its current is outside
// settle-tol x full scale around its final (DC) value. The default settle-tol is half an LSB of
// an error ADC of B bits, 0.5 / 2^B, with the LSB as calib::ReadoutSpec defines it (full scale
// / 2^B); default_settle_tol() is that definition, in one place. Between two samples the
// waveform is taken as the straight line joining them, so the time reported is where that line
// leaves the band for the last time: after the last sample outside the band, where the line to
// the next sample crosses the band's edge. A waveform still outside the band at its last sample
// has not settled (settled = false, time = its last time); one that is never outside the band
// settles at its first time.
#pragma once

#include <Eigen/Dense>

namespace xbar::solvers {

// Half an LSB of a `bits`-bit ADC as a fraction of its full scale: 0.5 / 2^bits. Throws
// InputError naming key error-adc-bits unless bits is in [1, 24].
double default_settle_tol(int error_adc_bits);

struct Settling {
  double time_s = 0;
  bool settled = true;
};

// times_s increasing, waveform of the same length (>= 1), band >= 0 (same unit as waveform).
Settling settling_time(const Eigen::VectorXd& times_s, const Eigen::VectorXd& waveform,
                       double final_value, double band);

}  // namespace xbar::solvers
