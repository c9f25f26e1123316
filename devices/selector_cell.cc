#include "devices/selector_cell.h"

#include <cmath>

namespace xbar::devices {

double SelectorCell::selector_voltage(double g_s, double v_v) const {
  if (v_v == 0 || g_s == 0) return g_s == 0 ? v_v : 0.0;
  // f(u) = i0 sinh(u / v0) - G (V - u) is increasing in u with f(0) <= 0 <= f(V) for V > 0
  // (mirror for V < 0): keep a bracket and take Newton steps that stay inside it.
  double lo = std::min(0.0, v_v), hi = std::max(0.0, v_v);
  // Start from the series split with the selector at its small-signal conductance i0/v0:
  // since sinh(x) >= x, f there has the sign of V, i.e. the start lies beyond the root on the
  // convex side, from where Newton converges monotonically (typically in 3-6 steps; from the
  // bracket's middle it took ~40 with bisection fallbacks).
  // A second upper bound (for V > 0) is v0 asinh(G V / i0), where the selector alone would
  // carry the whole G V; it is the tighter one once the selector is deep in its exponential
  // branch. Newton then starts from the smaller bound.
  double u = v_v * g_s / (g_s + i0_ / v0_);
  const double u_exp = v0_ * std::asinh(g_s * v_v / i0_);
  if (std::abs(u_exp) < std::abs(u)) u = u_exp;
  for (int it = 0; it < 200; ++it) {
    const double e = std::exp(u / v0_), inv = 1.0 / e;  // one exp for sinh and cosh
    const double f = 0.5 * i0_ * (e - inv) - g_s * (v_v - u);
    const double df = 0.5 * i0_ / v0_ * (e + inv) + g_s;
    if (f > 0) hi = u; else lo = u;
    double next = u - f / df;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);  // bisect when Newton leaves the bracket
    if (std::abs(next - u) <= 4e-16 * std::max(std::abs(u), v0_)) return next;
    u = next;
    if (hi - lo <= 4e-16 * std::max(std::abs(u), v0_)) return u;
  }
  return u;
}

CellEval SelectorCell::evaluate(double g_s, double v_v) const {
  if (g_s == 0) return {0.0, 0.0};
  const double u = selector_voltage(g_s, v_v);
  const double g_sel = i0_ / v0_ * std::cosh(u / v0_);
  return {g_s * (v_v - u), 1.0 / (1.0 / g_s + 1.0 / g_sel)};
}

std::vector<std::string> SelectorCell::spice_card(const std::string& name, const std::string& pos,
                                                  const std::string& neg, double g_s) const {
  if (g_s == 0) return {};
  const std::string mid = "m" + name;
  return {"r" + name + " " + pos + " " + mid + " " + spice_number(1.0 / g_s),
          "bs" + name + " " + mid + " " + neg + " i=" + spice_number(i0_) + "*sinh(v(" + mid + "," +
              neg + ")/" + spice_number(v0_) + ")"};
}

}  // namespace xbar::devices
