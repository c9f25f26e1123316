// The linear cell: an ideal conductance, I = G * V.
#pragma once

#include "devices/cell_model.h"

namespace xbar::devices {

class LinearCell final : public CellModel {
 public:
  std::string name() const override { return "linear"; }
  bool is_linear() const override { return true; }
  CellEval evaluate(double g_s, double v_v) const override { return {g_s * v_v, g_s}; }
  std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                      const std::string& neg, double g_s) const override {
    if (g_s == 0) return {};
    return {(name[0] == 'r' ? "" : "r") + name + " " + pos + " " + neg + " " + spice_number(1.0 / g_s)};
  }
};

}  // namespace xbar::devices
