// The linear cell: an ideal conductance, I = G * V.
#pragma once

#include "devices/cell_model.h"

namespace xbar::devices {

class LinearCell final : public CellModel {
 public:
  std::string name() const override { return "linear"; }
  bool is_linear() const override { return true; }
  CellEval evaluate(double g_s, double v_v) const override { return {g_s * v_v, g_s}; }
};

}  // namespace xbar::devices
