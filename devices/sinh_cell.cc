#include "devices/sinh_cell.h"

#include <cmath>

namespace xbar::devices {

CellEval SinhCell::evaluate(double g_s, double v_v) const {
  // One expm1 for both (std::sinh and std::cosh each call exp: a network's nonlinear tiles
  // evaluate every cell at every Newton and chord step, and the two calls were ~12% of a
  // batched 128 x 128 solve). With m = e^kv - 1: sinh kv = (m + m / (1 + m)) / 2, exact to a
  // few ulp also for small kv (no cancellation: m ~ kv), and cosh kv = (e + 1/e) / 2; taken at
  // |kv| (sinh is odd, cosh even), where 1 + m does not cancel.
  const double kv = k_ * v_v;
  const double m = std::expm1(std::abs(kv));
  const double e = 1 + m, inv = 1 / e;
  return {g_s / k_ * std::copysign(0.5 * (m + m * inv), kv), g_s * (0.5 * (e + inv))};
}

std::vector<std::string> SinhCell::spice_card(const std::string& name, const std::string& pos,
                                              const std::string& neg, double g_s) const {
  if (g_s == 0) return {};
  return {"b" + name + " " + pos + " " + neg + " i=" + spice_number(g_s / k_) + "*sinh(" +
          spice_number(k_) + "*v(" + pos + "," + neg + "))"};
}

}  // namespace xbar::devices
