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

// Per right-hand side: the two layers of x, CG's residual, direction and S p (all on the
// column layer), and one scratch layer holding T_r^-1 W p and then the preconditioned residual.
struct PcgBackend::Workspace {
  Eigen::VectorXd xr, xc, r, p, q, tz;
  explicit Workspace(int64_t mn) : xr(mn), xc(mn), r(mn), p(mn), q(mn), tz(mn) {}
};

PcgBackend::PcgBackend(const LinearBackendOptions& options) : options_(options) {
  options_.validate();
}

PcgBackend::~PcgBackend() = default;

void PcgBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  const auto t0 = std::chrono::steady_clock::now();
  fallback_.reset();
  a_ = nullptr;
  lines_ = std::make_unique<LineSystem>(a, coords);
  stats_ = {};
  stats_.ordering_used = "lines";
  stats_.analyze_s = seconds_since(t0);
  stats_pcg_ = {};
  status_ = BackendStatus::kSuccess;
  message_.clear();
}

void PcgBackend::factorize(const SparseMatrix& a) {
  XBAR_EXPECTS(lines_, "PcgBackend: call analyze() before factorize()");
  const auto t0 = std::chrono::steady_clock::now();
  a_ = &a;
  if (fallback_) {
    fallback_->factorize(a);
    stats_ = fallback_->stats();
    return;
  }
  const int64_t bad = lines_->set_values(a);
  stats_.factorize_s = seconds_since(t0);
  if (bad >= 0) {
    status_ = BackendStatus::kNumericalIssue;
    message_ = "pcg factorize: line pivot not positive at " + unknown(bad) +
               ": the matrix is not positive definite";
    throw NumericalError(message_);
  }
  status_ = BackendStatus::kSuccess;
}

void PcgBackend::set_watch(const SparseMatrix& w, const std::string& what) {
  XBAR_EXPECTS(lines_, "PcgBackend: call analyze() before set_watch()");
  watch_ptr_.clear();
  watch_slot_.clear();
  watch_val_.clear();
  watch_what_ = w.rows() == 0 ? "solution" : what;
  if (w.rows() == 0) return;
  XBAR_EXPECTS(w.cols() == int64_t(lines_->slots().size()), "PcgBackend::set_watch: w must have one column per unknown");
  const Eigen::SparseMatrix<double, Eigen::RowMajor, int64_t> wr(w);
  watch_ptr_.push_back(0);
  for (int64_t q = 0; q < wr.rows(); ++q) {
    for (decltype(wr)::InnerIterator it(wr, q); it; ++it) {
      watch_slot_.push_back(lines_->slots()[size_t(it.col())]);
      watch_val_.push_back(it.value());
    }
    watch_ptr_.push_back(int64_t(watch_slot_.size()));
  }
}

double PcgBackend::step_change(const Workspace& ws, double alpha) const {
  const int64_t mn = lines_->layer_size();
  if (watch_ptr_.empty()) {  // the whole solution, 2-norm; the row layer moved by -alpha t
    const double step2 = sum_chunks(mn, [&](int64_t o, int64_t n) {
      return ws.p.segment(o, n).squaredNorm() + ws.tz.segment(o, n).squaredNorm();
    });
    const double x2 = sum_chunks(mn, [&](int64_t o, int64_t n) {
      return ws.xc.segment(o, n).squaredNorm() + ws.xr.segment(o, n).squaredNorm();
    });
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
      if (s < mn) {
        v += c * ws.xr(s);
        d -= c * alpha * ws.tz(s);
      } else {
        v += c * ws.xc(s - mn);
        d += c * alpha * ws.p(s - mn);
      }
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

PcgBackend::RhsResult PcgBackend::solve_one(const double* b, double* x, Workspace& ws) const {
  const LineSystem& ls = *lines_;
  const int64_t mn = ls.layer_size(), n = int64_t(ls.slots().size());
  const std::vector<int64_t>& slot = ls.slots();
  const Eigen::VectorXd& w = ls.coupling();
  RhsResult res;
  auto scatter_b = [&](Eigen::VectorXd& rows, Eigen::VectorXd& cols) {
    rows.setZero();
    cols.setZero();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t k = 0; k < n; ++k) (slot[size_t(k)] < mn ? rows(slot[size_t(k)]) : cols(slot[size_t(k)] - mn)) = b[k];
  };
  const double b_norm = std::sqrt(sum_chunks(n, [&](int64_t o, int64_t len) {
    return Eigen::Map<const Eigen::VectorXd>(b + o, len).squaredNorm();
  }));
  if (b_norm == 0) {
    std::fill(x, x + n, 0.0);
    res.converged = true;
    return res;
  }
  // x_c = 0, x_r = T_r^-1 b_r; the Schur residual r = b_c - W x_r.
  scatter_b(ws.xr, ws.r);
  ls.solve_rows(ws.xr.data(), ws.xr.data());
  for_chunks(mn, [&](int64_t o, int64_t len) {
    ws.r.segment(o, len) -= w.segment(o, len).cwiseProduct(ws.xr.segment(o, len));
    ws.xc.segment(o, len).setZero();
  });
  ls.solve_cols(ws.r.data(), ws.tz.data());
  ws.p = ws.tz;
  double rz = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.r.segment(o, len).dot(ws.tz.segment(o, len)); });
  bool small_before = false;
  for (int it = 1; it <= options_.pcg.max_iterations && rz != 0; ++it) {
    res.iterations = it;
    // q = S p = T_c p - W T_r^-1 W p, with t = T_r^-1 W p kept in tz.
    ls.solve_rows(ws.p.data(), ws.tz.data(), w.data());
    ls.mul_cols(ws.p.data(), ws.q.data(), w.data(), ws.tz.data());
    const double pq = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.p.segment(o, len).dot(ws.q.segment(o, len)); });
    if (!(pq > 0) || !std::isfinite(pq)) break;  // S not positive definite (or overflow)
    const double alpha = rz / pq;
    for_chunks(mn, [&](int64_t o, int64_t len) {
      ws.xc.segment(o, len) += alpha * ws.p.segment(o, len);
      ws.xr.segment(o, len) -= alpha * ws.tz.segment(o, len);
      ws.r.segment(o, len) -= alpha * ws.q.segment(o, len);
    });
    res.estimate = step_change(ws, alpha);
    const bool small = res.estimate <= options_.pcg.tol;
    if (small && small_before) {
      res.converged = true;
      break;
    }
    small_before = small;
    ls.solve_cols(ws.r.data(), ws.tz.data());
    const double rz_next = sum_chunks(mn, [&](int64_t o, int64_t len) { return ws.r.segment(o, len).dot(ws.tz.segment(o, len)); });
    const double beta = rz_next / rz;
    rz = rz_next;
    for_chunks(mn, [&](int64_t o, int64_t len) {
      ws.p.segment(o, len) = ws.tz.segment(o, len) + beta * ws.p.segment(o, len);
    });
  }
  if (rz == 0) res.converged = true;  // exact solution reached
  // The row layer exactly from the column layer (no drift from the recurrence), then x.
  scatter_b(ws.xr, ws.q);
  for_chunks(mn, [&](int64_t o, int64_t len) {
    ws.xr.segment(o, len) -= w.segment(o, len).cwiseProduct(ws.xc.segment(o, len));
  });
  ls.solve_rows(ws.xr.data(), ws.xr.data());
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t k = 0; k < n; ++k) x[k] = slot[size_t(k)] < mn ? ws.xr(slot[size_t(k)]) : ws.xc(slot[size_t(k)] - mn);
  // True residual b - A x (A symmetric: column k is row k, so the rows are independent).
  const SparseMatrix& a = *a_;
  const double r2 = sum_chunks(n, [&](int64_t o, int64_t len) {
    double s = 0;
    for (int64_t k = o; k < o + len; ++k) {
      double ax = 0;
      for (SparseMatrix::InnerIterator it(a, k); it; ++it) ax += it.value() * x[it.row()];
      s += (b[k] - ax) * (b[k] - ax);
    }
    return s;
  });
  res.residual = std::sqrt(r2) / b_norm;
  return res;
}

void PcgBackend::start_fallback(const std::string& why) const {
  if (!options_.pcg.fallback_to_cholmod) throw NumericalError(why);
  // The fallback's geometric ordering needs the grid coordinates: they are the line slots.
  const int64_t mn = lines_->layer_size();
  std::vector<GridCoord> coords;
  coords.reserve(lines_->slots().size());
  for (int64_t s : lines_->slots()) {
    const int64_t cell = s % mn;
    coords.push_back({int32_t(cell / lines_->cols()), int32_t(cell % lines_->cols()), int32_t(s / mn)});
  }
  auto chol = std::make_unique<CholmodBackend>(options_);
  chol->set_unknown_names(namer_);
  chol->analyze(*a_, coords);
  std::vector<GridCoord>().swap(coords);
  const double need = chol->analyzed_factor_nonzeros() * kFallbackBytesPerNonzero;
  const double have = available_memory_bytes();
  if (need > have)
    throw NumericalError(why + "; no CHOLMOD fallback: its factor would need about " + gib(need) +
                         " and " + gib(have) + " is available");
  chol->factorize(*a_);
  fallback_ = std::move(chol);
  stats_pcg_.fallback = why;
}

Eigen::MatrixXd PcgBackend::solve(const Eigen::MatrixXd& b) const {
  XBAR_EXPECTS(a_, "PcgBackend: call factorize() before solve()");
  if (fallback_) return fallback_->solve(b);
  const int64_t n = b.rows(), k = b.cols(), mn = lines_->layer_size();
  Eigen::MatrixXd x(n, k);
  std::vector<RhsResult> res(static_cast<size_t>(k));
  // Several right-hand sides: one CG per thread, each running its vector operations alone
  // (the nested parallel loops get one thread); a single one: every loop over both cores.
  const int threads = int(std::min<int64_t>(k, omp_get_max_threads()));
  std::vector<Workspace> ws;
  ws.reserve(size_t(std::max(threads, 1)));
  for (int t = 0; t < std::max(threads, 1); ++t) ws.emplace_back(mn);
  if (threads <= 1) {
    for (int64_t c = 0; c < k; ++c) res[size_t(c)] = solve_one(b.col(c).data(), x.col(c).data(), ws[0]);
  } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int64_t c = 0; c < k; ++c)
      res[size_t(c)] = solve_one(b.col(c).data(), x.col(c).data(), ws[size_t(omp_get_thread_num())]);
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
  if (failed.empty()) return x;
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
  Eigen::MatrixXd bf(n, int64_t(failed.size()));
  for (size_t f = 0; f < failed.size(); ++f) bf.col(int64_t(f)) = b.col(failed[f]);
  const Eigen::MatrixXd xf = fallback_->solve(bf);
  for (size_t f = 0; f < failed.size(); ++f) x.col(failed[f]) = xf.col(int64_t(f));
  return x;
}

}  // namespace xbar::solvers
