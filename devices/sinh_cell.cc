#include "devices/sinh_cell.h"

#include <cmath>

namespace xbar::devices {

CellEval SinhCell::evaluate(double g_s, double v_v) const {
  const double kv = k_ * v_v;
  return {g_s / k_ * std::sinh(kv), g_s * std::cosh(kv)};
}

std::vector<std::string> SinhCell::spice_card(const std::string& name, const std::string& pos,
                                              const std::string& neg, double g_s) const {
  if (g_s == 0) return {};
  return {"b" + name + " " + pos + " " + neg + " i=" + spice_number(g_s / k_) + "*sinh(" +
          spice_number(k_) + "*v(" + pos + "," + neg + "))"};
}

}  // namespace xbar::devices
