#include "netlists/crossbar_builder.h"

#include <cmath>
#include <string>

#include "devices/format.h"
#include "devices/input_error.h"

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

}  // namespace

Eigen::MatrixXd CrossbarCircuit::source_values(const RowMatrixXd& v) const {
  Eigen::MatrixXd s = Eigen::MatrixXd::Zero(Eigen::Index(source_row.size()), v.rows());
  for (size_t k = 0; k < source_row.size(); ++k)
    if (source_row[k] >= 0) s.row(Eigen::Index(k)) = v.col(source_row[k]).transpose();
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
  c.set_grid(m, n);
  const uint16_t model = c.add_cell_model(std::move(cell));
  c.reserve_elements(size_t(3) * size_t(m) * size_t(n) + 4 * size_t(m + n));

  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j < n; ++j)
      c.add_element(ElementKind::kCell, Role::kCell, i, j, c.row_node(i, j), c.col_node(i, j),
                    g_s(i, j), model);
  const double r_row = spec.row_segment_ohm(), r_col = spec.col_segment_ohm();
  for (int32_t i = 0; i < m; ++i)
    for (int32_t j = 0; j + 1 < n; ++j)
      c.add_element(ElementKind::kResistor, Role::kRowWire, i, j, c.row_node(i, j),
                    c.row_node(i, j + 1), r_row);
  for (int32_t i = 0; i + 1 < m; ++i)
    for (int32_t j = 0; j < n; ++j)
      c.add_element(ElementKind::kResistor, Role::kColWire, i, j, c.col_node(i, j),
                    c.col_node(i + 1, j), r_col);

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
