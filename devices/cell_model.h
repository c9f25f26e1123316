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
//
// Cells with a three-terminal access device (1T1R) are not two-terminal elements of the
// nodal system: access_transistor() is non-null for them and netlists::build_crossbar()
// expands each such cell into its memory element, the transistor and its gate driver, with
// the node between them an unknown of the nodal system (see one_t_one_r_cell.h).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xbar::devices {

class Mos1Transistor;

// The access device of a 1T1R cell, as the crossbar builder needs it: drain on the memory
// element, source on the column node, gate on a driven word line (per row) or per column.
struct AccessTransistor {
  std::shared_ptr<const Mos1Transistor> model;  // level-1 NMOS parameters
  double w_over_l = 1.0;     // W/L of every access transistor, > 0
  double v_gate_v = 1.8;     // gate (word-line) voltage, volts
  bool gate_per_row = true;  // true: one gate line per row; false: one per column
};

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
  // Non-null for a cell with an access transistor; the cell must then be expanded by the
  // builder, and neither evaluate() nor spice_card() describes it inside a network.
  virtual const AccessTransistor* access_transistor() const { return nullptr; }
};

// Shortest round-trip text of a number, for SPICE cards ("1e-05", "2.5").
std::string spice_number(double v);

}  // namespace xbar::devices
