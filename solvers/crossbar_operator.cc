#include "solvers/crossbar_operator.h"

#include <algorithm>
#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "solvers/huge_pages.h"

namespace xbar::solvers {

namespace {
// Arrays smaller than this are written on one thread.
constexpr int64_t kParallelMinSlots = int64_t(1) << 17;
}  // namespace

using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::SenseSide;

bool CrossbarOperator::applicable(const CrossbarSpec& spec, const devices::CellModel& cell,
                                  std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (!cell.is_linear() || cell.access_transistor())
    return fail("the cells are nonlinear or have an access transistor (Newton on the assembled circuit)");
  if (spec.rows < 2 || spec.cols < 2) return fail("a single row or column");
  if (!(spec.row_segment_ohm() > 0) || !(spec.col_segment_ohm() > 0))
    return fail("zero-ohm wires merge each line into one node");
  if (spec.drive == DriveSide::kBoth && spec.r_driver_ohm == 0 && spec.cols < 2)
    return fail("both row ends are one node held by two sources");
  return true;
}

bool CrossbarOperator::matches_circuit(const netlists::CrossbarCircuit& x, netlists::RowMatrixXd* g_s,
                                       std::string* why) {
  using netlists::ElementKind;
  using netlists::Role;
  auto fail = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  const netlists::Circuit& c = x.circuit;
  const CrossbarSpec& spec = x.spec;
  if (c.cell_models().size() != 1 || !applicable(spec, *c.cell_models()[0], why)) {
    if (c.cell_models().size() != 1) return fail("more than one cell model");
    return false;
  }
  const int64_t m = spec.rows, n = spec.cols;
  if (c.grid_rows() != m || c.grid_cols() != n || c.has_cell_nodes() || !c.transistor_models().empty())
    return fail("the circuit's grid differs from its spec");
  const auto& el = c.elements();
  const int64_t ends_r = spec.drive == DriveSide::kBoth ? 2 : 1;
  const int64_t ends_c = spec.sense == SenseSide::kBoth ? 2 : 1;
  const int64_t expect = m * n + m * (n - 1) + (m - 1) * n + m * ends_r * (spec.r_driver_ohm > 0 ? 2 : 1) +
                         n * ends_c * (spec.r_sense_ohm > 0 ? 2 : 1);
  if (int64_t(el.size()) != expect) return fail("the circuit has elements beyond the canonical array");
  if (c.num_nodes() != 2 * m * n + m * ends_r * (spec.r_driver_ohm > 0 ? 1 : 0) +
                           n * ends_c * (spec.r_sense_ohm > 0 ? 1 : 0))
    return fail("the circuit has nodes beyond the canonical array");
  g_s->resize(m, n);
  size_t k = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j, ++k) {
      const auto& e = el[k];
      if (e.kind != ElementKind::kCell || e.role != Role::kCell || e.i != i || e.j != j || e.model != 0 ||
          e.pos != c.row_node(int32_t(i), int32_t(j)) || e.neg != c.col_node(int32_t(i), int32_t(j)))
        return fail("cell elements out of the canonical order");
      (*g_s)(i, j) = e.value;
    }
  const double r_row = spec.row_segment_ohm(), r_col = spec.col_segment_ohm();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j + 1 < n; ++j, ++k) {
      const auto& e = el[k];
      if (e.kind != ElementKind::kResistor || e.role != Role::kRowWire || e.value != r_row ||
          e.pos != c.row_node(int32_t(i), int32_t(j)) || e.neg != c.row_node(int32_t(i), int32_t(j + 1)))
        return fail("row wire segments differ from the spec");
    }
  for (int64_t i = 0; i + 1 < m; ++i)
    for (int64_t j = 0; j < n; ++j, ++k) {
      const auto& e = el[k];
      if (e.kind != ElementKind::kResistor || e.role != Role::kColWire || e.value != r_col ||
          e.pos != c.col_node(int32_t(i), int32_t(j)) || e.neg != c.col_node(int32_t(i + 1), int32_t(j)))
        return fail("column wire segments differ from the spec");
    }
  // Drivers and sense ends: roles, values and the nodes they touch.
  size_t src = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int side = 0; side < 2; ++side) {
      const bool left = side == 0;
      if ((left && spec.drive == DriveSide::kRight) || (!left && spec.drive == DriveSide::kLeft)) continue;
      const int32_t end = c.row_node(int32_t(i), left ? 0 : int32_t(n - 1));
      int32_t node = end;
      if (spec.r_driver_ohm > 0) {
        const auto& r = el[k++];
        if (r.kind != ElementKind::kResistor || r.value != spec.r_driver_ohm || r.neg != end)
          return fail("row drivers differ from the spec");
        node = r.pos;
      }
      const auto& v = el[k++];
      if (v.kind != ElementKind::kVoltageSource || v.pos != node || v.neg != netlists::kGround ||
          x.source_row[src++] != i)
        return fail("row sources differ from the spec");
    }
  for (int64_t j = 0; j < n; ++j)
    for (int side = 0; side < 2; ++side) {
      const bool bottom = side == 0;
      if ((bottom && spec.sense == SenseSide::kTop) || (!bottom && spec.sense == SenseSide::kBottom)) continue;
      const int32_t end = c.col_node(bottom ? int32_t(m - 1) : 0, int32_t(j));
      int32_t node = end;
      if (spec.r_sense_ohm > 0) {
        const auto& r = el[k++];
        if (r.kind != ElementKind::kResistor || r.value != spec.r_sense_ohm || r.pos != end)
          return fail("sense resistors differ from the spec");
        node = r.neg;
      }
      const auto& v = el[k++];
      if (v.kind != ElementKind::kVoltageSource || v.pos != node || v.neg != netlists::kGround ||
          v.value != 0 || x.source_row[src++] != -1)
        return fail("virtual grounds differ from the spec");
    }
  return k == el.size() && src == x.source_row.size();
}

int64_t CrossbarOperator::count_unknowns(const CrossbarSpec& spec) {
  const int64_t ends_r = spec.drive == DriveSide::kBoth ? std::min<int64_t>(2, spec.cols) : 1;
  const int64_t ends_c = spec.sense == SenseSide::kBoth ? std::min<int64_t>(2, spec.rows) : 1;
  return 2 * spec.rows * spec.cols - (spec.r_driver_ohm == 0 ? spec.rows * ends_r : 0) -
         (spec.r_sense_ohm == 0 ? spec.cols * ends_c : 0);
}

CrossbarOperator::CrossbarOperator(const CrossbarSpec& spec, const netlists::RowMatrixXd& g_s,
                                   ThreadPool* pool)
    : m_(spec.rows), n_(spec.cols) {
  spec.validate();
  if (g_s.rows() != spec.rows || g_s.cols() != spec.cols)
    throw InputError("conductance matrix is " + std::to_string(g_s.rows()) + " x " +
                     std::to_string(g_s.cols()) + ", expected rows x cols = " +
                     std::to_string(spec.rows) + " x " + std::to_string(spec.cols));
  const int64_t m = m_, n = n_, mn = m * n;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double g = g_s(i, j);
      if (!std::isfinite(g) || g < 0)
        throw InputError("conductance G[" + std::to_string(i) + ", " + std::to_string(j) +
                         "] = " + format_number(g) + ": must be finite and >= 0 siemens");
      if (g > 1.0 / netlists::kMinResistanceOhm)
        throw InputError("element 'rcell_" + std::to_string(i) + "_" + std::to_string(j) + "': conductance " +
                         format_number(g) + " S (resistance below " +
                         format_number(netlists::kMinResistanceOhm) +
                         " ohm) is not a physical wire; use 0 ohm for an ideal short");
    }
  const double gr = 1.0 / spec.row_segment_ohm(), gc = 1.0 / spec.col_segment_ohm();
  const bool ideal_drv = spec.r_driver_ohm == 0, ideal_sns = spec.r_sense_ohm == 0;
  const bool drv_l = spec.drive != DriveSide::kRight, drv_r = spec.drive != DriveSide::kLeft;
  const bool sns_b = spec.sense != SenseSide::kTop, sns_t = spec.sense != SenseSide::kBottom;
  LineSystem::Stencil& s = stencil_;
  s.rows = m;
  s.cols = n;
  s.fixed.assign(size_t(2 * mn), 0);
  if (ideal_drv)
    for (int64_t i = 0; i < m; ++i) {
      if (drv_l) s.fixed[size_t(i * n)] = 1;
      if (drv_r) s.fixed[size_t(i * n + n - 1)] = 1;
    }
  if (ideal_sns)
    for (int64_t j = 0; j < n; ++j) {
      if (sns_b) s.fixed[size_t(mn + (m - 1) * n + j)] = 1;
      if (sns_t) s.fixed[size_t(mn + j)] = 1;
    }
  const uint8_t* fr = s.fixed.data();
  const uint8_t* fc = s.fixed.data() + mn;
  for (Eigen::VectorXd* v : {&s.d_r, &s.e_r, &s.d_c, &s.e_c, &s.w}) internal::resize_huge(*v, mn);
  std::vector<int64_t> couplings_of_row(size_t(m), 0);
  for_range_on(pool, m, mn >= kParallelMinSlots ? 0 : m + 1, [&](int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t q = i * n + j;
      const double g = g_s(i, j);
      // Row node r(i,j).
      if (fr[q]) {
        s.d_r(q) = 1;
        s.e_r(q) = 0;
      } else {
        double d = g + gr * double((j > 0) + (j + 1 < n));
        if (!ideal_drv) d += (drv_l && j == 0 ? 1 / spec.r_driver_ohm : 0) + (drv_r && j == n - 1 ? 1 / spec.r_driver_ohm : 0);
        s.d_r(q) = d;
        s.e_r(q) = j + 1 < n && !fr[q + 1] ? -gr : 0.0;
      }
      // Column node c(i,j).
      if (fc[q]) {
        s.d_c(q) = 1;
        s.e_c(q) = 0;
      } else {
        double d = g + gc * double((i > 0) + (i + 1 < m));
        if (!ideal_sns) d += (sns_b && i == m - 1 ? 1 / spec.r_sense_ohm : 0) + (sns_t && i == 0 ? 1 / spec.r_sense_ohm : 0);
        s.d_c(q) = d;
        s.e_c(q) = i + 1 < m && !fc[q + n] ? -gc : 0.0;
      }
      s.w(q) = !fr[q] && !fc[q] && g != 0 ? -g : 0.0;
      couplings_of_row[size_t(i)] += (s.e_r(q) != 0) + (s.e_c(q) != 0) + (s.w(q) != 0);
    }
  });
  int64_t couplings = 0;
  for (int64_t c : couplings_of_row) couplings += c;
  unknowns_ = 2 * mn - int64_t(std::count(s.fixed.begin(), s.fixed.end(), uint8_t(1)));
  XBAR_EXPECTS(unknowns_ == count_unknowns(spec), "CrossbarOperator: unknown count");
  nonzeros_ = unknowns_ + 2 * couplings;

  // B: per row voltage, the right-hand side entries at the driven ends.
  for (int64_t i = 0; i < m; ++i) {
    for (int side = 0; side < 2; ++side) {
      if (!(side == 0 ? drv_l : drv_r)) continue;
      const int64_t j = side == 0 ? 0 : n - 1, q = i * n + j;
      if (!ideal_drv) {
        b_.add(q, 1 / spec.r_driver_ohm);
        continue;
      }
      const int64_t nb = side == 0 ? q + 1 : q - 1;  // the row neighbour of the fixed end
      if (!fr[nb]) b_.add(nb, gr);
      if (!fc[q] && g_s(i, j) != 0) b_.add(mn + q, g_s(i, j));  // the cell to the column node
    }
    b_.close();
  }
  // C and D: per column, the current into each sensed end's virtual ground.
  for (int64_t j = 0; j < n; ++j) {
    for (int side = 0; side < 2; ++side) {
      if (!(side == 0 ? sns_b : sns_t)) continue;
      const int64_t i = side == 0 ? m - 1 : 0, q = i * n + j;
      if (!ideal_sns) {
        c_.add(mn + q, 1 / spec.r_sense_ohm);
        continue;
      }
      // Fixed at 0 V: the currents of the segment and of the cell arriving at it.
      const int64_t nb = side == 0 ? q - n : q + n;
      if (!fc[nb]) c_.add(mn + nb, gc);
      const double g = g_s(i, j);
      if (g != 0) {
        if (!fr[q]) c_.add(q, g);
        else d_.add(i, g);  // the cell joins the fixed driven node V_i to the virtual ground
      }
    }
    c_.close();
    d_.close();
  }
}

LineSystem::Stencil CrossbarOperator::take_stencil() {
  XBAR_EXPECTS(stencil_.d_r.size() > 0, "CrossbarOperator::take_stencil: already taken");
  return std::move(stencil_);
}

void CrossbarOperator::rhs(const double* v, double* b) const {
  std::fill(b, b + 2 * m_ * n_, 0.0);
  for (int64_t i = 0; i < m_; ++i)
    for (int64_t e = b_.ptr[size_t(i)]; e < b_.ptr[size_t(i) + 1]; ++e) b[b_.index[size_t(e)]] += b_.coef[size_t(e)] * v[i];
}

void CrossbarOperator::currents(const double* x, const double* v, double* out, int64_t stride) const {
  for (int64_t j = 0; j < n_; ++j) {
    double s = 0;
    for (int64_t e = c_.ptr[size_t(j)]; e < c_.ptr[size_t(j) + 1]; ++e) s += c_.coef[size_t(e)] * x[c_.index[size_t(e)]];
    for (int64_t e = d_.ptr[size_t(j)]; e < d_.ptr[size_t(j) + 1]; ++e) s += d_.coef[size_t(e)] * v[d_.index[size_t(e)]];
    out[j * stride] = s;
  }
}

}  // namespace xbar::solvers
