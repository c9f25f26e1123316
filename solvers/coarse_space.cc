#include "solvers/coarse_space.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

namespace {

// Layers smaller than this are restricted and prolonged on one thread (see line_system.cc:
// under load a barrier can cost more than a small layer's pass).
constexpr int64_t kParallelMinSlots = int64_t(1) << 17;
// Most threads a pool gives one call (slots for per-thread results).
constexpr int kMaxThreads = 64;

// Accumulator layout of the coarse operator: per coarse node (a, b), field pair (f1, f2) and
// neighbour offset (da, db) in {-1, 0, 1}^2 the entry A_c[(a, b, f1), (a + da, b + db, f2)].
constexpr int kEntriesPerNode = 4 * 9;
inline int64_t acc_index(int64_t node, int f1, int f2, int da, int db) {
  return node * kEntriesPerNode + (f1 * 2 + f2) * 9 + (da + 1) * 3 + (db + 1);
}

// A symmetric band along j of coarse couplings: same[b] = R(b, b), next[b] = R(b, b+1) = R(b+1, b).
struct Band {
  std::vector<double> same, next;
  explicit Band(int64_t n) : same(size_t(n), 0.0), next(size_t(n), 0.0) {}
  void clear() {
    std::fill(same.begin(), same.end(), 0.0);
    std::fill(next.begin(), next.end(), 0.0);
  }
  // R(x, y) and R(y, x) += v for coarse indices |x - y| <= 1 (v twice on the diagonal).
  void add_pair(int64_t x, int64_t y, double v) {
    if (x == y) same[size_t(x)] += 2 * v;
    else next[size_t(std::min(x, y))] += v;
  }
};

}  // namespace

CoarseSpace::Axis CoarseSpace::make_axis(int64_t fine, double spacing) {
  Axis ax;
  ax.fine = fine;
  ax.nodes = fine == 1 ? 1 : std::clamp<int64_t>(int64_t(std::ceil(double(fine - 1) / spacing)) + 1, 2, fine);
  ax.node.resize(size_t(fine));
  ax.frac.resize(size_t(fine));
  auto pos = [&](int64_t k) {
    return ax.nodes == 1 ? int64_t(0) : int64_t(std::llround(double(k) * double(fine - 1) / double(ax.nodes - 1)));
  };
  ax.start.resize(size_t(ax.nodes) + 1);
  for (int64_t c = 0; c < ax.nodes; ++c) ax.start[size_t(c)] = pos(c);
  ax.start[size_t(ax.nodes)] = fine;
  int64_t k = 0;
  for (int64_t t = 0; t < fine; ++t) {
    while (k + 1 < ax.nodes && pos(k + 1) <= t) ++k;
    ax.node[size_t(t)] = int32_t(k);
    ax.frac[size_t(t)] = k + 1 < ax.nodes ? double(t - pos(k)) / double(pos(k + 1) - pos(k)) : 0.0;
  }
  return ax;
}

CoarseSpace::CoarseSpace(const LineSystem& lines, const CoarseOptions& options) : lines_(lines) {
  options.validate();
  const auto t0 = std::chrono::steady_clock::now();
  const LineSystem::Stencil& s = lines.stencil();
  const int64_t m = lines.rows(), n = lines.cols(), mn = m * n;
  // Mean cell conductance and mean segment conductances along rows and columns.
  double g_sum = 0, gr_sum = 0, gc_sum = 0;
  int64_t gr_count = 0, gc_count = 0;
  {
    struct Part {
      double g = 0, gr = 0, gc = 0;
      int64_t nr = 0, nc = 0;
    };
    std::vector<Part> parts(kMaxThreads);
    run_on(lines.pool(), mn >= kParallelMinSlots ? kMaxThreads : 1, [&](int t, int nt) {
      Part p;
      for (int64_t k = mn * t / nt; k < mn * (t + 1) / nt; ++k) {
        p.g -= s.w(k);
        if (s.e_r(k) != 0) p.gr -= s.e_r(k), ++p.nr;
        if (s.e_c(k) != 0) p.gc -= s.e_c(k), ++p.nc;
      }
      parts[size_t(t)] = p;
    });
    for (const Part& p : parts) {
      g_sum += p.g;
      gr_sum += p.gr;
      gc_sum += p.gc;
      gr_count += p.nr;
      gc_count += p.nc;
    }
  }
  const double g = g_sum / double(mn);
  // Spacing c * sqrt(G / g) along each direction; the whole line when there is nothing to
  // couple (no cells: S = T_c and one coarse element is plenty).
  auto spacing = [&](double sum, int64_t count, int64_t len) {
    if (!(g > 0) || count == 0) return double(len);
    return std::max(1.0, options.spacing * std::sqrt(sum / double(count) / g));
  };
  double hi = spacing(gc_sum, gc_count, m), hj = spacing(gr_sum, gr_count, n);
  if (!options.enabled) hi = double(m), hj = double(n);
  ai_ = make_axis(m, hi);
  aj_ = make_axis(n, hj);
  while (unknowns() > options.max_unknowns) {  // widen until the coarse system is small
    const double grow = std::sqrt(double(unknowns()) / double(options.max_unknowns)) * 1.05;
    hi *= grow;
    hj *= grow;
    ai_ = make_axis(m, hi);
    aj_ = make_axis(n, hj);
  }
  if (!options.enabled) {
    setup_s_ = seconds_since(t0);
    ai_.nodes = aj_.nodes = 0;
    return;
  }
  assemble(lines);
  setup_s_ = seconds_since(t0);
}

void CoarseSpace::assemble(const LineSystem& lines) {
  const LineSystem::Stencil& s = lines.stencil();
  const int64_t m = lines.rows(), n = lines.cols(), mn = m * n;
  const int64_t nci = ai_.nodes, ncj = aj_.nodes, nodes = nci * ncj;
  // Rows with node[i] == a form interval a; they touch coarse rows a and a + 1 only (the column
  // segment from the interval's last row reaches the next coarse node with weight 1). Each
  // interval accumulates into its own two slabs, summed in interval order afterwards: the
  // operator does not depend on the thread count.
  std::vector<int64_t> first(size_t(nci) + 1, m);
  for (int64_t i = m - 1; i >= 0; --i) first[size_t(ai_.node[size_t(i)])] = i;
  const int64_t slab = ncj * kEntriesPerNode;
  std::vector<double> part(size_t(nci) * 2 * size_t(slab), 0.0);
  const uint8_t* fixed_r = s.fixed.data();
  const uint8_t* fixed_c = s.fixed.data() + mn;
  for_range_on(lines.pool(), nci, mn >= kParallelMinSlots ? 0 : nci + 1, [&](int64_t a0, int64_t a1) {
    Band d_r(ncj), d_c(ncj), w(ncj), e_r(ncj), e_c(ncj);
    for (int64_t a = a0; a < a1; ++a) {
      double* lo = part.data() + size_t(a) * 2 * size_t(slab);
      // A_c[(a1, ., f1), (a2, ., f2)] += weight * band, for coarse rows a1, a2 in {a, a + 1}.
      auto add = [&](int64_t a1, int64_t a2, int f1, int f2, double weight, const Band& band) {
        if (weight == 0) return;
        double* acc = lo + (a1 - a) * slab;
        const int da = int(a2 - a1);
        for (int64_t b = 0; b < ncj; ++b) {
          acc[acc_index(b, f1, f2, da, 0)] += weight * band.same[size_t(b)];
          if (b + 1 < ncj) {
            acc[acc_index(b, f1, f2, da, 1)] += weight * band.next[size_t(b)];
            acc[acc_index(b + 1, f1, f2, da, -1)] += weight * band.next[size_t(b)];
          }
        }
      };
      for (int64_t i = first[size_t(a)]; i < m && ai_.node[size_t(i)] == a; ++i) {
        for (Band* bd : {&d_r, &d_c, &w, &e_r, &e_c}) bd->clear();
        const int64_t row = i * n;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = aj_.node[size_t(j)];
          const double f = aj_.frac[size_t(j)], f0 = 1 - f;
          const int64_t q = row + j;
          auto point = [&](Band& bd, double v) {
            if (v == 0) return;
            bd.same[size_t(k)] += v * f0 * f0;
            if (f > 0) {
              bd.next[size_t(k)] += v * f0 * f;
              bd.same[size_t(k) + 1] += v * f * f;
            }
          };
          point(d_r, fixed_r[q] ? 0.0 : s.d_r(q));
          point(d_c, fixed_c[q] ? 0.0 : s.d_c(q));
          point(w, s.w(q));
          point(e_c, s.e_c(q));
          if (j + 1 < n && s.e_r(q) != 0) {  // the row segment (j, j+1)
            const int64_t k2 = aj_.node[size_t(j) + 1];
            const double g2 = aj_.frac[size_t(j) + 1];
            const double wx[2] = {f0, f}, wy[2] = {1 - g2, g2};
            for (int x = 0; x < 2; ++x)
              for (int y = 0; y < 2; ++y)
                if (wx[x] != 0 && wy[y] != 0) e_r.add_pair(k + x, k2 + y, s.e_r(q) * wx[x] * wy[y]);
          }
        }
        // Coarse rows of fine row i: a (weight 1 - fa) and a + 1 (weight fa).
        const double fa = ai_.frac[size_t(i)];
        const double wa[2] = {1 - fa, fa};
        for (int x = 0; x < 2; ++x)
          for (int y = 0; y < 2; ++y) {
            const double wgt = wa[x] * wa[y];
            add(a + x, a + y, 0, 0, wgt, d_r);
            add(a + x, a + y, 0, 0, wgt, e_r);
            add(a + x, a + y, 1, 1, wgt, d_c);
            add(a + x, a + y, 0, 1, wgt, w);
            add(a + x, a + y, 1, 0, wgt, w);
          }
        if (i + 1 < m) {  // the column segments (i, i+1): coarse rows of i and of i + 1
          const int64_t a2 = ai_.node[size_t(i) + 1];
          const double f2 = ai_.frac[size_t(i) + 1];
          const double wb[2] = {1 - f2, f2};
          for (int x = 0; x < 2; ++x)
            for (int y = 0; y < 2; ++y) {
              const double wgt = wa[x] * wb[y];
              if (wgt == 0) continue;
              add(a + x, a2 + y, 1, 1, wgt, e_c);
              add(a2 + y, a + x, 1, 1, wgt, e_c);
            }
        }
      }
    }
  });
  // Sum the slabs in interval order and keep the entries inside the coarse grid.
  std::vector<double> acc(size_t(nodes) * kEntriesPerNode, 0.0);
  for (int64_t a = 0; a < nci; ++a)
    for (int h = 0; h < 2 && a + h < nci; ++h) {
      const double* src = part.data() + (size_t(a) * 2 + size_t(h)) * size_t(slab);
      double* dst = acc.data() + size_t(a + h) * size_t(slab);
      for (int64_t e = 0; e < slab; ++e) dst[e] += src[e];
    }
  std::vector<Eigen::Triplet<double, int64_t>> t;
  t.reserve(size_t(nodes) * kEntriesPerNode);
  for (int64_t a = 0; a < nci; ++a)
    for (int64_t b = 0; b < ncj; ++b) {
      const int64_t node = a * ncj + b;
      for (int f1 = 0; f1 < 2; ++f1) {
        const int64_t row = node * 2 + f1;
        bool diag_seen = false;
        for (int f2 = 0; f2 < 2; ++f2)
          for (int da = -1; da <= 1; ++da)
            for (int db = -1; db <= 1; ++db) {
              if (a + da < 0 || a + da >= nci || b + db < 0 || b + db >= ncj) continue;
              const double v = acc[size_t(acc_index(node, f1, f2, da, db))];
              const int64_t col = ((a + da) * ncj + (b + db)) * 2 + f2;
              if (col == row) {
                // A basis function that vanishes (all its nodes fixed) is decoupled.
                t.emplace_back(row, col, v > 0 ? v : 1.0);
                diag_seen = true;
              } else if (v != 0) {
                t.emplace_back(row, col, v);
              }
            }
        if (!diag_seen) t.emplace_back(row, row, 1.0);
      }
    }
  a_c_.resize(2 * nodes, 2 * nodes);
  a_c_.setFromTriplets(t.begin(), t.end());
  LinearBackendOptions lo;
  lo.ordering = Ordering::kAmd;  // the coarse grid couples diagonal neighbours: no line separators
  chol_ = std::make_unique<CholmodBackend>(lo);
  chol_->set_unknown_names([](int64_t k) {
    return "coarse unknown " + std::to_string(k) + " of the pcg preconditioner";
  });
  chol_->analyze(a_c_, {});
  chol_->factorize(a_c_);  // NumericalError (naming the unknown) if not positive definite
}

template <int K>
void CoarseSpace::solve(const double* r, Scratch& sc) const {
  const int64_t nci = ai_.nodes, ncj = aj_.nodes;
  if (nci == 0) return;
  const int64_t m = ai_.fine, n = aj_.fine, mn = m * n;
  const uint8_t* fixed_c = lines_.stencil().fixed.data() + mn;
  const double* fr = aj_.frac.data();
  // Restriction P^T r on the column field, per interval of fine rows (as in assemble()):
  // interval a's rows add to coarse rows a ("lo") and a + 1 ("hi"), summed in order below.
  std::vector<int64_t> first(size_t(nci) + 1, m);
  for (int64_t i = m - 1; i >= 0; --i) first[size_t(ai_.node[size_t(i)])] = i;
  const size_t slab = size_t(ncj) * K;
  sc.row.assign(size_t(nci) * 2 * slab, 0.0);
  for_range_on(lines_.pool(), nci, mn * K >= kParallelMinSlots ? 0 : nci + 1, [&](int64_t a0, int64_t a1) {
  for (int64_t a = a0; a < a1; ++a) {
    double* lo = sc.row.data() + size_t(a) * 2 * slab;
    double* hi = lo + slab;
    std::vector<double> t(slab);
    for (int64_t i = first[size_t(a)]; i < m && ai_.node[size_t(i)] == a; ++i) {
      const double* ri = r + i * n * K;
      const uint8_t* fi = fixed_c + i * n;
      double carry[K] = {};  // the previous interval's share of node k
      for (int64_t k = 0; k < ncj; ++k) {  // one coarse interval at a time, in registers
        double s0[K] = {}, s1[K] = {};
        for (int64_t j = aj_.start[size_t(k)]; j < aj_.start[size_t(k) + 1]; ++j) {
          const double keep = fi[j] ? 0.0 : 1.0, f1 = keep * fr[j], f0 = keep - f1;
#pragma omp simd
          for (int c = 0; c < K; ++c) {
            s0[c] += f0 * ri[j * K + c];
            s1[c] += f1 * ri[j * K + c];
          }
        }
        for (int c = 0; c < K; ++c) {
          t[size_t(k) * K + c] = s0[c] + carry[c];
          carry[c] = s1[c];
        }
      }
      const double fa = ai_.frac[size_t(i)];
      for (size_t e = 0; e < slab; ++e) {
        lo[e] += (1 - fa) * t[e];
        hi[e] += fa * t[e];
      }
    }
  }
  });
  sc.rhs.setZero(2 * nci * ncj, K);
  for (int64_t a = 0; a < nci; ++a)
    for (int64_t b = 0; b < ncj; ++b)
      for (int c = 0; c < K; ++c) {
        double v = sc.row[size_t(a) * 2 * slab + size_t(b) * K + size_t(c)];
        if (a > 0) v += sc.row[(size_t(a) - 1) * 2 * slab + slab + size_t(b) * K + size_t(c)];
        sc.rhs((a * ncj + b) * 2 + 1, c) = v;
      }
  {
    std::lock_guard<std::mutex> lock(chol_mutex_);
    sc.sol = chol_->solve(sc.rhs);
  }
}

template <int K>
void CoarseSpace::prolong(const Scratch& sc, double* z, double weight) const {
  const int64_t nci = ai_.nodes, ncj = aj_.nodes;
  const int64_t m = ai_.fine, n = aj_.fine, mn = m * n;
  const uint8_t* fixed_c = lines_.stencil().fixed.data() + mn;
  if (nci == 0) {
    if (weight == 0) std::fill(z, z + mn * K, 0.0);
    return;
  }
  const double* fr = aj_.frac.data();
  // Prolongation of the column field, row by row.
  for_range_on(lines_.pool(), m, mn * K >= kParallelMinSlots ? 0 : m + 1, [&](int64_t i0, int64_t i1) {
    std::vector<double> u((size_t(ncj) + 1) * K, 0.0);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t a = ai_.node[size_t(i)];
      const double fa = ai_.frac[size_t(i)];
      for (int64_t b = 0; b < ncj; ++b)
        for (int c = 0; c < K; ++c)
          u[size_t(b) * K + c] = (1 - fa) * sc.sol((a * ncj + b) * 2 + 1, c) +
                                 (fa != 0 ? fa * sc.sol(((a + 1) * ncj + b) * 2 + 1, c) : 0.0);
      double* zi = z + i * n * K;
      const uint8_t* fi = fixed_c + i * n;
      for (int64_t k = 0; k < ncj; ++k) {
        const double* u0 = u.data() + size_t(k) * K;
        const double* u1 = u0 + K;
        for (int64_t j = aj_.start[size_t(k)]; j < aj_.start[size_t(k) + 1]; ++j) {
          const double keep = fi[j] ? 0.0 : 1.0, f1 = keep * fr[j], f0 = keep - f1;
          if (weight == 0) {
#pragma omp simd
            for (int c = 0; c < K; ++c) zi[j * K + c] = f0 * u0[c] + f1 * u1[c];
          } else {
#pragma omp simd
            for (int c = 0; c < K; ++c) zi[j * K + c] += weight * (f0 * u0[c] + f1 * u1[c]);
          }
        }
      }
    }
  });
}

#define XBAR_COARSE_KERNELS(K)                                                 \
  template void CoarseSpace::solve<K>(const double*, Scratch&) const;          \
  template void CoarseSpace::prolong<K>(const Scratch&, double*, double) const;
XBAR_COARSE_KERNELS(1)
XBAR_COARSE_KERNELS(2)
XBAR_COARSE_KERNELS(4)
#undef XBAR_COARSE_KERNELS

SparseMatrix CoarseSpace::prolongation() const {
  const int64_t ncj = aj_.nodes, n = aj_.fine, mn = ai_.fine * n;
  const std::vector<int64_t> slots = lines_.slots();
  std::vector<Eigen::Triplet<double, int64_t>> t;
  for (size_t k = 0; k < slots.size(); ++k) {
    const int64_t layer = slots[k] / mn, q = slots[k] % mn, i = q / n, j = q % n;
    const double wa[2] = {1 - ai_.frac[size_t(i)], ai_.frac[size_t(i)]};
    const double wb[2] = {1 - aj_.frac[size_t(j)], aj_.frac[size_t(j)]};
    for (int x = 0; x < 2; ++x)
      for (int y = 0; y < 2; ++y)
        if (wa[x] * wb[y] != 0)
          t.emplace_back(int64_t(k), ((ai_.node[size_t(i)] + x) * ncj + aj_.node[size_t(j)] + y) * 2 + layer,
                         wa[x] * wb[y]);
  }
  SparseMatrix p(int64_t(slots.size()), unknowns());
  p.setFromTriplets(t.begin(), t.end());
  return p;
}

}  // namespace xbar::solvers
