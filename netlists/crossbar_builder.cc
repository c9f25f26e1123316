#include "netlists/crossbar_builder.h"

#include <cmath>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/linear_cell.h"

namespace xbar::netlists {

namespace {

void check_conductances(const CrossbarSpec& spec, const RowMatrixXd& g_s) {
  if (g_s.rows() != spec.rows || g_s.cols() != spec.cols)
    throw InputError("conductance matrix is " + std::to_string(g_s.rows()) + " x " +
                     std::to_string(g_s.cols()) + ", expected rows x cols = " +
                     std::to_string(spec.rows) + " x " + std::to_string(spec.cols));
  for (int64_t i = 0; i < g_s.rows(); ++i)
    for (int64_t j = 0; j < g_s.cols(); ++j) {
      const double g = g_s(i, j);
      if (!std::isfinite(g) || g < 0)
        throw InputError("conductance G[" + std::to_string(i) + ", " + std::to_string(j) +
                         "] = " + format_number(g) + ": must be finite and >= 0 siemens");
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

// The source of gate line i (of row i when per_row, else of column i): node held at v_gate.
void add_gate_source(CrossbarCircuit& x, int32_t i, int32_t node, bool per_row, double v_gate_v) {
  x.circuit.add_element(ElementKind::kVoltageSource, per_row ? Role::kGateRow : Role::kGateCol,
                        per_row ? i : 0, per_row ? 0 : i, node, kGround, v_gate_v);
  x.source_row.push_back(-1);
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
  check_conductances(spec, g_s);
  CrossbarCircuit x;
  x.spec = spec;
  Circuit& c = x.circuit;
  const auto m = int32_t(spec.rows), n = int32_t(spec.cols);
  // A copy: the cell model is moved into the circuit below (or replaced by the memory element).
  const devices::AccessTransistor* acc_ptr = cell->access_transistor();
  const devices::AccessTransistor access = acc_ptr ? *acc_ptr : devices::AccessTransistor{};
  c.set_grid(m, n, acc_ptr != nullptr);
  // With an access transistor the cell element is the memory element alone: linear G.
  const uint16_t model =
      c.add_cell_model(acc_ptr ? std::make_shared<devices::LinearCell>() : std::move(cell));
  c.reserve_elements(size_t(acc_ptr ? 4 : 3) * size_t(m) * size_t(n) + 5 * size_t(m + n));

  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j < n; ++j)
      c.add_element(ElementKind::kCell, Role::kCell, i, j, c.row_node(i, j),
                    acc_ptr ? c.cell_node(i, j) : c.col_node(i, j), g_s(i, j), model);
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
    add_gate_source(x, int32_t(k), gate_nodes[k], access.gate_per_row, access.v_gate_v);
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
