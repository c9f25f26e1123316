#include "solvers/line_system.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "devices/contract.h"
#include "devices/input_error.h"

namespace xbar::solvers {

namespace {

// Column lines are swept together in blocks of this many columns per thread: long enough for
// SIMD and prefetch, short enough that every column count splits over the cores.
constexpr int64_t kColumnBlock = 64;
// Layers smaller than this run their sweeps on one thread: a parallel region costs a barrier,
// and on a loaded host (threads descheduled while others spin) a barrier can cost
// milliseconds, more than a small layer's whole sweep.
constexpr int64_t kParallelMinSlots = int64_t(1) << 17;

enum class Link { kRowSegment, kColumnSegment, kCell, kOther };

// How unknowns p and q (p != q) are joined; for a segment, `first` tells whether p is its
// left (row) or upper (column) end.
Link classify(const GridCoord& p, const GridCoord& q, bool& first) {
  if (p.layer == 0 && q.layer == 0 && p.i == q.i && std::abs(p.j - q.j) == 1) {
    first = p.j < q.j;
    return Link::kRowSegment;
  }
  if (p.layer == 1 && q.layer == 1 && p.j == q.j && std::abs(p.i - q.i) == 1) {
    first = p.i < q.i;
    return Link::kColumnSegment;
  }
  if (p.layer != q.layer && p.i == q.i && p.j == q.j) {
    first = p.layer == 0;
    return Link::kCell;
  }
  return Link::kOther;
}

std::string where(const GridCoord& c) {
  return std::string(c.layer == 0 ? "r(" : "c(") + std::to_string(c.i) + "," + std::to_string(c.j) + ")";
}

}  // namespace

bool LineSystem::applicable(const SparseMatrix& a, const std::vector<GridCoord>& coords,
                            std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (a.rows() == 0) return fail("the system has no unknowns");
  if (coords.size() != size_t(a.rows()))
    return fail("some unknown is not a plain crossbar grid node (named nodes, zero-ohm wires "
                "or floating sources)");
  for (const GridCoord& c : coords)
    if (c.layer > 1) return fail("the array has internal cell nodes (1T1R) besides its row and column lines");
  for (int64_t k = 0; k < a.outerSize(); ++k)
    for (SparseMatrix::InnerIterator it(a, k); it; ++it) {
      if (it.row() == k) continue;
      bool first = false;
      if (classify(coords[size_t(k)], coords[size_t(it.row())], first) == Link::kOther)
        return fail("nodes " + where(coords[size_t(k)]) + " and " + where(coords[size_t(it.row())]) +
                    " are coupled although they are neither neighbours on one line nor the two "
                    "ends of a cell");
    }
  return true;
}

LineSystem::LineSystem(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  std::string why;
  if (!applicable(a, coords, &why)) throw InputError("line preconditioner: " + why);
  for (const GridCoord& c : coords) {
    m_ = std::max<int64_t>(m_, c.i + 1);
    n_ = std::max<int64_t>(n_, c.j + 1);
  }
  slot_.resize(coords.size());
  unknown_of_slot_.assign(size_t(2 * m_ * n_), -1);
  for (size_t k = 0; k < coords.size(); ++k) {
    const GridCoord& c = coords[k];
    slot_[k] = c.layer * m_ * n_ + int64_t(c.i) * n_ + c.j;
    unknown_of_slot_[size_t(slot_[k])] = int64_t(k);
  }
}

void LineSystem::factorize_layer(const Eigen::VectorXd& diag, const Eigen::VectorXd& off,
                                 bool rows, Factor& f, int64_t& bad_slot) const {
  const int64_t mn = m_ * n_;
  f.inv_pivot.resize(mn);
  f.upper.resize(mn);
  // A row line runs along j (stride 1, N long), a column line along i (stride N, M long).
  const int64_t lines = rows ? m_ : n_, len = rows ? n_ : m_, stride = rows ? 1 : n_;
  int64_t bad = mn;
#pragma omp parallel for schedule(static) reduction(min : bad)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t base = rows ? line * n_ : line;
    double prev_upper = 0;  // c'_{k-1} = off_{k-1} / pivot_{k-1}
    for (int64_t k = 0; k < len; ++k) {
      const int64_t s = base + k * stride;
      const double pivot = diag(s) - (k > 0 ? off(s - stride) * prev_upper : 0.0);
      if (!(pivot > 0) && s < bad) bad = s;
      f.inv_pivot(s) = 1.0 / pivot;
      prev_upper = f.upper(s) = off(s) * f.inv_pivot(s);
    }
  }
  if (bad < mn && bad_slot < 0) bad_slot = bad;
}

int64_t LineSystem::set_values(const SparseMatrix& a) {
  XBAR_EXPECTS(a.rows() == int64_t(slot_.size()), "LineSystem::set_values: matrix size changed");
  const int64_t mn = m_ * n_;
  Eigen::VectorXd d_r = Eigen::VectorXd::Ones(mn);  // fixed slots: a decoupled unit diagonal
  d_c_ = Eigen::VectorXd::Ones(mn);
  e_r_ = Eigen::VectorXd::Zero(mn);
  e_c_ = Eigen::VectorXd::Zero(mn);
  w_ = Eigen::VectorXd::Zero(mn);
  // Each value is written from exactly one column: the diagonal from its own, a segment from
  // its left / upper end, a cell from its row node. So the columns fill in parallel.
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < a.outerSize(); ++k) {
    const int64_t sk = slot_[size_t(k)];
    const bool row_layer = sk < mn;
    const int64_t cell = row_layer ? sk : sk - mn;
    for (SparseMatrix::InnerIterator it(a, k); it; ++it) {
      const int64_t sq = slot_[size_t(it.row())];
      if (it.row() == k) {
        (row_layer ? d_r : d_c_)(cell) = it.value();
      } else if (row_layer && sq < mn) {
        if (sq == sk + 1) e_r_(cell) = it.value();
      } else if (!row_layer && sq >= mn) {
        if (sq == sk + n_) e_c_(cell) = it.value();
      } else if (row_layer) {
        w_(cell) = it.value();
      }
    }
  }
  int64_t bad_slot = -1;
  factorize_layer(d_r, e_r_, true, f_r_, bad_slot);
  if (bad_slot < 0) {
    factorize_layer(d_c_, e_c_, false, f_c_, bad_slot);
    if (bad_slot >= 0) bad_slot += mn;
  }
  return bad_slot < 0 ? -1 : unknown_of_slot_[size_t(bad_slot)];
}

void LineSystem::solve_rows(const double* v, double* x, const double* scale) const {
  const double* e = e_r_.data();
  const double* inv = f_r_.inv_pivot.data();
  const double* up = f_r_.upper.data();
  const int64_t n = n_;
#pragma omp parallel for schedule(static) if (m_ * n_ >= kParallelMinSlots)
  for (int64_t i = 0; i < m_; ++i) {
    const int64_t b = i * n;
    const double* vi = v + b;
    const double* si = scale ? scale + b : nullptr;
    double* xi = x + b;
    xi[0] = (si ? si[0] * vi[0] : vi[0]) * inv[b];
    for (int64_t j = 1; j < n; ++j)
      xi[j] = ((si ? si[j] * vi[j] : vi[j]) - e[b + j - 1] * xi[j - 1]) * inv[b + j];
    for (int64_t j = n - 2; j >= 0; --j) xi[j] -= up[b + j] * xi[j + 1];
  }
}

void LineSystem::solve_cols(const double* v, double* x) const {
  const double* e = e_c_.data();
  const double* inv = f_c_.inv_pivot.data();
  const double* up = f_c_.upper.data();
  const int64_t n = n_, m = m_;
  const int64_t blocks = (n + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (m * n >= kParallelMinSlots)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kColumnBlock, j1 = std::min(n, j0 + kColumnBlock);
    for (int64_t j = j0; j < j1; ++j) x[j] = v[j] * inv[j];
    for (int64_t i = 1; i < m; ++i) {
      const int64_t r = i * n, p = r - n;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) x[r + j] = (v[r + j] - e[p + j] * x[p + j]) * inv[r + j];
    }
    for (int64_t i = m - 2; i >= 0; --i) {
      const int64_t r = i * n, q = r + n;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) x[r + j] -= up[r + j] * x[q + j];
    }
  }
}

void LineSystem::mul_cols(const double* x, double* y, const double* w, const double* t) const {
  const double* d = d_c_.data();
  const double* e = e_c_.data();
  const int64_t n = n_, m = m_;
#pragma omp parallel for schedule(static) if (m * n >= kParallelMinSlots)
  for (int64_t i = 0; i < m; ++i) {
    const int64_t r = i * n;
    if (w && t)
      for (int64_t j = 0; j < n; ++j) y[r + j] = d[r + j] * x[r + j] - w[r + j] * t[r + j];
    else
      for (int64_t j = 0; j < n; ++j) y[r + j] = d[r + j] * x[r + j];
    if (i > 0)  // the segment to the node above
      for (int64_t j = 0; j < n; ++j) y[r + j] += e[r - n + j] * x[r - n + j];
    if (i + 1 < m)  // and to the node below
      for (int64_t j = 0; j < n; ++j) y[r + j] += e[r + j] * x[r + n + j];
  }
}

}  // namespace xbar::solvers
