#include "netlists/crossbar_builder.h"

#include <cmath>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/linear_cell.h"

namespace xbar::netlists {

namespace {

void check_cell_values(const CrossbarSpec& spec, const RowMatrixXd& g_s,
                       const devices::CellValueKind& kind) {
  if (g_s.rows() != spec.rows || g_s.cols() != spec.cols)
    throw InputError(kind.what + " matrix is " + std::to_string(g_s.rows()) + " x " +
                     std::to_string(g_s.cols()) + ", expected rows x cols = " +
                     std::to_string(spec.rows) + " x " + std::to_string(spec.cols));
  for (int64_t i = 0; i < g_s.rows(); ++i)
    for (int64_t j = 0; j < g_s.cols(); ++j) {
      const double g = g_s(i, j);
      if (!std::isfinite(g) || (kind.nonnegative && g < 0))
        throw InputError(kind.what + "[" + std::to_string(i) + ", " + std::to_string(j) +
                         "] = " + format_number(g) + ": must be finite" +
                         (kind.nonnegative ? " and >= 0 " : " ") + kind.unit);
    }
}

// One driven end of row i: the ideal source, behind the driver resistor when there is one.
void add_row_driver(CrossbarCircuit& x, int32_t i, bool left) {
  Circuit& c = x.circuit;
  const int32_t n_end = c.row_node(i, left ? 0 : int32_t(x.spec.cols - 1));
  int32_t n_src = n_end;
  if (x.spec.r_driver_ohm > 0) {
    n_src = c.add_node((left ? "dl" : "dr") + std::to_string(i));
    c.add_element(ElementKind::kResistor, left ? Role::kDriverLeft : Role::kDriverRight, i, 0,
                  n_src, n_end, x.spec.r_driver_ohm);
  }
  c.add_element(ElementKind::kVoltageSource, left ? Role::kSourceLeft : Role::kSourceRight, i, 0,
                n_src, kGround, 0.0);
  x.source_row.push_back(i);
}

// One sensed end of column j: a 0 V virtual ground, behind the sense resistor if any.
void add_column_sense(CrossbarCircuit& x, int32_t j, bool bottom, int slot) {
  Circuit& c = x.circuit;
  const int32_t n_end = c.col_node(bottom ? int32_t(x.spec.rows - 1) : 0, j);
  int32_t n_sense = n_end;
  if (x.spec.r_sense_ohm > 0) {
    n_sense = c.add_node((bottom ? "sb" : "st") + std::to_string(j));
    c.add_element(ElementKind::kResistor, bottom ? Role::kSenseBottom : Role::kSenseTop, 0, j,
                  n_end, n_sense, x.spec.r_sense_ohm);
  }
  c.add_element(ElementKind::kVoltageSource, bottom ? Role::kVgndBottom : Role::kVgndTop, 0, j,
                n_sense, kGround, 0.0);
  x.sense_sources[size_t(j)][size_t(slot)] = int32_t(x.source_row.size());
  x.source_row.push_back(-1);
}

// The source of gate line i (of row i per row, of column i per column, the array's one line
// when global): node held at v_gate.
void add_gate_source(CrossbarCircuit& x, int32_t i, int32_t node, devices::GateLayout layout,
                     double v_gate_v) {
  const Role role = layout == devices::GateLayout::kPerRow      ? Role::kGateRow
                    : layout == devices::GateLayout::kPerColumn ? Role::kGateCol
                                                                : Role::kGateGlobal;
  x.circuit.add_element(ElementKind::kVoltageSource, role,
                        layout == devices::GateLayout::kPerRow ? i : 0,
                        layout == devices::GateLayout::kPerColumn ? i : 0, node, kGround, v_gate_v);
  x.source_row.push_back(-1);
}

// The node of gate line k.
std::string gate_node_name(devices::GateLayout layout, int32_t k) {
  switch (layout) {
    case devices::GateLayout::kPerRow: return "gr" + std::to_string(k);
    case devices::GateLayout::kPerColumn: return "gc" + std::to_string(k);
    case devices::GateLayout::kGlobal: return "gw";
  }
  return "?";
}

}  // namespace

Eigen::MatrixXd CrossbarCircuit::source_values(const RowMatrixXd& v) const {
  Eigen::MatrixXd s = fixed_source_values().replicate(1, v.rows());
  for (size_t k = 0; k < source_row.size(); ++k)
    if (source_row[k] >= 0) s.row(Eigen::Index(k)) = v.col(source_row[k]).transpose();
  return s;
}

Eigen::VectorXd CrossbarCircuit::fixed_source_values() const {
  const std::vector<size_t> src = circuit.source_indices();
  Eigen::VectorXd s = Eigen::VectorXd::Zero(Eigen::Index(source_row.size()));
  for (size_t k = 0; k < source_row.size(); ++k)
    if (source_row[k] < 0) s(Eigen::Index(k)) = circuit.elements()[src[k]].value;
  return s;
}

CrossbarCircuit build_crossbar(const CrossbarSpec& spec, const RowMatrixXd& g_s,
                               std::shared_ptr<const devices::CellModel> cell) {
  spec.validate();
  check_cell_values(spec, g_s, cell->cell_value());
  CrossbarCircuit x;
  x.spec = spec;
  Circuit& c = x.circuit;
  const auto m = int32_t(spec.rows), n = int32_t(spec.cols);
  // Copies: the cell model is moved into the circuit below (or replaced by the memory element).
  const devices::AccessTransistor* acc_ptr = cell->access_transistor();
  const devices::AccessTransistor access = acc_ptr ? *acc_ptr : devices::AccessTransistor{};
  const devices::GateLines* gates_ptr = cell->gate_lines();
  const devices::GateLines gates = gates_ptr ? *gates_ptr : devices::GateLines{};
  if (gates_ptr) gates.validate(m, n);
  c.set_grid(m, n, acc_ptr != nullptr);
  // With an access transistor the cell element is the memory element alone: linear G.
  const uint16_t model =
      c.add_cell_model(acc_ptr ? std::make_shared<devices::LinearCell>() : std::move(cell));
  c.reserve_elements(size_t(acc_ptr ? 4 : 3) * size_t(m) * size_t(n) + 5 * size_t(m + n));

  // A three-terminal cell (Flash) gets the gate node of its line; the lines' sources come
  // last, as the 1T1R gate lines do.
  std::vector<int32_t> cell_gate_nodes;
  if (gates_ptr)
    for (int64_t k = 0; k < gates.count(m, n); ++k)
      cell_gate_nodes.push_back(c.add_node(gate_node_name(gates.layout, int32_t(k))));
  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j < n; ++j) {
      const size_t k = c.add_element(ElementKind::kCell, Role::kCell, i, j, c.row_node(i, j),
                                     acc_ptr ? c.cell_node(i, j) : c.col_node(i, j), g_s(i, j), model);
      if (gates_ptr) c.mutable_elements()[k].gate = cell_gate_nodes[size_t(gates.line_of(i, j))];
    }
  const double r_row = spec.row_segment_ohm(), r_col = spec.col_segment_ohm();
  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j + 1 < n; ++j)
      c.add_element(ElementKind::kResistor, Role::kRowWire, i, j, c.row_node(i, j),
                    c.row_node(i, j + 1), r_row);
  for (int32_t i = 0; i + 1 < m; ++i)
    for (int32_t j = 0; j < n; ++j)
      c.add_element(ElementKind::kResistor, Role::kColWire, i, j, c.col_node(i, j),
                    c.col_node(i + 1, j), r_col);
  // Access transistors, on gate lines whose sources come last (after the sense ends).
  std::vector<int32_t> gate_nodes;
  if (acc_ptr) {
    for (int32_t k = 0; k < (access.gate_per_row ? m : n); ++k)
      gate_nodes.push_back(c.add_node((access.gate_per_row ? "gr" : "gc") + std::to_string(k)));
    const uint16_t tmodel = c.add_transistor_model(access.model);
    for (int32_t i = 0; i < m; ++i)
      for (int32_t j = 0; j < n; ++j)
        c.add_transistor(Role::kAccess, i, j, c.cell_node(i, j),
                         gate_nodes[size_t(access.gate_per_row ? i : j)], c.col_node(i, j),
                         access.w_over_l, tmodel);
  }

  for (int32_t i = 0; i < m; ++i) {
    if (spec.drive != DriveSide::kRight) add_row_driver(x, i, true);
    if (spec.drive != DriveSide::kLeft) add_row_driver(x, i, false);
  }
  x.sense_sources.assign(size_t(n), {-1, -1});
  for (int32_t j = 0; j < n; ++j) {
    int slot = 0;
    if (spec.sense != SenseSide::kTop) add_column_sense(x, j, true, slot++);
    if (spec.sense != SenseSide::kBottom) add_column_sense(x, j, false, slot++);
  }
  for (size_t k = 0; k < gate_nodes.size(); ++k)
    add_gate_source(x, int32_t(k), gate_nodes[k],
                    access.gate_per_row ? devices::GateLayout::kPerRow : devices::GateLayout::kPerColumn,
                    access.v_gate_v);
  for (size_t k = 0; k < cell_gate_nodes.size(); ++k)
    add_gate_source(x, int32_t(k), cell_gate_nodes[k], gates.layout, gates.voltage(int64_t(k)));
  return x;
}

void set_row_voltages(CrossbarCircuit& x, const Eigen::VectorXd& v) {
  if (v.size() != x.spec.rows)
    throw InputError("input vector has " + std::to_string(v.size()) + " entries, expected rows = " +
                     std::to_string(x.spec.rows));
  const std::vector<size_t> src = x.circuit.source_indices();
  auto& el = x.circuit.mutable_elements();
  for (size_t k = 0; k < src.size(); ++k)
    if (x.source_row[k] >= 0) el[src[k]].value = v(x.source_row[k]);
}

}  // namespace xbar::netlists
