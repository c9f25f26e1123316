// The 1T1R cell: the memory element (a linear conductance G, the cell's value) in series with
// an access NMOS whose gate is driven per row (the word line, as in a typical 1T1R array) or
// per column. Orientation, from row to column:
//
//   r(i,j) --[ G ]-- m(i,j) --drain[ NMOS ]source-- c(i,j)        gate: word line of row i
//                                  |                               (or of column j), held at
//                                 gate                             v_gate by an ideal source
//
// The drain is on the memory element and the source on the column node: with positive read
// voltages and the columns at virtual ground the source is the low side, so the overdrive
// V_gs - VTO = v_gate - V_column - VTO is set by the word line and the bit-line IR drop. The
// transistor is SPICE level 1 (mos1_transistor.h; symmetric, so negative reads work too).
//
//   auto cell = devices::make_cell_model("1t1r", params);   // registry.h, CellParams
//   auto x = netlists::build_crossbar(spec, g, cell);        // expands every cell
//
// The node m(i,j) between memory element and drain is an unknown of the nodal system (the
// builder creates it, netlists/crossbar_builder.h); the transistor's current depends on three
// node voltages, so the Jacobian is not symmetric and Newton runs on KLU. In ngspice the cell
// is the resistor 1/G plus `m... m c gate c <model> w=W/L l=1` and one level-1 `.model` card.
//
// evaluate() is the cell's two-terminal characteristic with the column terminal at 0 V (an
// ideal virtual ground) and the gate at v_gate: the series pair solved exactly (bracketed
// Newton on the internal node voltage). The nodal solver never uses it (a real column is not
// at 0 V); it serves as a reference and for quick estimates.
#pragma once

#include <memory>

#include "devices/cell_model.h"
#include "devices/mos1_transistor.h"

namespace xbar::devices {

class OneTOneRCell final : public CellModel {
 public:
  // Throws xbar::InputError for bad transistor parameters or a non-positive / non-finite
  // w_over_l or a non-finite v_gate_v.
  OneTOneRCell(const Mos1Params& mos, double w_over_l, double v_gate_v, bool gate_per_row);
  std::string name() const override { return "1t1r"; }
  bool is_linear() const override { return false; }
  CellEval evaluate(double g_s, double v_v) const override;
  // Throws xbar::InputError: a 1T1R cell is three elements and a gate line, written by the
  // SPICE writer from the expanded circuit, never as one two-terminal card.
  std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                      const std::string& neg, double g_s) const override;
  std::vector<std::pair<std::string, double>> parameters() const override;
  const AccessTransistor* access_transistor() const override { return &access_; }
  // The internal node voltage (column terminal at 0 V) for a voltage v_v across the cell.
  double internal_voltage(double g_s, double v_v) const;

 private:
  AccessTransistor access_;
};

}  // namespace xbar::devices
