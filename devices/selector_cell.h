// The 1S1R cell: the memory element (linear conductance G) in series with a two-terminal
// selector whose I-V is exponential and symmetric, as the mixed-ionic-electronic-conduction
// and threshold-type access devices of crosspoint memories are modelled compactly (Burr et al.,
// "Access devices for 3D crosspoint memory", J. Vac. Sci. Technol. B 32, 040802 (2014)):
//
//   I_sel = i0 * sinh(V_sel / v0)       i0 (--sel-i0, A), v0 (--sel-v0, V)
//
// Below a few v0 the selector passes almost nothing; above, its current grows by e every v0:
// the "half-select" suppression that makes 1S1R arrays readable. The series pair is solved
// exactly inside evaluate(): the voltage V_sel across the selector is the root of
//   i0 sinh(V_sel / v0) = G (V - V_sel)
// (monotone, bracketed by 0 and V; safeguarded Newton to full precision), then
//   I = G (V - V_sel),  dI/dV = 1 / (1/G + 1/g_sel),  g_sel = (i0/v0) cosh(V_sel / v0).
// So the nodal system keeps its 2MN unknowns. In ngspice the same cell is a resistor 1/G to an
// internal node plus a B-source for the selector: an independent formulation of the same
// circuit, which makes `xbar check --cell selector` a real cross-check.
#pragma once

#include "devices/cell_model.h"

namespace xbar::devices {

class SelectorCell final : public CellModel {
 public:
  SelectorCell(double i0_a, double v0_v) : i0_(i0_a), v0_(v0_v) {}
  std::string name() const override { return "selector"; }
  bool is_linear() const override { return false; }
  CellEval evaluate(double g_s, double v_v) const override;
  std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                      const std::string& neg, double g_s) const override;
  std::vector<std::pair<std::string, double>> parameters() const override {
    return {{"sel-i0", i0_}, {"sel-v0", v0_}};
  }
  // The voltage across the selector for a total voltage v_v across the cell.
  double selector_voltage(double g_s, double v_v) const;

 private:
  double i0_, v0_;
};

}  // namespace xbar::devices
