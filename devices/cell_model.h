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
//
// Cells that are transistors themselves (the Flash cell, flash_cell.h: drain on the row node,
// source on the column node, gate on a word line) are three-terminal elements: gate_lines()
// is non-null for them, netlists::build_crossbar() gives every such cell its gate line (the
// element's gate node), and the nodal solver calls evaluate_gated() with all three terminal
// voltages. evaluate() then stays the two-terminal characteristic of the wire-free read:
// source at 0 V, gate at the nominal gate voltage.
//
// The per-cell value. Each cell element carries one number, the M x N matrix handed to
// netlists::build_crossbar(): the conductance G for the resistive cells, the threshold
// voltage V_th for the Flash cell. cell_value() says which, so that the builder checks and
// names it correctly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/mos1_transistor.h"

namespace xbar::devices {

// The access device of a 1T1R cell, as the crossbar builder needs it: drain on the memory
// element, source on the column node, gate on a driven word line (per row) or per column.
struct AccessTransistor {
  std::shared_ptr<const Mos1Transistor> model;  // level-1 NMOS parameters
  double w_over_l = 1.0;     // W/L of every access transistor, > 0
  double v_gate_v = 1.8;     // gate (word-line) voltage, volts
  bool gate_per_row = true;  // true: one gate line per row; false: one per column
};

// How the gate lines of a cell with a gate terminal run: one per row (the word line of a NOR
// or 1T1R array), one per column, or a single line for the whole array.
enum class GateLayout : uint8_t { kPerRow, kPerColumn, kGlobal };
std::string to_string(GateLayout g);                  // "row", "column", "global"
GateLayout parse_gate_layout(const std::string& s);   // throws InputError naming key "gate"

// The gate lines of a three-terminal cell: ideal sources from ground, one per line.
struct GateLines {
  GateLayout layout = GateLayout::kPerRow;
  // Gate (word-line) voltage of every line, volts, finite.
  double v_gate_v = 1.8;
  // Optional voltage per line, volts (rows, columns or 1 entry, by layout); empty = every line
  // at v_gate_v. NOR arrays bias word lines individually (e.g. to select rows or trim a
  // row's read current); checked against the array size by the crossbar builder.
  std::vector<double> v_line_v;
  // Number of lines in an M x N array.
  int64_t count(int64_t rows, int64_t cols) const;
  // The line of cell (i, j) and its voltage.
  int64_t line_of(int64_t i, int64_t j) const;
  double voltage(int64_t line) const;
  // Throws xbar::InputError naming key v-gate (non-finite) or v-gate-lines (wrong count for an
  // M x N array, non-finite entry).
  void validate(int64_t rows, int64_t cols) const;
};

// The meaning of a cell's per-cell value (see the file comment).
struct CellValueKind {
  std::string what = "conductance G";  // as error messages name it, e.g. "conductance G[3, 4]"
  std::string unit = "siemens";
  bool nonnegative = true;             // G >= 0; a threshold voltage may have either sign
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
  // What the per-cell value is (conductance by default).
  virtual CellValueKind cell_value() const { return {}; }

  // Three-terminal cells (see the file comment). Non-null when the cell has a gate of its own.
  virtual const GateLines* gate_lines() const { return nullptr; }
  // Current from drain (row terminal) to source (column terminal) and its derivatives by each
  // terminal voltage (volts, all from the same reference). Only for gate_lines() != nullptr;
  // the default throws std::logic_error.
  virtual MosEval evaluate_gated(double value, double v_d_v, double v_g_v, double v_s_v) const;
  // The ngspice deck lines of a three-terminal cell between drain, gate and source nodes; the
  // default throws std::logic_error.
  virtual std::vector<std::string> gated_spice_card(const std::string& name, const std::string& drain,
                                                    const std::string& gate, const std::string& source,
                                                    double value) const;
  // Operating region of a three-terminal cell at its terminal voltages, an index into
  // region_names(); cells without regions return -1 and no names.
  virtual int region(double value, double v_d_v, double v_g_v, double v_s_v) const;
  virtual std::vector<std::string> region_names() const { return {}; }
};

// Shortest round-trip text of a number, for SPICE cards ("1e-05", "2.5").
std::string spice_number(double v);

}  // namespace xbar::devices
