// Longer than the project's ~600-line guide, deliberately: the preconditioned CG loop, its
// stopping rule and the long-double refinement that makes the stopping rule honest (issue 21,
// point 8) share one Workspace and its invariants; split apart, each half would need the
// other's private state. The line preconditioner itself is in line_system.*.
#include "solvers/pcg_backend.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <new>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "solvers/available_memory.h"
#include "solvers/huge_pages.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

namespace {

// Vector operations run over fixed chunks of this many entries, partial sums added in chunk
// order: the result does not depend on how many threads ran them.
constexpr int64_t kChunk = 1 << 14;
// Vectors shorter than this are handled by one thread (see line_system.cc: handing a short
// operation to the other thread costs more than it saves).
constexpr int64_t kParallelMin = int64_t(1) << 17;
// A watched quantity smaller than this fraction of the largest is held to an absolute
// accuracy (tol times this fraction of the largest) rather than a relative one: a column
// current that crosses zero cannot be computed to a relative accuracy.
constexpr double kWatchFloor = 1e-3;
// Stopping test (see solve_block()): steps that shrink at least this much each time sum to at most
// the current one. The two-level preconditioner contracts 100-200-fold per step (bench/README.md).
constexpr double kMaxContraction = 0.5;
// Iterative refinement after CG (see the file comment): at most this many rounds, each solving
// for the correction to kRefineTol of its own size, a further round only while the last
// correction exceeded kRefineAgain * tol.
constexpr int kMaxRefinements = 3;
constexpr double kRefineTol = 1e-2;
constexpr double kRefineAgain = 1.0;
// A watched quantity computed as sum_e w_e x_e carries a rounding error of about this many
// units of roundoff times sum_e |w_e x_e|; the estimate never claims less (below it the
// currents' own rounding, not the solve, is the error).
constexpr double kDotRoundingUlps = 4.0;
// Batches: the workspaces of all threads together stay below this (4 lanes at 1024^2 take
// 2 x 0.29 GB); larger arrays use fewer lanes per block, down to one, and then fewer threads.
constexpr double kBatchWorkspaceBytes = 1.25 * (1 << 30);
// CHOLMOD's supernodal factor occupies about this many bytes per predicted nonzero of L
// (8 for the value, the rest row indices, supernode padding and workspace); measured peak RSS
// at 1024^2 and 2048^2 was 23-26 bytes per nonzero including the assembled system.
constexpr double kFallbackBytesPerNonzero = 16;

template <class F>
void for_chunks(ThreadPool* pool, int64_t n, F&& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  for_range_on(pool, chunks, n >= kParallelMin ? 0 : chunks + 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) f(c * kChunk, std::min(kChunk, n - c * kChunk));
  });
}

// Per-lane sums over n slots, in fixed chunks added in chunk order (the result does not depend
// on the thread count): f(q, acc) adds slot q's terms to acc[0..K).
template <int K, class F>
void sum_lanes(ThreadPool* pool, int64_t n, double* out, F&& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(size_t(chunks) * K, 0.0);
  for_range_on(pool, chunks, n * K >= kParallelMin ? 0 : chunks + 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double* acc = part.data() + size_t(c) * K;
      for (int64_t q = c * kChunk; q < std::min(n, (c + 1) * kChunk); ++q) f(q, acc);
    }
  });
  for (int64_t c = 0; c < chunks; ++c)
    for (int l = 0; l < K; ++l) out[l] += part[size_t(c) * K + size_t(l)];
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

// Per block of K right-hand sides, all in grid slots with the K lanes interleaved (slot q,
// lane c at q * K + c): b and x (row layer, then column layer), CG's residual, direction and
// S p (column layer), one scratch layer holding T_r^-1 W p and then the preconditioned
// residual, the coarse grid's buffers, and (K > 1) one plain right-hand side for the callers'
// rhs and use. b is needed only before and after the iterations, so during them its two
// halves serve the multiplicative cycle as scratch (u, t2) and it is filled again at the end:
// two layers less (268 MB at 4096^2).
struct PcgBackend::Workspace {
  int64_t mn = 0;
  int lanes = 1;
  Eigen::VectorXd b, x, r, p, q, tz, xs, one;
  CoarseSpace::Scratch coarse;
  Workspace(int64_t layer, int k) : mn(layer), lanes(k) {
    internal::resize_huge(b, 2 * mn * k);
    internal::resize_huge(x, 2 * mn * k);
    for (Eigen::VectorXd* v : {&r, &p, &q, &tz, &xs}) internal::resize_huge(*v, mn * k);
    if (k > 1) internal::resize_huge(one, 2 * mn);
  }
  double* u() { return b.data(); }
  double* t2() { return b.data() + mn * lanes; }
  // Bytes of one workspace of k lanes for layers of mn slots.
  static double bytes(int64_t mn, int k) { return double(mn) * 8.0 * (9.0 * k + (k > 1 ? 2 : 0)); }
};

PcgBackend::PcgBackend(const LinearBackendOptions& options)
    : options_(options), pool_(std::make_unique<ThreadPool>(std::max(1, omp_get_max_threads()))) {
  options_.validate();
}

PcgBackend::~PcgBackend() = default;

void PcgBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  const auto t0 = std::chrono::steady_clock::now();
  fallback_.reset();
  fallback_matrix_ = SparseMatrix();
  a_ = nullptr;
  coarse_.reset();
  lines_ = std::make_unique<LineSystem>(a, coords);
  lines_->set_pool(pool_.get());
  slot_ = lines_->slots();
  coords_ = coords;
  stats_ = {};
  stats_.ordering_used = "lines";
  stats_.analyze_s = seconds_since(t0);
  stats_pcg_ = {};
  status_ = BackendStatus::kSuccess;
  message_.clear();
}

void PcgBackend::prepare() {
  coarse_.reset();
  CoarseOptions co = options_.pcg.coarse;
  coarse_ = std::make_unique<CoarseSpace>(*lines_, co);
  stats_pcg_.coarse_unknowns = coarse_->unknowns();
}

void PcgBackend::factorize(const SparseMatrix& a) {
  XBAR_EXPECTS(lines_ && !slot_.empty(), "PcgBackend: call analyze() before factorize()");
  const auto t0 = std::chrono::steady_clock::now();
  a_ = &a;
  if (fallback_) {
    fallback_->factorize(a);
    stats_ = fallback_->stats();
    return;
  }
  const int64_t bad = lines_->set_values(a);
  if (bad >= 0) {
    stats_.factorize_s = seconds_since(t0);
    status_ = BackendStatus::kNumericalIssue;
    message_ = "pcg factorize: line pivot not positive at " + unknown(bad) +
               ": the matrix is not positive definite";
    throw NumericalError(message_);
  }
  prepare();
  stats_.factorize_s = seconds_since(t0);
  status_ = BackendStatus::kSuccess;
}

void PcgBackend::set_stencil(LineSystem::Stencil s) {
  const auto t0 = std::chrono::steady_clock::now();
  fallback_.reset();
  fallback_matrix_ = SparseMatrix();
  a_ = nullptr;
  slot_.clear();
  coords_.clear();
  coarse_.reset();
  const int64_t m = s.rows, n = s.cols;
  lines_ = std::make_unique<LineSystem>(m, n);
  lines_->set_pool(pool_.get());
  stats_ = {};
  stats_.ordering_used = "lines";
  stats_pcg_ = {};
  const int64_t bad = lines_->set_stencil(std::move(s));
  if (bad >= 0) {
    const GridCoord c = lines_->coord(bad);
    status_ = BackendStatus::kNumericalIssue;
    message_ = std::string("pcg: line pivot not positive at node ") + (c.layer == 0 ? "r" : "c") +
               std::to_string(c.i) + "_" + std::to_string(c.j) + ": the matrix is not positive definite";
    throw NumericalError(message_);
  }
  prepare();
  stats_.factorize_s = seconds_since(t0);
  status_ = BackendStatus::kSuccess;
  message_.clear();
}

void PcgBackend::set_watch(const SparseMatrix& w, const std::string& what) {
  XBAR_EXPECTS(lines_ && !slot_.empty(), "PcgBackend: call analyze() before set_watch()");
  std::vector<int64_t> ptr, slot;
  std::vector<double> val;
  if (w.rows() > 0) {
    XBAR_EXPECTS(w.cols() == int64_t(slot_.size()), "PcgBackend::set_watch: w must have one column per unknown");
    const Eigen::SparseMatrix<double, Eigen::RowMajor, int64_t> wr(w);
    ptr.push_back(0);
    for (int64_t q = 0; q < wr.rows(); ++q) {
      for (decltype(wr)::InnerIterator it(wr, q); it; ++it) {
        slot.push_back(slot_[size_t(it.col())]);
        val.push_back(it.value());
      }
      ptr.push_back(int64_t(slot.size()));
    }
  }
  set_watch_slots(std::move(ptr), std::move(slot), std::move(val), what);
}

void PcgBackend::set_watch_slots(std::vector<int64_t> ptr, std::vector<int64_t> slot,
                                 std::vector<double> val, const std::string& what) {
  watch_what_ = ptr.size() <= 1 ? "solution" : what;
  if (ptr.size() <= 1) ptr.clear(), slot.clear(), val.clear();
  watch_ptr_ = std::move(ptr);
  watch_slot_ = std::move(slot);
  watch_val_ = std::move(val);
}

template <int K>
void PcgBackend::step_change(const Workspace& ws, const double* alpha, double* out) const {
  const int64_t mn = lines_->layer_size();
  if (watch_ptr_.empty()) {  // the whole solution, 2-norm; the row layer moved by -alpha t
    double step2[K] = {}, x2[K] = {};
    sum_lanes<K>(lines_->pool(), mn, step2, [&](int64_t q, double* acc) {
      for (int c = 0; c < K; ++c) acc[c] += ws.p(q * K + c) * ws.p(q * K + c) + ws.tz(q * K + c) * ws.tz(q * K + c);
    });
    sum_lanes<K>(lines_->pool(), 2 * mn, x2, [&](int64_t q, double* acc) {
      for (int c = 0; c < K; ++c) acc[c] += ws.x(q * K + c) * ws.x(q * K + c);
    });
    for (int c = 0; c < K; ++c)
      out[c] = x2[c] > 0 ? std::abs(alpha[c]) * std::sqrt(step2[c] / x2[c]) : (step2[c] > 0 && alpha[c] != 0 ? HUGE_VAL : 0.0);
    return;
  }
  const size_t nq = watch_ptr_.size() - 1;
  for (int c = 0; c < K; ++c) {
    double largest = 0;
    std::vector<double> value(nq), change(nq);
    for (size_t q = 0; q < nq; ++q) {
      double v = 0, d = 0;
      for (int64_t e = watch_ptr_[q]; e < watch_ptr_[q + 1]; ++e) {
        const int64_t sl = watch_slot_[size_t(e)];
        const double w = watch_val_[size_t(e)];
        v += w * ws.x(sl * K + c);
        d += sl < mn ? -w * alpha[c] * ws.tz(sl * K + c) : w * alpha[c] * ws.p((sl - mn) * K + c);
      }
      value[q] = std::abs(v);
      change[q] = std::abs(d);
      largest = std::max(largest, value[q]);
    }
    double worst = 0;
    for (size_t q = 0; q < nq; ++q) {
      const double scale = std::max(value[q], kWatchFloor * largest);
      worst = std::max(worst, scale > 0 ? change[q] / scale : (change[q] > 0 ? HUGE_VAL : 0.0));
    }
    out[c] = worst;
  }
}

template <int K>
void PcgBackend::true_residual(const Workspace& ws, double* out) const {
  // ||b - A x||_2 / ||b||_2 from the stencil, per lane (fixed slots: b = x = 0 there).
  const LineSystem::Stencil& s = lines_->stencil();
  const int64_t m = lines_->rows(), n = lines_->cols(), mn = m * n;
  const double* xr = ws.x.data();
  const double* xc = ws.x.data() + mn * K;
  const double* br = ws.b.data();
  const double* bc = ws.b.data() + mn * K;
  double r2[2 * K] = {};
  sum_lanes<2 * K>(lines_->pool(), mn, r2, [&](int64_t q, double* acc) {
    const int64_t i = q / n, j = q % n;
    for (int c = 0; c < K; ++c) {
      const int64_t o = q * K + c;
      double rr = br[o] - s.d_r(q) * xr[o] - s.w(q) * xc[o];
      if (j > 0) rr -= s.e_r(q - 1) * xr[o - K];
      if (j + 1 < n) rr -= s.e_r(q) * xr[o + K];
      double rc = bc[o] - s.d_c(q) * xc[o] - s.w(q) * xr[o];
      if (i > 0) rc -= s.e_c(q - n) * xc[o - n * K];
      if (i + 1 < m) rc -= s.e_c(q) * xc[o + n * K];
      acc[c] += rr * rr + rc * rc;
      acc[K + c] += br[o] * br[o] + bc[o] * bc[o];
    }
  });
  for (int c = 0; c < K; ++c) out[c] = r2[K + c] > 0 ? std::sqrt(r2[c] / r2[K + c]) : 0.0;
}

template <int K>
void PcgBackend::solve_block(int64_t c0, int64_t used, const RhsFn& rhs, Workspace& ws,
                             RhsResult* res) const {
  const LineSystem& ls = *lines_;
  const int64_t mn = ls.layer_size();
  const double* w = ls.coupling().data();
  // b for the lanes in use (the others stay zero and are done at once).
  auto fill_b = [&]() {
    if (K == 1) {
      rhs(c0, ws.b.data());
      return;
    }
    for (int c = 0; c < K; ++c) {
      if (c < used) rhs(c0 + c, ws.one.data());
      for_chunks(lines_->pool(), 2 * mn, [&](int64_t o, int64_t len) {
        for (int64_t q = o; q < o + len; ++q) ws.b(q * K + c) = c < used ? ws.one(q) : 0.0;
      });
    }
  };
  fill_b();
  double* br = ws.b.data();
  double* bc = ws.b.data() + mn * K;
  double* xr = ws.x.data();
  double* xc = ws.x.data() + mn * K;
  bool done[K];
  double b2[K] = {}, rz[K] = {}, previous[K], alpha[K], beta[K], est[K] = {};
  sum_lanes<K>(lines_->pool(), 2 * mn, b2, [&](int64_t q, double* acc) {
    for (int c = 0; c < K; ++c) acc[c] += ws.b(q * K + c) * ws.b(q * K + c);
  });
  for (int c = 0; c < K; ++c) {
    res[c] = {};
    done[c] = !(b2[c] > 0);  // b = 0: x = 0
    res[c].converged = done[c];
    previous[c] = HUGE_VAL;
  }
  auto precondition = [&]() {  // tz = B r (see the file comment)
    ls.solve_cols<K>(ws.r.data(), ws.tz.data());                      // z = M r
    if (!coarse_ || coarse_->unknowns() == 0) return;
    if (!options_.pcg.coarse.multiplicative) {
      coarse_->add_correction<K>(ws.r.data(), ws.tz.data(), ws.coarse);  // z += Q r
      return;
    }
    double* u = ws.u();
    double* t2 = ws.t2();
    ls.solve_rows<K>(ws.tz.data(), ws.q.data(), w);
    ls.residual_cols<K>(ws.r.data(), ws.tz.data(), ws.q.data(), u);   // r1 = r - S z
    coarse_->solve<K>(u, ws.coarse);
    coarse_->prolong<K>(ws.coarse, t2, 0.0);                          // c = Q r1
    ls.solve_rows<K>(t2, ws.q.data(), w);
    ls.residual_cols<K>(u, t2, ws.q.data(), u, ws.tz.data());         // r2 = r1 - S c, z += c
    ls.solve_cols<K>(u, t2, ws.tz.data());                            // z += M r2
  };
  auto dot = [&](const Eigen::VectorXd& a, const Eigen::VectorXd& b, double* out) {
    for (int c = 0; c < K; ++c) out[c] = 0;
    sum_lanes<K>(lines_->pool(), mn, out, [&](int64_t q, double* acc) {
      for (int c = 0; c < K; ++c) acc[c] += a(q * K + c) * b(q * K + c);
    });
  };
  // x_c = 0, x_r = T_r^-1 b_r; the Schur residual r = b_c - W x_r.
  ls.solve_rows<K>(br, xr);
  for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
    for (int64_t q = o; q < o + len; ++q)
      for (int c = 0; c < K; ++c) {
        ws.r(q * K + c) = bc[q * K + c] - w[q] * xr[q * K + c];
        xc[q * K + c] = 0;
      }
  });
  // CG on S x_c = r from x_c as it stands (ws.r: its Schur residual), the row layer following
  // (x_r -= alpha T_r^-1 W p), until the watched change of a step is below tol; `out` gets
  // the iterations, the last estimate and convergence. done[] marks lanes not to run.
  auto run_cg = [&](double tol, int max_it, RhsResult* out) {
    for (int c = 0; c < K; ++c) previous[c] = HUGE_VAL;
    precondition();
    ws.p = ws.tz;
    dot(ws.r, ws.tz, rz);
    auto all_done = [&]() {
      for (int c = 0; c < K; ++c)
        if (!done[c]) return false;
      return true;
    };
    for (int c = 0; c < K; ++c)
      if (!done[c] && rz[c] == 0) done[c] = out[c].converged = true;  // exact already
    for (int it = 1; it <= max_it && !all_done(); ++it) {
      // q = S p = T_c p - W T_r^-1 W p, with t = T_r^-1 W p kept in tz.
      ls.solve_rows<K>(ws.p.data(), ws.tz.data(), w);
      ls.mul_cols<K>(ws.p.data(), ws.tz.data(), ws.q.data());
      double pq[K];
      dot(ws.p, ws.q, pq);
      for (int c = 0; c < K; ++c) {
        alpha[c] = 0;
        if (done[c]) continue;
        out[c].iterations += 1;
        if (!(pq[c] > 0) || !std::isfinite(pq[c])) {  // S not positive definite (or overflow)
          done[c] = true;
          continue;
        }
        alpha[c] = rz[c] / pq[c];
      }
      for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
        for (int64_t q = o; q < o + len; ++q)
  #pragma omp simd
          for (int c = 0; c < K; ++c) {
            xc[q * K + c] += alpha[c] * ws.p(q * K + c);
            xr[q * K + c] -= alpha[c] * ws.tz(q * K + c);
            ws.r(q * K + c) -= alpha[c] * ws.q(q * K + c);
          }
      });
      step_change<K>(ws, alpha, est);
      for (int c = 0; c < K; ++c) {
        if (done[c]) continue;
        out[c].estimate = est[c];
        // Converged when this step changed the watched quantities by at most tol and the steps
        // contract at least kMaxContraction-fold (or the previous step was below tol too): the
        // steps still to come then add up to at most this one.
        if (est[c] <= tol && (previous[c] <= tol || est[c] <= kMaxContraction * previous[c]))
          done[c] = out[c].converged = true;
        previous[c] = est[c];
      }
      if (all_done()) break;
      precondition();
      double rz_next[K];
      dot(ws.r, ws.tz, rz_next);
      for (int c = 0; c < K; ++c) {
        beta[c] = 0;
        if (done[c]) continue;
        if (rz_next[c] == 0) {  // exact solution reached
          done[c] = out[c].converged = true;
          continue;
        }
        beta[c] = rz_next[c] / rz[c];
        rz[c] = rz_next[c];
      }
      for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
        for (int64_t q = o; q < o + len; ++q)
  #pragma omp simd
          for (int c = 0; c < K; ++c) ws.p(q * K + c) = ws.tz(q * K + c) + beta[c] * ws.p(q * K + c);
      });
    }
  };
  run_cg(options_.pcg.tol, options_.pcg.max_iterations, res);
  fill_b();  // b again (its halves were scratch)
  // The row layer exactly from the column layer (no drift from the recurrence).
  for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
    for (int64_t q = o; q < o + len; ++q)
      for (int c = 0; c < K; ++c) xr[q * K + c] = br[q * K + c] - w[q] * xc[q * K + c];
  });
  ls.solve_rows<K>(xr, xr);
  refine<K>(ws, fill_b, run_cg, done, res);
  double resid[K];
  true_residual<K>(ws, resid);
  for (int c = 0; c < K; ++c) res[c].residual = resid[c];
}

template <int K, class FillB, class RunCg>
void PcgBackend::refine(Workspace& ws, const FillB& fill_b, const RunCg& run_cg, bool* done, RhsResult* res) const {
  const LineSystem& ls = *lines_;
  const int64_t mn = ls.layer_size();
  const double* w = ls.coupling().data();
  double* br = ws.b.data();
  double* xr = ws.x.data();
  double* xc = ws.x.data() + mn * K;
  bool active[K];
  for (int c = 0; c < K; ++c) {
    active[c] = res[c].converged && res[c].iterations > 0;  // b = 0 or exact: nothing to refine
    res[c].refinements = 0;
  }
  for (int round = 0; round < kMaxRefinements; ++round) {
    bool any = false;
    for (int c = 0; c < K; ++c) any |= active[c];
    if (!any) return;
    std::vector<double> before;
    watched_values<K>(ws, before);
    // The residual in long double, then its Schur part r_c - W T_r^-1 r_r into ws.r.
    residual_ld<K>(ws, ws.tz.data(), ws.r.data());
    ls.solve_rows<K>(ws.tz.data(), ws.q.data());
    for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
      for (int64_t q = o; q < o + len; ++q)
        for (int c = 0; c < K; ++c) {
          ws.r(q * K + c) = active[c] ? ws.r(q * K + c) - w[q] * ws.q(q * K + c) : 0.0;
          ws.xs(q * K + c) = xc[q * K + c];
          xc[q * K + c] = 0;
          xr[q * K + c] = 0;
        }
    });
    // The correction d from zero, to kRefineTol of its own size.
    RhsResult corr[K];
    for (int c = 0; c < K; ++c) done[c] = !active[c];
    run_cg(kRefineTol, options_.pcg.max_iterations, corr);
    fill_b();
    for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
      for (int64_t q = o; q < o + len; ++q)
        for (int c = 0; c < K; ++c) {
          const int64_t i = q * K + c;
          const double d = active[c] ? xc[i] : 0.0;
          xc[i] = ws.xs(i) + d;
          ws.xs(i) = d;  // d_c, for the no-watch estimate
          xr[i] = br[i] - w[q] * xc[i];
        }
    });
    ls.solve_rows<K>(xr, xr);
    double est[K];
    change_estimate<K>(ws, before, est);
    bool again = false;
    for (int c = 0; c < K; ++c) {
      if (!active[c]) continue;
      res[c].iterations += corr[c].iterations;
      ++res[c].refinements;
      // The correction is the error the solution had (to kRefineTol): the estimate reported,
      // and an upper bound of the error left after it.
      res[c].estimate = est[c];
      res[c].converged = corr[c].converged && est[c] <= options_.pcg.tol;
      // Another round only while the correction was not far below tol (the error left after a
      // round is ~kRefineTol of its correction, plus the rounding of the new residual).
      active[c] = corr[c].converged && est[c] > kRefineAgain * options_.pcg.tol;
      again |= active[c];
    }
    if (!again) return;
  }
}

template <int K>
void PcgBackend::watched_values(const Workspace& ws, std::vector<double>& out) const {
  out.clear();
  if (watch_ptr_.empty()) return;
  const size_t nq = watch_ptr_.size() - 1;
  out.assign(nq * K, 0.0);
  for (size_t q = 0; q < nq; ++q)
    for (int64_t e = watch_ptr_[q]; e < watch_ptr_[q + 1]; ++e) {
      const int64_t sl = watch_slot_[size_t(e)];
      for (int c = 0; c < K; ++c) out[q * K + size_t(c)] += watch_val_[size_t(e)] * ws.x(sl * K + c);
    }
}

template <int K>
void PcgBackend::change_estimate(Workspace& ws, const std::vector<double>& before, double* out) const {
  if (!watch_ptr_.empty()) {  // each watched quantity's change relative to its size (floored)
    std::vector<double> after;
    watched_values<K>(ws, after);
    const size_t nq = watch_ptr_.size() - 1;
    std::vector<double> abs_sum(nq * K, 0.0);  // sum_e |w_e x_e|: the rounding floor
    for (size_t q = 0; q < nq; ++q)
      for (int64_t e = watch_ptr_[q]; e < watch_ptr_[q + 1]; ++e) {
        const int64_t sl = watch_slot_[size_t(e)];
        for (int c = 0; c < K; ++c) abs_sum[q * K + size_t(c)] += std::abs(watch_val_[size_t(e)] * ws.x(sl * K + c));
      }
    for (int c = 0; c < K; ++c) {
      double largest = 0, worst = 0;
      for (size_t q = 0; q < nq; ++q) largest = std::max(largest, std::abs(after[q * K + size_t(c)]));
      for (size_t q = 0; q < nq; ++q) {
        const double d = std::max(std::abs(after[q * K + size_t(c)] - before[q * K + size_t(c)]),
                                  kDotRoundingUlps * std::numeric_limits<double>::epsilon() * abs_sum[q * K + size_t(c)]);
        const double scale = std::max(std::abs(after[q * K + size_t(c)]), kWatchFloor * largest);
        worst = std::max(worst, scale > 0 ? d / scale : (d > 0 ? HUGE_VAL : 0.0));
      }
      out[c] = worst;
    }
    return;
  }
  // The whole solution (2-norm): d_c is in ws.xs, d_r = -T_r^-1 W d_c.
  const int64_t mn = lines_->layer_size();
  const double* w = lines_->coupling().data();
  for_chunks(lines_->pool(), mn, [&](int64_t o, int64_t len) {
    for (int64_t q = o; q < o + len; ++q)
      for (int c = 0; c < K; ++c) ws.q(q * K + c) = w[q] * ws.xs(q * K + c);
  });
  lines_->solve_rows<K>(ws.q.data(), ws.tz.data());
  double d2[K] = {}, x2[K] = {};
  sum_lanes<K>(lines_->pool(), mn, d2, [&](int64_t q, double* acc) {
    for (int c = 0; c < K; ++c) acc[c] += ws.xs(q * K + c) * ws.xs(q * K + c) + ws.tz(q * K + c) * ws.tz(q * K + c);
  });
  sum_lanes<K>(lines_->pool(), 2 * mn, x2, [&](int64_t q, double* acc) {
    for (int c = 0; c < K; ++c) acc[c] += ws.x(q * K + c) * ws.x(q * K + c);
  });
  for (int c = 0; c < K; ++c) out[c] = x2[c] > 0 ? std::sqrt(d2[c] / x2[c]) : (d2[c] > 0 ? HUGE_VAL : 0.0);
}

template <int K>
void PcgBackend::residual_ld(const Workspace& ws, double* rr_out, double* rc_out) const {
  // b - A x from the stencil with every product and sum in long double (64-bit mantissa):
  // the residual of a converged solve is ~1e-17 of |A||x|, which a double sum would bury in
  // its own rounding.
  const LineSystem::Stencil& s = lines_->stencil();
  const int64_t m = lines_->rows(), n = lines_->cols(), mn = m * n;
  const double* xr = ws.x.data();
  const double* xc = ws.x.data() + mn * K;
  const double* br = ws.b.data();
  const double* bc = ws.b.data() + mn * K;
  for_chunks(lines_->pool(), mn, [&](int64_t o0, int64_t len) {
    for (int64_t q = o0; q < o0 + len; ++q) {
      const int64_t i = q / n, j = q % n;
      for (int c = 0; c < K; ++c) {
        const int64_t o = q * K + c;
        long double rr = (long double)br[o] - (long double)s.d_r(q) * xr[o] - (long double)s.w(q) * xc[o];
        if (j > 0) rr -= (long double)s.e_r(q - 1) * xr[o - K];
        if (j + 1 < n) rr -= (long double)s.e_r(q) * xr[o + K];
        long double rc = (long double)bc[o] - (long double)s.d_c(q) * xc[o] - (long double)s.w(q) * xr[o];
        if (i > 0) rc -= (long double)s.e_c(q - n) * xc[o - n * K];
        if (i + 1 < m) rc -= (long double)s.e_c(q) * xc[o + n * K];
        rr_out[o] = double(rr);
        rc_out[o] = double(rc);
      }
    }
  });
}

void PcgBackend::start_fallback(const std::string& why) const {
  if (!options_.pcg.fallback_to_cholmod) throw NumericalError(why);
  const SparseMatrix* a = a_;
  std::vector<GridCoord> coords = coords_;
  if (!a) {  // grid mode: assemble the matrix over the free slots
    fallback_matrix_ = lines_->matrix();
    a = &fallback_matrix_;
    coords = lines_->coords();
  }
  auto chol = std::make_unique<CholmodBackend>(options_);
  chol->set_unknown_names(namer_);
  chol->analyze(*a, coords);
  std::vector<GridCoord>().swap(coords);
  const double need = chol->analyzed_factor_nonzeros() * kFallbackBytesPerNonzero;
  const double have = available_memory_bytes();
  if (need > have)
    throw NumericalError(why + "; no CHOLMOD fallback: its factor would need about " + gib(need) +
                         " and " + gib(have) + " is available");
  chol->factorize(*a);
  fallback_ = std::move(chol);
  stats_pcg_.fallback = why;
}

void PcgBackend::solve_grid(int64_t k, const RhsFn& rhs, const UseFn& use) const {
  XBAR_EXPECTS(lines_ && (a_ || slot_.empty()), "PcgBackend: call factorize() or set_stencil() before solving");
  const int64_t mn = lines_->layer_size();
  auto direct = [&](const std::vector<int64_t>& which) {  // through the CHOLMOD fallback
    const std::vector<int64_t> sl = slot_.empty() ? lines_->slots() : slot_;
    Eigen::VectorXd grid(2 * mn);
    for (size_t f0 = 0; f0 < which.size(); f0 += 64) {
      const size_t nf = std::min<size_t>(64, which.size() - f0);
      Eigen::MatrixXd bf(int64_t(sl.size()), int64_t(nf));
      for (size_t f = 0; f < nf; ++f) {
        rhs(which[f0 + f], grid.data());
        for (size_t u = 0; u < sl.size(); ++u) bf(int64_t(u), int64_t(f)) = grid(sl[u]);
      }
      const Eigen::MatrixXd xf = fallback_->solve(bf);
      for (size_t f = 0; f < nf; ++f) {
        grid.setZero();
        for (size_t u = 0; u < sl.size(); ++u) grid(sl[u]) = xf(int64_t(u), int64_t(f));
        use(which[f0 + f], grid.data());
      }
    }
  };
  if (fallback_) {
    std::vector<int64_t> all{};
    all.resize(size_t(k));
    for (int64_t c = 0; c < k; ++c) all[size_t(c)] = c;
    direct(all);
    return;
  }
  std::vector<RhsResult> res(static_cast<size_t>(k));
  // Blocks of `lanes` right-hand sides share every sweep through the operator (the line
  // factors and stencil are read once per block); several blocks run one per thread, each
  // running its sweeps alone (the nested parallel loops get one thread); a single block uses
  // both cores in every sweep.
  const int max_threads = pool_->threads();
  int lanes = 1;
  for (int l : {4, 2})  // 8 lanes measured no faster than 4 (bench/README.md)
    if (k >= int64_t(l) * std::min<int64_t>(max_threads, (k + l - 1) / l) &&
        std::min<int64_t>(max_threads, (k + l - 1) / l) * Workspace::bytes(mn, l) <= kBatchWorkspaceBytes) {
      lanes = l;
      break;
    }
  const int64_t blocks = (k + lanes - 1) / lanes;
  const int64_t fit = std::max<int64_t>(1, int64_t(kBatchWorkspaceBytes / Workspace::bytes(mn, lanes)));
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>({blocks, max_threads, fit})));
  std::vector<Workspace> ws;
  ws.reserve(size_t(threads));
  for (int t = 0; t < threads; ++t) ws.emplace_back(mn, lanes);
  auto one_block = [&](int64_t blk, Workspace& w) {
    const int64_t c0 = blk * lanes, used = std::min<int64_t>(lanes, k - c0);
    RhsResult r[4];
    switch (lanes) {
      case 4: solve_block<4>(c0, used, rhs, w, r); break;
      case 2: solve_block<2>(c0, used, rhs, w, r); break;
      default: solve_block<1>(c0, used, rhs, w, r); break;
    }
    for (int64_t c = 0; c < used; ++c) {
      res[size_t(c0 + c)] = r[c];
      if (!r[c].converged) continue;  // the others go to the fallback
      if (lanes == 1) {
        use(c0, w.x.data());
      } else {
        for (int64_t q = 0; q < 2 * mn; ++q) w.one(q) = w.x(q * lanes + c);
        use(c0 + c, w.one.data());
      }
    }
  };
  if (threads <= 1) {
    for (int64_t blk = 0; blk < blocks; ++blk) one_block(blk, ws[0]);
  } else {  // blocks handed out one at a time; the sweeps inside run on their thread alone
    std::atomic<int64_t> next{0};
    pool_->run(threads, [&](int t, int) {
      for (int64_t blk = next++; blk < blocks; blk = next++) one_block(blk, ws[size_t(t)]);
    });
  }
  std::vector<Workspace>().swap(ws);
  std::vector<int64_t> failed;
  const RhsResult* worst = nullptr;
  for (int64_t c = 0; c < k; ++c) {
    const RhsResult& r = res[size_t(c)];
    ++stats_pcg_.solves;
    stats_pcg_.iterations += r.iterations;
    stats_pcg_.max_iterations = std::max<int64_t>(stats_pcg_.max_iterations, r.iterations);
    stats_pcg_.max_residual = std::max(stats_pcg_.max_residual, r.residual);
    stats_pcg_.max_estimate = std::max(stats_pcg_.max_estimate, r.estimate);
    if (!r.converged) {
      failed.push_back(c);
      if (!worst || r.estimate > worst->estimate) worst = &r;
    }
  }
  if (failed.empty()) return;
  const std::string why =
      "pcg did not converge for " + std::to_string(failed.size()) + " of " + std::to_string(k) +
      " right-hand side(s)" +
      (worst->iterations >= options_.pcg.max_iterations
           ? " within " + std::to_string(options_.pcg.max_iterations) + " iterations (key pcg-max-iterations)"
           : " (breakdown after " + std::to_string(worst->iterations) + " iterations: the matrix is not positive definite)") +
      ": relative residual " + format_number(worst->residual) + ", last step changed the " +
      watch_what_ + " by " + format_number(worst->estimate) + " relative (key tol = " +
      format_number(options_.pcg.tol) + ")";
  start_fallback(why);
  direct(failed);
}

Eigen::MatrixXd PcgBackend::solve(const Eigen::MatrixXd& b) const {
  XBAR_EXPECTS(a_, "PcgBackend: call factorize() before solve()");
  if (fallback_) return fallback_->solve(b);
  const int64_t n = b.rows(), mn = lines_->layer_size();
  XBAR_EXPECTS(n == int64_t(slot_.size()), "PcgBackend::solve: b has the wrong number of rows");
  Eigen::MatrixXd x(n, b.cols());
  solve_grid(
      b.cols(),
      [&](int64_t c, double* g) {
        std::fill(g, g + 2 * mn, 0.0);
        for (int64_t u = 0; u < n; ++u) g[slot_[size_t(u)]] = b(u, c);
      },
      [&](int64_t c, const double* g) {
        for (int64_t u = 0; u < n; ++u) x(u, c) = g[slot_[size_t(u)]];
      });
  return x;
}

void add_pcg_stats(const PcgBackend& pcg, SolveSummary& sm) {
  const PcgStats& st = pcg.pcg_stats();
  sm.cg_iterations = st.iterations;
  sm.cg_max_iterations = st.max_iterations;
  sm.cg_residual = st.max_residual;
  sm.cg_accuracy_estimate = st.max_estimate;
  sm.cg_coarse_unknowns = st.coarse_unknowns;
  if (!st.fallback.empty() && sm.backend_used != "cholmod") {
    sm.backend_used = "cholmod";
    sm.ordering_used = pcg.stats().ordering_used;
    sm.factor_nonzeros = pcg.stats().nnz_factor;
    sm.factorize_s += pcg.stats().factorize_s;
    sm.message += "; " + st.fallback + ": fell back to cholmod";
  }
}

}  // namespace xbar::solvers
