#include "solvers/line_system.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "support/contract.h"
#include "support/input_error.h"
#include "solvers/huge_pages.h"

namespace xbar::solvers {

namespace {

// Row lines are factorized this many at a time, interleaved, so that the divisions of
// independent recurrences overlap (4 rows of a power-of-two width map to the same L1 sets, so
// the solves, which stream more arrays, go one row at a time).
constexpr int64_t kRowGroup = 4;
// Most threads a pool gives one call (slots for per-thread results).
constexpr int kMaxThreads = 64;
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
  size_ = int64_t(coords.size());
  slot_.resize(coords.size());
  s_.rows = m_;
  s_.cols = n_;
  s_.fixed.assign(size_t(2 * m_ * n_), 1);
  for (size_t k = 0; k < coords.size(); ++k) {
    const GridCoord& c = coords[k];
    slot_[k] = c.layer * m_ * n_ + int64_t(c.i) * n_ + c.j;
    s_.fixed[size_t(slot_[k])] = 0;
  }
}

LineSystem::LineSystem(int64_t rows, int64_t cols) : m_(rows), n_(cols) {
  XBAR_EXPECTS(rows >= 1 && cols >= 1, "LineSystem: empty grid");
  s_.rows = m_;
  s_.cols = n_;
}

std::vector<int64_t> LineSystem::slots() const {
  if (!slot_.empty() || size_ == 0) return slot_;
  std::vector<int64_t> out;
  out.reserve(size_t(size_));
  for (int64_t s = 0; s < 2 * m_ * n_; ++s)
    if (!s_.fixed[size_t(s)]) out.push_back(s);
  return out;
}

int64_t LineSystem::unknown_of(int64_t slot) const {
  if (!slot_.empty()) {
    for (size_t k = 0; k < slot_.size(); ++k)
      if (slot_[k] == slot) return int64_t(k);
    return -1;
  }
  if (s_.fixed[size_t(slot)]) return -1;
  return int64_t(std::count(s_.fixed.begin(), s_.fixed.begin() + slot, uint8_t(0)));
}

GridCoord LineSystem::coord(int64_t k) const {
  const int64_t s = slot_.empty() ? slots()[size_t(k)] : slot_[size_t(k)];
  const int64_t mn = m_ * n_;
  return {int32_t((s % mn) / n_), int32_t(s % n_), int32_t(s / mn)};
}

std::vector<GridCoord> LineSystem::coords() const {
  const std::vector<int64_t> sl = slots();
  const int64_t mn = m_ * n_;
  std::vector<GridCoord> c(sl.size());
  for (size_t k = 0; k < sl.size(); ++k)
    c[k] = {int32_t((sl[k] % mn) / n_), int32_t(sl[k] % n_), int32_t(sl[k] / mn)};
  return c;
}

SparseMatrix LineSystem::matrix() const {
  // Written column by column in compressed form (the matrix is symmetric, so column k lists
  // row k's couplings): at most 5 entries per column, in increasing unknown. setFromTriplets on the
  // same entries cost ~1 ms at 64^2, a tenth of a whole small `xbar solve`.
  const std::vector<int64_t> sl = slots();
  const int64_t mn = m_ * n_, nu = int64_t(sl.size());
  std::vector<int64_t> unknown(size_t(2 * mn), -1);
  for (size_t k = 0; k < sl.size(); ++k) unknown[size_t(sl[k])] = int64_t(k);
  SparseMatrix a(nu, nu);
  a.resizeNonZeros(5 * nu);
  int64_t* outer = a.outerIndexPtr();
  int64_t* inner = a.innerIndexPtr();
  double* value = a.valuePtr();
  int64_t nnz = 0;
  auto put = [&](int64_t q, double v) {
    inner[nnz] = q;
    value[nnz++] = v;
  };
  for (int64_t k = 0; k < nu; ++k) {
    outer[k] = nnz;
    const int64_t s = sl[size_t(k)];
    const bool row_layer = s < mn;
    const int64_t c = row_layer ? s : s - mn;
    auto add = [&](int64_t other_slot, double v) {
      const int64_t q = unknown[size_t(other_slot)];
      if (v != 0 && q >= 0) put(q, v);
    };
    // Unknowns are numbered in slot order, so adding the neighbours by increasing slot keeps
    // each column sorted: row layer r(i,j-1) < r(i,j) < r(i,j+1) < c(i,j); column layer
    // r(i,j) < c(i-1,j) < c(i,j) < c(i+1,j).
    if (row_layer) {
      if (c % n_ > 0) add(s - 1, s_.e_r(c - 1));
      put(k, s_.d_r(c));
      if (c % n_ + 1 < n_) add(s + 1, s_.e_r(c));
      add(s + mn, s_.w(c));
    } else {
      add(s - mn, s_.w(c));
      if (c / n_ > 0) add(s - n_, s_.e_c(c - n_));
      put(k, s_.d_c(c));
      if (c / n_ + 1 < m_) add(s + n_, s_.e_c(c));
    }
  }
  outer[nu] = nnz;
  a.resizeNonZeros(nnz);
  return a;
}

void LineSystem::factorize_layer(const Eigen::VectorXd& diag, const Eigen::VectorXd& off,
                                 bool rows, Factor& f, int64_t& bad_slot) const {
  const int64_t mn = m_ * n_, n = n_, m = m_;
  internal::resize_huge(f.inv_pivot, mn);
  internal::resize_huge(f.upper, rows ? 0 : mn);  // the row solve recomputes it from e and inv
  const double* d = diag.data();
  const double* e = off.data();
  double* inv = f.inv_pivot.data();
  double* up = f.upper.data();
  int64_t bad = mn;
  if (rows) {
    // A row line runs along j (stride 1): kRowGroup rows side by side, so that the divisions of
    // independent recurrences overlap.
    const int64_t groups = (m + kRowGroup - 1) / kRowGroup;
    std::vector<int64_t> bads(kMaxThreads, mn);
    run_on(pool_, mn >= kParallelMinSlots ? kMaxThreads : 1, [&](int t, int nt) {
      const int64_t g0 = groups * t / nt, g1 = groups * (t + 1) / nt;
      int64_t local = mn;
      for (int64_t grp = g0; grp < g1; ++grp) {
        const int64_t i0 = grp * kRowGroup, gn = std::min(kRowGroup, m - i0);
        double prev[kRowGroup] = {};
        for (int64_t j = 0; j < n; ++j)
          for (int64_t g = 0; g < gn; ++g) {
            const int64_t q = (i0 + g) * n + j;
            const double pivot = d[q] - (j > 0 ? e[q - 1] * prev[g] : 0.0);
            if (!(pivot > 0) && q < local) local = q;
            inv[q] = 1.0 / pivot;
            prev[g] = e[q] * inv[q];
          }
      }
      bads[size_t(t)] = local;
    });
    for (int64_t b : bads) bad = std::min(bad, b);
  } else {
    // A column line runs along i (stride N): all columns of a thread's range advance together,
    // row by row, streaming through memory.
    std::vector<int64_t> bads(kMaxThreads, mn);
    run_on(pool_, mn >= kParallelMinSlots ? kMaxThreads : 1, [&](int t, int nt) {
      const int64_t j0 = n * t / nt, j1 = n * (t + 1) / nt;
      int64_t local = mn;
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = i * n;
        for (int64_t j = j0; j < j1; ++j) {
          const int64_t q = r + j;
          const double pivot = d[q] - (i > 0 ? e[q - n] * up[q - n] : 0.0);
          if (!(pivot > 0) && q < local) local = q;
          inv[q] = 1.0 / pivot;
          up[q] = e[q] * inv[q];
        }
      }
      bads[size_t(t)] = local;
    });
    for (int64_t b : bads) bad = std::min(bad, b);
  }
  if (bad < mn && bad_slot < 0) bad_slot = bad;
}

int64_t LineSystem::set_values(const SparseMatrix& a) {
  XBAR_EXPECTS(!slot_.empty() && a.rows() == int64_t(slot_.size()), "LineSystem::set_values: matrix size changed");
  const int64_t mn = m_ * n_;
  Stencil s;
  s.rows = m_;
  s.cols = n_;
  for (Eigen::VectorXd* v : {&s.d_r, &s.e_r, &s.d_c, &s.e_c, &s.w}) internal::resize_huge(*v, mn);
  s.d_r.setOnes();  // fixed slots: a decoupled unit diagonal
  s.d_c.setOnes();
  s.e_r.setZero();
  s.e_c.setZero();
  s.w.setZero();
  s.fixed = std::move(s_.fixed);
  // Each value is written from exactly one column: the diagonal from its own, a segment from
  // its left / upper end, a cell from its row node. So the columns fill in parallel.
  for_range_on(pool_, a.outerSize(), kParallelMinSlots, [&](int64_t k0, int64_t k1) {
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t sk = slot_[size_t(k)];
    const bool row_layer = sk < mn;
    const int64_t cell = row_layer ? sk : sk - mn;
    for (SparseMatrix::InnerIterator it(a, k); it; ++it) {
      const int64_t sq = slot_[size_t(it.row())];
      if (it.row() == k) {
        (row_layer ? s.d_r : s.d_c)(cell) = it.value();
      } else if (row_layer && sq < mn) {
        if (sq == sk + 1) s.e_r(cell) = it.value();
      } else if (!row_layer && sq >= mn) {
        if (sq == sk + n_) s.e_c(cell) = it.value();
      } else if (row_layer) {
        s.w(cell) = it.value();
      }
    }
  }
  });
  return set_stencil(std::move(s));
}

int64_t LineSystem::set_stencil(Stencil s) {
  const int64_t mn = m_ * n_;
  XBAR_EXPECTS(s.rows == m_ && s.cols == n_ && s.d_r.size() == mn && s.e_r.size() == mn &&
                   s.d_c.size() == mn && s.e_c.size() == mn && s.w.size() == mn &&
                   int64_t(s.fixed.size()) == 2 * mn,
               "LineSystem::set_stencil: stencil does not match the grid");
  if (slot_.empty()) {
    if (!s_.fixed.empty()) XBAR_EXPECTS(s.fixed == s_.fixed, "LineSystem::set_stencil: fixed slots changed");
    size_ = int64_t(std::count(s.fixed.begin(), s.fixed.end(), uint8_t(0)));
  }
  s_ = std::move(s);
  int64_t bad_slot = -1;
  factorize_layer(s_.d_r, s_.e_r, true, f_r_, bad_slot);
  if (bad_slot < 0) {
    factorize_layer(s_.d_c, s_.e_c, false, f_c_, bad_slot);
    if (bad_slot >= 0) bad_slot += mn;
  }
  return bad_slot < 0 ? -1 : unknown_of(bad_slot);
}

// The sweeps below take K right-hand sides interleaved (slot q, lane c at q * K + c): the
// operator's arrays are read once for all K, and the lanes of a recurrence run side by side.

template <int K>
void LineSystem::solve_rows(const double* v, double* x, const double* scale) const {
  const double* e = s_.e_r.data();
  const double* inv = f_r_.inv_pivot.data();
  const int64_t n = n_;
  // Written so that each step's dependent chain is one multiply-add (the products with inv
  // are off the chain), and the backward sweep recomputes upper = e * inv from the row it just
  // read, still in cache, instead of streaming a stored copy from memory.
  for_range_on(pool_, m_, m_ * n_ * K >= kParallelMinSlots ? 0 : m_ + 1, [&](int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t b = i * n;
    const double* vi = v + b * K;
    const double* ei = e + b;
    const double* ii = inv + b;
    double* xi = x + b * K;
    double prev[K];
    const double s0 = scale ? scale[b] : 1.0;
    for (int c = 0; c < K; ++c) xi[c] = prev[c] = s0 * vi[c] * ii[0];
    for (int64_t j = 1; j < n; ++j) {
      const double sj = (scale ? scale[b + j] : 1.0) * ii[j], cj = ei[j - 1] * ii[j];
#pragma omp simd
      for (int c = 0; c < K; ++c) xi[j * K + c] = prev[c] = sj * vi[j * K + c] - cj * prev[c];
    }
    for (int64_t j = n - 2; j >= 0; --j) {
      const double uj = ei[j] * ii[j];
#pragma omp simd
      for (int c = 0; c < K; ++c) xi[j * K + c] = prev[c] = xi[j * K + c] - uj * prev[c];
    }
  }
  });
}

template <int K>
void LineSystem::solve_cols(const double* v, double* x, double* add_to) const {
  const double* e = s_.e_c.data();
  const double* inv = f_c_.inv_pivot.data();
  const double* up = f_c_.upper.data();
  const int64_t n = n_, m = m_;
  // Each thread takes one contiguous range of columns and sweeps it row by row, down and back
  // up: every pass streams through memory (a block of a few columns swept over all rows would
  // touch a new page per row and array, and thrash the TLB on large arrays).
  for_range_on(pool_, n, m * n * K >= kParallelMinSlots ? 0 : n + 1, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j)
#pragma omp simd
      for (int c = 0; c < K; ++c) x[j * K + c] = v[j * K + c] * inv[j];
    for (int64_t i = 1; i < m; ++i) {
      const int64_t r = i * n, p = r - n;
      for (int64_t j = j0; j < j1; ++j) {
        const double ij = inv[r + j], ej = e[p + j] * inv[r + j];
#pragma omp simd
        for (int c = 0; c < K; ++c) x[(r + j) * K + c] = v[(r + j) * K + c] * ij - ej * x[(p + j) * K + c];
      }
    }
    if (add_to) {
      const int64_t r = (m - 1) * n;
#pragma omp simd
      for (int64_t q = (r + j0) * K; q < (r + j1) * K; ++q) add_to[q] += x[q];
    }
    for (int64_t i = m - 2; i >= 0; --i) {
      const int64_t r = i * n, q = r + n;
      for (int64_t j = j0; j < j1; ++j) {
        const double uj = up[r + j];
#pragma omp simd
        for (int c = 0; c < K; ++c) x[(r + j) * K + c] -= uj * x[(q + j) * K + c];
      }
      if (add_to) {
#pragma omp simd
        for (int64_t s = (r + j0) * K; s < (r + j1) * K; ++s) add_to[s] += x[s];
      }
    }
  });
}

template <int K>
void LineSystem::mul_cols(const double* x, const double* t, double* y) const {
  const double* d = s_.d_c.data();
  const double* e = s_.e_c.data();
  const double* w = s_.w.data();
  const int64_t n = n_, m = m_;
  for_range_on(pool_, m, m * n * K >= kParallelMinSlots ? 0 : m + 1, [&](int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t r = i * n;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t q = r + j;
      const double dq = d[q], wq = w[q], eu = i > 0 ? e[q - n] : 0.0, ed = i + 1 < m ? e[q] : 0.0;
      const double* xu = i > 0 ? x + (q - n) * K : x;  // eu = 0 when there is no row above
      const double* xd = i + 1 < m ? x + (q + n) * K : x;
#pragma omp simd
      for (int c = 0; c < K; ++c)
        y[q * K + c] = dq * x[q * K + c] - wq * t[q * K + c] + eu * xu[c] + ed * xd[c];
    }
  }
  });
}

template <int K>
void LineSystem::residual_cols(const double* v, const double* x, const double* t, double* y,
                               double* add_to) const {
  const double* d = s_.d_c.data();
  const double* e = s_.e_c.data();
  const double* w = s_.w.data();
  const int64_t n = n_, m = m_;
  for_range_on(pool_, m, m * n * K >= kParallelMinSlots ? 0 : m + 1, [&](int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t r = i * n;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t q = r + j;
      const double dq = d[q], wq = w[q], eu = i > 0 ? e[q - n] : 0.0, ed = i + 1 < m ? e[q] : 0.0;
      const double* xu = i > 0 ? x + (q - n) * K : x;
      const double* xd = i + 1 < m ? x + (q + n) * K : x;
#pragma omp simd
      for (int c = 0; c < K; ++c)
        y[q * K + c] = v[q * K + c] - (dq * x[q * K + c] - wq * t[q * K + c] + eu * xu[c] + ed * xd[c]);
    }
    if (add_to) {
#pragma omp simd
      for (int64_t s = r * K; s < (r + n) * K; ++s) add_to[s] += x[s];
    }
  }
  });
}

#define XBAR_LINE_KERNELS(K)                                                                       \
  template void LineSystem::solve_rows<K>(const double*, double*, const double*) const;          \
  template void LineSystem::solve_cols<K>(const double*, double*, double*) const;                \
  template void LineSystem::mul_cols<K>(const double*, const double*, double*) const;            \
  template void LineSystem::residual_cols<K>(const double*, const double*, const double*, double*, \
                                             double*) const;
XBAR_LINE_KERNELS(1)
XBAR_LINE_KERNELS(2)
XBAR_LINE_KERNELS(4)
#undef XBAR_LINE_KERNELS

}  // namespace xbar::solvers
