#include "solvers/pcg_backend.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <new>

#include "devices/contract.h"
#include "devices/format.h"
#include "devices/input_error.h"
#include "solvers/huge_pages.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

namespace {

// Vector operations run over fixed chunks of this many entries, partial sums added in chunk
// order: the result does not depend on how many threads ran them.
constexpr int64_t kChunk = 1 << 14;
// Vectors shorter than this are handled by one thread (see line_system.cc: a barrier on a
// loaded host can cost more than the whole operation).
constexpr int64_t kParallelMin = int64_t(1) << 17;
// A watched quantity smaller than this fraction of the largest is held to an absolute
// accuracy (tol times this fraction of the largest) rather than a relative one: a column
// current that crosses zero cannot be computed to a relative accuracy.
constexpr double kWatchFloor = 1e-3;
// Stopping test (see solve_one()): steps that shrink at least this much each time sum to at most
// the current one. The two-level preconditioner contracts 100-200-fold per step (bench/README.md).
constexpr double kMaxContraction = 0.5;
// CHOLMOD's supernodal factor occupies about this many bytes per predicted nonzero of L
// (8 for the value, the rest row indices, supernode padding and workspace); measured peak RSS
// at 1024^2 and 2048^2 was 23-26 bytes per nonzero including the assembled system.
constexpr double kFallbackBytesPerNonzero = 16;

template <class F>
void for_chunks(int64_t n, F&& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) f(c * kChunk, std::min(kChunk, n - c * kChunk));
}

template <class F>
double sum_chunks(int64_t n, F&& f) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(size_t(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) part[size_t(c)] = f(c * kChunk, std::min(kChunk, n - c * kChunk));
  double s = 0;
  for (double p : part) s += p;
  return s;
}

// MemAvailable from /proc/meminfo in bytes; infinity when it cannot be read (not Linux).
double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024.0;
  return std::numeric_limits<double>::infinity();
}

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

// Per right-hand side, all in grid slots: b and x (row layer, then column layer), CG's
// residual, direction and S p (column layer), one scratch layer holding T_r^-1 W p and then the
// preconditioned residual, and the coarse grid's buffers. b is needed only before and after
// the iterations, so during them its two halves serve the multiplicative cycle as scratch (u,
// t2) and it is filled again at the end: two layers less (268 MB at 4096^2).
struct PcgBackend::Workspace {
  Eigen::VectorXd b, x, r, p, q, tz;
  CoarseSpace::Scratch coarse;
  explicit Workspace(int64_t mn) {
    internal::resize_huge(b, 2 * mn);
    internal::resize_huge(x, 2 * mn);
    for (Eigen::VectorXd* v : {&r, &p, &q, &tz}) internal::resize_huge(*v, mn);
  }
  double* u() { return b.data(); }
  double* t2() { return b.data() + r.size(); }
  double* xr() { return x.data(); }
  double* xc() { return x.data() + r.size(); }
  const double* xr() const { return x.data(); }
  const double* xc() const { return x.data() + r.size(); }
};

PcgBackend::PcgBackend(const LinearBackendOptions& options) : options_(options) {
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

double PcgBackend::step_change(const Workspace& ws, double alpha) const {
  const int64_t mn = lines_->layer_size();
  if (watch_ptr_.empty()) {  // the whole solution, 2-norm; the row layer moved by -alpha t
    const double step2 = sum_chunks(mn, [&](int64_t o, int64_t n) {
      return ws.p.segment(o, n).squaredNorm() + ws.tz.segment(o, n).squaredNorm();
    });
    const double x2 = sum_chunks(2 * mn, [&](int64_t o, int64_t n) { return ws.x.segment(o, n).squaredNorm(); });
    return x2 > 0 ? std::abs(alpha) * std::sqrt(step2 / x2) : (step2 > 0 ? HUGE_VAL : 0.0);
  }
  const size_t nq = watch_ptr_.size() - 1;
  std::vector<double> value(nq), change(nq);
  double largest = 0;
  for (size_t q = 0; q < nq; ++q) {
    double v = 0, d = 0;
    for (int64_t e = watch_ptr_[q]; e < watch_ptr_[q + 1]; ++e) {
      const int64_t s = watch_slot_[size_t(e)];
      const double c = watch_val_[size_t(e)];
      v += c * ws.x(s);
      d += s < mn ? -c * alpha * ws.tz(s) : c * alpha * ws.p(s - mn);
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
  return worst;
}

double PcgBackend::true_residual(const Workspace& ws) const {
  // ||b - A x||_2 / ||b||_2 from the stencil, row by row (fixed slots: b = x = 0 there).
  const LineSystem::Stencil& s = lines_->stencil();
  const int64_t m = lines_->rows(), n = lines_->cols(), mn = m * n;
  const double* xr = ws.xr();
  const double* xc = ws.xc();
  const double* br = ws.b.data();
  const double* bc = ws.b.data() + mn;
  const int64_t chunks = (m + 63) / 64;
  std::vector<double> part(size_t(chunks), 0.0), bpart(size_t(chunks), 0.0);
#pragma omp parallel for schedule(static) if (mn >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    double acc = 0, bacc = 0;
    for (int64_t i = c * 64; i < std::min(m, c * 64 + 64); ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t q = i * n + j;
        double rr = br[q] - s.d_r(q) * xr[q] - s.w(q) * xc[q];
        if (j > 0) rr -= s.e_r(q - 1) * xr[q - 1];
        if (j + 1 < n) rr -= s.e_r(q) * xr[q + 1];
        double rc = bc[q] - s.d_c(q) * xc[q] - s.w(q) * xr[q];
        if (i > 0) rc -= s.e_c(q - n) * xc[q - n];
        if (i + 1 < m) rc -= s.e_c(q) * xc[q + n];
        acc += rr * rr + rc * rc;
        bacc += br[q] * br[q] + bc[q] * bc[q];
      }
    part[size_t(c)] = acc;
    bpart[size_t(c)] = bacc;
  }
  double r2 = 0, b2 = 0;
  for (int64_t c = 0; c < chunks; ++c) r2 += part[size_t(c)], b2 += bpart[size_t(c)];
  return b2 > 0 ? std::sqrt(r2 / b2) : 0.0;
}

PcgBackend::RhsResult PcgBackend::solve_one(int64_t c, const RhsFn& rhs, Workspace& ws) const {
  const LineSystem& ls = *lines_;
  const int64_t mn = ls.layer_size();
  const Eigen::VectorXd& w = ls.coupling();
  RhsResult res;
  const double* br = ws.b.data();
  const double* bc = ws.b.data() + mn;
  double* xr = ws.xr();
  double* xc = ws.xc();
  const double b_norm2 = sum_chunks(2 * mn, [&](int64_t o, int64_t len) { return ws.b.segment(o, len).squaredNorm(); });
  if (b_norm2 == 0) {
    ws.x.setZero();
    res.converged = true;
    return res;
  }
  auto precondition = [&]() {  // tz = B r (see the file comment)
    ls.solve_cols(ws.r.data(), ws.tz.data());                     // z = M r
    if (!coarse_ || coarse_->unknowns() == 0) return;
    if (!options_.pcg.coarse.multiplicative) {
      coarse_->add_correction(ws.r.data(), ws.tz.data(), ws.coarse);   // z += Q r
      return;
    }
    double* u = ws.u();
    double* t2 = ws.t2();
    ls.solve_rows(ws.tz.data(), ws.q.data(), w.data());
    ls.residual_cols(ws.r.data(), ws.tz.data(), ws.q.data(), u);  // r1 = r - S z
    coarse_->solve(u, ws.coarse);
    coarse_->prolong(ws.coarse, t2, 0.0);                         // c = Q r1
    ls.solve_rows(t2, ws.q.data(), w.data());
    ls.residual_cols(u, t2, ws.q.data(), u, ws.tz.data());        // r2 = r1 - S c, z += c
    ls.solve_cols(u, t2, ws.tz.data());                           // z += M r2
  };
  // x_c = 0, x_r = T_r^-1 b_r; the Schur residual r = b_c - W x_r.
  ls.solve_rows(br, xr);
  for_chunks(mn, [&](int64_t o, int64_t len) {
    for (int64_t s = o; s < o + len; ++s) {
      ws.r(s) = bc[s] - w(s) * xr[s];
      xc[s] = 0;
    }
  });
  precondition();
  ws.p = ws.tz;
  double rz = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.r.segment(o, len).dot(ws.tz.segment(o, len)); });
  double previous = HUGE_VAL;
  for (int it = 1; it <= options_.pcg.max_iterations && rz != 0; ++it) {
    res.iterations = it;
    // q = S p = T_c p - W T_r^-1 W p, with t = T_r^-1 W p kept in tz.
    ls.solve_rows(ws.p.data(), ws.tz.data(), w.data());
    ls.mul_cols(ws.p.data(), ws.q.data(), w.data(), ws.tz.data());
    const double pq = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.p.segment(o, len).dot(ws.q.segment(o, len)); });
    if (!(pq > 0) || !std::isfinite(pq)) break;  // S not positive definite (or overflow)
    const double alpha = rz / pq;
    for_chunks(mn, [&](int64_t o, int64_t len) {
      for (int64_t s = o; s < o + len; ++s) {
        xc[s] += alpha * ws.p(s);
        xr[s] -= alpha * ws.tz(s);
        ws.r(s) -= alpha * ws.q(s);
      }
    });
    res.estimate = step_change(ws, alpha);
    // Converged when this step changed the watched quantities by at most tol and the steps
    // contract at least kMaxContraction-fold (or the previous step was below tol too): the
    // steps still to come then add up to at most this one.
    if (res.estimate <= options_.pcg.tol &&
        (previous <= options_.pcg.tol || res.estimate <= kMaxContraction * previous)) {
      res.converged = true;
      break;
    }
    previous = res.estimate;
    precondition();
    const double rz_next = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.r.segment(o, len).dot(ws.tz.segment(o, len)); });
    const double beta = rz_next / rz;
    rz = rz_next;
    for_chunks(mn, [&](int64_t o, int64_t len) {
      ws.p.segment(o, len) = ws.tz.segment(o, len) + beta * ws.p.segment(o, len);
    });
  }
  if (rz == 0) res.converged = true;  // exact solution reached
  rhs(c, ws.b.data());  // b again (its halves were scratch)
  // The row layer exactly from the column layer (no drift from the recurrence).
  for_chunks(mn, [&](int64_t o, int64_t len) {
    for (int64_t s = o; s < o + len; ++s) xr[s] = br[s] - w(s) * xc[s];
  });
  ls.solve_rows(xr, xr);
  res.residual = true_residual(ws);
  return res;
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
  // Several right-hand sides: one CG per thread, each running its vector operations alone
  // (the nested parallel loops get one thread); a single one: every loop over both cores.
  const int threads = int(std::max<int64_t>(1, std::min<int64_t>(k, omp_get_max_threads())));
  std::vector<Workspace> ws;
  ws.reserve(size_t(threads));
  for (int t = 0; t < threads; ++t) ws.emplace_back(mn);
  auto one = [&](int64_t c, Workspace& w) {
    rhs(c, w.b.data());
    res[size_t(c)] = solve_one(c, rhs, w);
    if (res[size_t(c)].converged) use(c, w.x.data());  // the others go to the fallback
  };
  if (threads <= 1) {
    for (int64_t c = 0; c < k; ++c) one(c, ws[0]);
  } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int64_t c = 0; c < k; ++c) one(c, ws[size_t(omp_get_thread_num())]);
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

}  // namespace xbar::solvers
