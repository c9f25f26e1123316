#include "devices/flash_cell.h"

#include <algorithm>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

namespace {

// Safeguarded Newton on the inverse read characteristic: stop when a step moves the pinch-off
// voltage by less than this many ulp of its scale.
constexpr double kInverseRelStep = 4e-16;
constexpr int kInverseMaxIterations = 300;
// Doublings of the initial bracket [-1, 1] V of the pinch-off voltage: 60 reach 1e18 V, far
// past any current a transistor could carry, so running out means the target is absurd.
constexpr int kMaxBracketExpansions = 60;

// F(x_f) - F(x_r) = (s_f - s_r)(s_f + s_r) for a channel with forward / reverse arguments.
struct Channel {
  double s_f, s_r, l_f, l_r;
  double h() const { return (s_f - s_r) * (s_f + s_r); }
};

// softplus(x) and logistic(x) from one exponential e = e^{-|x|} (the Jacobian of a whole array
// is four of these per cell and Newton iteration).
void softplus_logistic(double x, double& s, double& l) {
  const double e = std::exp(-std::abs(x));
  s = (x > 0 ? x : 0.0) + std::log1p(e);
  l = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

Channel channel(double x_f, double x_r) {
  Channel c;
  softplus_logistic(x_f, c.s_f, c.l_f);
  softplus_logistic(x_r, c.s_r, c.l_r);
  return c;
}

}  // namespace

double softplus(double x) {
  // max(x, 0) + log1p(e^{-|x|}): the exponential's argument is never positive.
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

double logistic(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

void FlashParams::validate() const {
  const std::pair<const char*, double> positive[] = {
      {"flash-beta", beta_a_per_v2}, {"flash-n", n}, {"temperature", temperature_k}};
  for (const auto& [key, v] : positive)
    if (!std::isfinite(v) || v <= 0)
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be finite and > 0");
}

FlashCell::FlashCell(const FlashParams& params, const GateLines& gates) : p_(params), gates_(gates) {
  p_.validate();
  if (!std::isfinite(gates_.v_gate_v))
    throw InputError("key v-gate = " + format_number(gates_.v_gate_v) + ": must be finite");
  vt_ = p_.thermal_voltage_v();
}

MosEval FlashCell::evaluate_gated(double vth_v, double v_d_v, double v_g_v, double v_s_v) const {
  const double vp = (v_g_v - vth_v) / p_.n;
  const double two_vt = 2 * vt_;
  const Channel c = channel((vp - v_s_v) / two_vt, (vp - v_d_v) / two_vt);
  const double k = 2 * p_.n * p_.beta_a_per_v2 * vt_ * vt_;
  const double g = 2 * p_.n * p_.beta_a_per_v2 * vt_;  // K / V_T
  MosEval e;
  e.i_a = k * c.h();
  e.di_dvd_s = g * c.s_r * c.l_r;
  e.di_dvs_s = -g * c.s_f * c.l_f;
  e.di_dvg_s = g / p_.n * (c.s_f * c.l_f - c.s_r * c.l_r);
  return e;
}

CellEval FlashCell::evaluate(double vth_v, double v_v) const {
  const MosEval e = evaluate_gated(vth_v, v_v, gates_.v_gate_v, 0.0);
  return {e.i_a, e.di_dvd_s};
}

std::vector<std::string> FlashCell::spice_card(const std::string& name, const std::string&,
                                               const std::string&, double) const {
  throw InputError("cell '" + name + "': a flash cell is a transistor with a gate line and has no "
                   "two-terminal SPICE card; build the circuit with netlists::build_crossbar(), "
                   "which gives every cell its word line");
}

std::vector<std::string> FlashCell::gated_spice_card(const std::string& name, const std::string& drain,
                                                     const std::string& gate, const std::string& source,
                                                     double vth_v) const {
  // x = (V_G - V_th - n V_node) / (2 n V_T) for node = source (x_f) and drain (x_r).
  const std::string c = spice_number(1.0 / (2 * p_.n * vt_));
  const std::string n = spice_number(p_.n);
  const std::string vth = spice_number(vth_v);
  auto arg = [&](const std::string& node) {
    return "(" + c + "*(v(" + gate + ")-(" + vth + ")-" + n + "*v(" + node + ")))";
  };
  // s(x) = (x + |x|)/2 + 2 atanh(e^{-|x|} / (2 + e^{-|x|})), squared.
  auto s2 = [](const std::string& x) {
    const std::string e = "exp(-abs(" + x + "))";
    return "((" + x + "+abs(" + x + "))/2+2*atanh(" + e + "/(2+" + e + ")))^2";
  };
  const std::string k = spice_number(2 * p_.n * p_.beta_a_per_v2 * vt_ * vt_);
  return {"b" + name + " " + drain + " " + source + " i=" + k + "*(" + s2(arg(source)) + "-" +
          s2(arg(drain)) + ")"};
}

int FlashCell::region(double vth_v, double v_d_v, double v_g_v, double v_s_v) const {
  const double lo = std::min(v_d_v, v_s_v), hi = std::max(v_d_v, v_s_v);
  const double vp = (v_g_v - vth_v) / p_.n;
  const double s = softplus((vp - lo) / (2 * vt_));
  const double ic = s * s;
  if (ic < kWeakInversionMaxIc) return int(FlashRegion::kSubthreshold);
  if (ic <= kStrongInversionMinIc) return int(FlashRegion::kModerate);
  return int(hi < vp ? FlashRegion::kLinear : FlashRegion::kSaturation);
}

std::vector<std::string> FlashCell::region_names() const {
  return {"subthreshold", "moderate", "linear", "saturation"};
}

std::vector<std::pair<std::string, double>> FlashCell::parameters() const {
  return {{"flash-beta", p_.beta_a_per_v2},
          {"flash-n", p_.n},
          {"temperature", p_.temperature_k},
          {"v-gate", gates_.v_gate_v},
          {"gate-per-row", gates_.layout == GateLayout::kPerRow ? 1.0 : 0.0},
          {"gate-global", gates_.layout == GateLayout::kGlobal ? 1.0 : 0.0}};
}

double FlashCell::threshold_for_current(double i_a, double v_d_v, double v_g_v) const {
  if (!std::isfinite(i_a) || !(i_a > 0))
    throw InputError("flash read target " + format_number(i_a) + " A: must be finite and > 0");
  if (!std::isfinite(v_d_v) || !(v_d_v > 0))
    throw InputError("flash read voltage " + format_number(v_d_v) + " V: must be finite and > 0");
  if (!std::isfinite(v_g_v))
    throw InputError("flash read gate voltage " + format_number(v_g_v) + " V: must be finite");
  // With the source at 0 V the read current is K h(u), u = V_P, h increasing from 0 (u -> -inf)
  // to infinity: bracket the root of ln h(u) = ln(I/K), then Newton on the logarithm (smooth
  // across the regions: ~ u/V_T in subthreshold, ~ ln u in strong inversion), bisecting
  // whenever a step leaves the bracket.
  const double k = 2 * p_.n * p_.beta_a_per_v2 * vt_ * vt_;
  const double log_target = std::log(i_a) - std::log(k);
  const double two_vt = 2 * vt_;
  auto at = [&](double u) { return channel(u / two_vt, (u - v_d_v) / two_vt); };
  auto log_h = [&](double u) { return std::log(at(u).h()); };  // -inf where h underflows
  double lo = -1, hi = 1;
  int expansions = 0;
  for (double step = 1; !(log_h(lo) < log_target) && expansions < kMaxBracketExpansions; step *= 2, ++expansions)
    lo -= step;
  for (double step = 1; !(log_h(hi) > log_target) && expansions < kMaxBracketExpansions; step *= 2, ++expansions)
    hi += step;
  if (expansions >= kMaxBracketExpansions)
    throw InputError("flash read target " + format_number(i_a) + " A at " + format_number(v_d_v) +
                     " V: no threshold voltage gives this current");
  double u = 0.5 * (lo + hi);
  for (int it = 0; it < kInverseMaxIterations; ++it) {
    const Channel c = at(u);
    const double h = c.h();
    const double f = std::log(h) - log_target;
    if (f > 0) hi = u; else lo = u;
    // d ln h / du = (s_f l_f - s_r l_r) / (V_T h)
    const double df = (c.s_f * c.l_f - c.s_r * c.l_r) / (vt_ * h);
    double next = u - f / df;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const double scale = std::max(std::abs(u), vt_);
    if (std::abs(next - u) <= kInverseRelStep * scale || hi - lo <= kInverseRelStep * scale) {
      u = next;
      break;
    }
    u = next;
  }
  return v_g_v - p_.n * u;
}

}  // namespace xbar::devices
