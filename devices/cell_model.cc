#include "devices/cell_model.h"

#include <cmath>
#include <stdexcept>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

std::string spice_number(double v) { return format_number(v); }

std::string to_string(GateLayout g) {
  switch (g) {
    case GateLayout::kPerRow: return "row";
    case GateLayout::kPerColumn: return "column";
    case GateLayout::kGlobal: return "global";
  }
  return "?";
}

GateLayout parse_gate_layout(const std::string& s) {
  for (GateLayout g : {GateLayout::kPerRow, GateLayout::kPerColumn, GateLayout::kGlobal})
    if (s == to_string(g)) return g;
  throw InputError("key gate = '" + s + "': expected row, column or global");
}

int64_t GateLines::count(int64_t rows, int64_t cols) const {
  switch (layout) {
    case GateLayout::kPerRow: return rows;
    case GateLayout::kPerColumn: return cols;
    case GateLayout::kGlobal: return 1;
  }
  return 0;
}

int64_t GateLines::line_of(int64_t i, int64_t j) const {
  switch (layout) {
    case GateLayout::kPerRow: return i;
    case GateLayout::kPerColumn: return j;
    case GateLayout::kGlobal: return 0;
  }
  return 0;
}

double GateLines::voltage(int64_t line) const {
  return v_line_v.empty() ? v_gate_v : v_line_v[size_t(line)];
}

void GateLines::validate(int64_t rows, int64_t cols) const {
  if (!std::isfinite(v_gate_v))
    throw InputError("key v-gate = " + format_number(v_gate_v) + ": must be finite");
  if (v_line_v.empty()) return;
  const int64_t n = count(rows, cols);
  if (int64_t(v_line_v.size()) != n)
    throw InputError("key v-gate-lines: " + std::to_string(v_line_v.size()) +
                     " gate-line voltages for gate = " + to_string(layout) + " on a " +
                     std::to_string(rows) + " x " + std::to_string(cols) + " array, expected " +
                     std::to_string(n));
  for (size_t k = 0; k < v_line_v.size(); ++k)
    if (!std::isfinite(v_line_v[k]))
      throw InputError("key v-gate-lines: entry " + std::to_string(k) + " = " +
                       format_number(v_line_v[k]) + ": must be finite volts");
}

MosEval CellModel::evaluate_gated(double, double, double, double) const {
  throw std::logic_error("CellModel::evaluate_gated(): cell model '" + name() +
                         "' has no gate terminal (gate_lines() is null)");
}

std::vector<std::string> CellModel::gated_spice_card(const std::string&, const std::string&,
                                                     const std::string&, const std::string&,
                                                     double) const {
  throw std::logic_error("CellModel::gated_spice_card(): cell model '" + name() +
                         "' has no gate terminal (gate_lines() is null)");
}

int CellModel::region(double, double, double, double) const { return -1; }

}  // namespace xbar::devices
