#include "devices/flash_programming.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"
#include "support/running_moments.h"

namespace xbar::devices {

std::string to_string(FlashTarget t) {
  return t == FlashTarget::kReadCurrent ? "read-current" : "conductance";
}

FlashTarget parse_flash_target(const std::string& s) {
  for (FlashTarget t : {FlashTarget::kConductance, FlashTarget::kReadCurrent})
    if (s == to_string(t)) return t;
  throw InputError("key pv-target = '" + s + "': expected conductance or read-current");
}

std::string to_string(FlashVerify v) {
  switch (v) {
    case FlashVerify::kVerified: return "verified";
    case FlashVerify::kOvershoot: return "overshoot";
    case FlashVerify::kPulseLimit: return "pulse-limit";
    case FlashVerify::kAboveErased: return "above-erased";
  }
  return "?";
}

void FlashProgramOptions::validate() const {
  auto need = [](bool ok, const char* key, double v, const char* what) {
    if (!ok) throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be " + what);
  };
  need(std::isfinite(erase_vth_v), "flash-erase-vth", erase_vth_v, "finite volts");
  need(std::isfinite(erase_sigma_v) && erase_sigma_v >= 0, "flash-erase-sigma", erase_sigma_v,
       "finite and >= 0 volts");
  need(std::isfinite(pv_step_v) && pv_step_v > 0, "pv-step", pv_step_v, "finite and > 0 volts");
  need(std::isfinite(pv_sigma_v) && pv_sigma_v >= 0, "pv-sigma", pv_sigma_v, "finite and >= 0 volts");
  need(std::isfinite(pv_tol) && pv_tol > 0 && pv_tol < 1, "pv-tol", pv_tol,
       "in (0, 1) (relative to the target read current)");
  need(pv_max_pulses >= 1, "pv-max-pulses", pv_max_pulses, ">= 1");
  need(std::isfinite(v_read_v) && v_read_v > 0, "v-read", v_read_v,
       "finite and > 0 volts (the verify read's drain voltage)");
}

FlashProgramResult program_flash(const FlashCell& cell, const RowMatrix& target, FlashTarget kind,
                                 const FlashProgramOptions& o) {
  o.validate();
  const int64_t m = target.rows(), n = target.cols();
  const GateLines& gates = *cell.gate_lines();
  gates.validate(m, n);
  const char* what = kind == FlashTarget::kConductance ? "target conductance" : "target read current";
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (!std::isfinite(target(i, j)) || !(target(i, j) > 0))
        throw InputError(std::string(what) + " (" + std::to_string(i) + ", " + std::to_string(j) +
                         ") = " + format_number(target(i, j)) + ": must be finite and > 0 " +
                         (kind == FlashTarget::kConductance ? "siemens" : "amperes"));
  FlashProgramResult r;
  r.target_a = kind == FlashTarget::kConductance ? RowMatrix(target * o.v_read_v) : target;
  r.vth_erased_v.resize(m, n);
  r.vth_target_v.resize(m, n);
  r.vth_v.resize(m, n);
  r.read_a.resize(m, n);
  r.pulses.resize(m, n);
  r.status.resize(m, n);
  FlashProgramStats& st = r.stats;
  st.seed = o.seed;
  st.rows = m;
  st.cols = n;
  st.target = to_string(kind);

  RandomStream erase(stage_seed(o.seed, SeedStage::kFlashErase));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) r.vth_erased_v(i, j) = o.erase_vth_v + o.erase_sigma_v * erase.normal();

  const uint64_t pulse_seed = stage_seed(o.seed, SeedStage::kFlashProgram);
  support::RunningMoments pulses;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double vg = gates.voltage(gates.line_of(i, j));
      const double it = r.target_a(i, j);
      const double hi = it * (1 + o.pv_tol), lo = it * (1 - o.pv_tol);
      auto read = [&](double vth) { return cell.evaluate_gated(vth, o.v_read_v, vg, 0.0).i_a; };
      r.vth_target_v(i, j) = cell.threshold_for_current(it, o.v_read_v, vg);
      RandomStream rng(derive_seed(pulse_seed, uint64_t(i * n + j)));
      double vth = r.vth_erased_v(i, j);
      double i_read = read(vth);
      int32_t k = 0;
      FlashVerify outcome = FlashVerify::kVerified;
      if (i_read < lo) {
        outcome = FlashVerify::kAboveErased;
      } else {
        while (i_read > hi && k < o.pv_max_pulses) {
          double shift = o.pv_step_v + o.pv_sigma_v * rng.normal();
          if (shift < 0) {
            shift = 0;
            ++st.pulses_clipped;
          }
          vth += shift;
          ++k;
          i_read = read(vth);
        }
        if (i_read > hi) outcome = FlashVerify::kPulseLimit;
        else if (i_read < lo) outcome = FlashVerify::kOvershoot;
      }
      r.vth_v(i, j) = vth;
      r.read_a(i, j) = i_read;
      r.pulses(i, j) = k;
      r.status(i, j) = uint8_t(outcome);
      pulses.add(k);
      st.pulses_total += k;
      st.pulses_max = std::max(st.pulses_max, k);
      switch (outcome) {
        case FlashVerify::kVerified:
          ++st.verified;
          st.read_rel_error_max = std::max(st.read_rel_error_max, std::abs(i_read - it) / it);
          break;
        case FlashVerify::kOvershoot: ++st.overshoot; break;
        case FlashVerify::kPulseLimit: ++st.pulse_limit; break;
        case FlashVerify::kAboveErased: ++st.above_erased; break;
      }
    }
  st.pulses_mean = pulses.mean();
  if (m * n > 0) {
    st.vth_min_v = r.vth_v.minCoeff();
    st.vth_max_v = r.vth_v.maxCoeff();
  }
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "program-verify %lld x %lld (seed %llu): %lld verified, %lld overshoot, %lld at the "
                "pulse limit, %lld above erased; pulses mean %.3g, max %d",
                (long long)m, (long long)n, (unsigned long long)o.seed, (long long)st.verified,
                (long long)st.overshoot, (long long)st.pulse_limit, (long long)st.above_erased,
                st.pulses_mean, st.pulses_max);
  st.message = buf;
  return r;
}

}  // namespace xbar::devices
