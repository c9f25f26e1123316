#include "devices/one_t_one_r_cell.h"

#include <algorithm>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

OneTOneRCell::OneTOneRCell(const Mos1Params& mos, double w_over_l, double v_gate_v,
                           bool gate_per_row) {
  if (!std::isfinite(w_over_l) || w_over_l <= 0)
    throw InputError("key mos-wl = " + format_number(w_over_l) + ": must be > 0");
  if (!std::isfinite(v_gate_v))
    throw InputError("key v-gate = " + format_number(v_gate_v) + ": must be finite");
  access_.model = std::make_shared<Mos1Transistor>(mos);
  access_.w_over_l = w_over_l;
  access_.v_gate_v = v_gate_v;
  access_.gate_per_row = gate_per_row;
}

double OneTOneRCell::internal_voltage(double g_s, double v_v) const {
  if (g_s == 0 || v_v == 0) return 0.0;
  const Mos1Transistor& t = *access_.model;
  // f(u) = I_T(u) - G (V - u) is increasing in u (the transistor current grows with its drain
  // voltage in both modes, by at least gmin) with f(0) <= 0 <= f(V) for V > 0 (mirrored for
  // V < 0): keep the bracket and take Newton steps that stay inside it.
  double lo = std::min(0.0, v_v), hi = std::max(0.0, v_v);
  double u = 0.5 * (lo + hi);
  for (int it = 0; it < 400; ++it) {
    const MosEval e = t.evaluate(access_.w_over_l, u, access_.v_gate_v, 0.0);
    const double f = e.i_a - g_s * (v_v - u);
    if (f > 0) hi = u; else lo = u;
    double next = u - f / (e.di_dvd_s + g_s);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);  // bisect when Newton leaves it
    if (std::abs(next - u) <= 4e-16 * std::max(std::abs(u), 1.0)) return next;
    u = next;
    if (hi - lo <= 4e-16 * std::max(std::abs(u), 1.0)) return u;
  }
  return u;
}

CellEval OneTOneRCell::evaluate(double g_s, double v_v) const {
  if (g_s == 0) return {0.0, 0.0};
  const double u = internal_voltage(g_s, v_v);
  const double g_t = access_.model->evaluate(access_.w_over_l, u, access_.v_gate_v, 0.0).di_dvd_s;
  return {g_s * (v_v - u), g_s * g_t / (g_s + g_t)};
}

std::vector<std::string> OneTOneRCell::spice_card(const std::string& name, const std::string&,
                                                  const std::string&, double) const {
  throw InputError("cell '" + name + "': a 1t1r cell has no two-terminal SPICE card; build the "
                   "circuit with netlists::build_crossbar(), which expands it into memory "
                   "element, access transistor and gate line");
}

std::vector<std::pair<std::string, double>> OneTOneRCell::parameters() const {
  auto p = access_.model->parameters();
  p.insert(p.begin() + 2, {"mos-wl", access_.w_over_l});
  p.push_back({"v-gate", access_.v_gate_v});
  p.push_back({"gate-per-row", access_.gate_per_row ? 1.0 : 0.0});
  return p;
}

}  // namespace xbar::devices
