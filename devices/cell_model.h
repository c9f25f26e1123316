// Cell models: the two-terminal memory element between a row node and a column node.
//
//   const devices::CellModel& m = devices::linear_cell();
//   devices::CellEval e = m.evaluate(g_s, v_v);   // current and dI/dV at v_v
//
// Contract: a model is a small immutable value. evaluate() takes the cell's own
// conductance parameter g_s (siemens; for nonlinear models the small-signal conductance at
// 0 V) and the voltage across the cell v_v (row node minus column node, volts), and returns
// the current from row to column (amperes) and its derivative (siemens). It never touches
// a matrix: the companion-model conversion and the stamps live once, in solvers/.
// is_linear() lets solvers factor once and skip Newton entirely.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace xbar::devices {

// One evaluation of a device at an operating point.
struct CellEval {
  double i_a = 0.0;      // current from the row terminal to the column terminal, amperes
  double di_dv_s = 0.0;  // dI/dV at that voltage, siemens
};

class CellModel {
 public:
  virtual ~CellModel() = default;
  // Short lowercase name as used by --cell (e.g. "linear").
  virtual std::string name() const = 0;
  // True when I = g_s * V exactly: one factorization serves every input.
  virtual bool is_linear() const = 0;
  virtual CellEval evaluate(double g_s, double v_v) const = 0;
  // The cell as ngspice deck lines between nodes pos and neg (lowercase), given its element
  // name (without a type letter) and conductance parameter: a resistor for the linear cell,
  // behavioural B-sources for nonlinear ones. Internal nodes a card needs are named from
  // `name` and exist only in the deck. g_s = 0 is an open cell: no lines.
  virtual std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                              const std::string& neg, double g_s) const = 0;
  // Parameters as (key, value) pairs for result metadata, e.g. {"nl-k", 2.0}.
  virtual std::vector<std::pair<std::string, double>> parameters() const { return {}; }
};

// Shortest round-trip text of a number, for SPICE cards ("1e-05", "2.5").
std::string spice_number(double v);

}  // namespace xbar::devices
