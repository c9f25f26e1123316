#include "solvers/shifted_factorizations.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "solvers/cholmod_backend.h"
#include "solvers/pcg_backend.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

ShiftedFactorizations::ShiftedFactorizations(const SparseMatrix& a, const Eigen::VectorXd& d,
                                             const std::vector<GridCoord>& coords, LinearBackendKind kind,
                                             const LinearBackendOptions& options, size_t max_cached,
                                             std::function<std::string(int64_t)> unknown_names)
    : a_(a), d_(d), coords_(coords), kind_(kind), options_(options),
      max_cached_(std::max<size_t>(1, max_cached)), namer_(std::move(unknown_names)) {
  XBAR_EXPECTS(a.rows() == a.cols() && d.size() == a.rows(),
               "ShiftedFactorizations: A must be square and D must have one entry per unknown");
  options_.validate();
  d_zero_ = d.size() == 0 || d.cwiseAbs().maxCoeff() == 0;
  max_d_ = d.size() ? d.cwiseAbs().maxCoeff() : 0.0;
  m_ = a;
  diag_slot_.assign(size_t(a.rows()), -1);
  for (int64_t c = 0; c < a.outerSize(); ++c)
    for (int64_t k = a.outerIndexPtr()[c]; k < a.outerIndexPtr()[c + 1]; ++k)
      if (a.innerIndexPtr()[k] == c) diag_slot_[size_t(c)] = k;
  for (int64_t c = 0; c < a.rows(); ++c)
    XBAR_EXPECTS(diag_slot_[size_t(c)] >= 0 || d(c) == 0,
                 "ShiftedFactorizations: a capacitance on an unknown without a diagonal entry");
  Eigen::VectorXd row_sums = Eigen::VectorXd::Zero(a.rows());
  for (int64_t c = 0; c < a.outerSize(); ++c)
    for (SparseMatrix::InnerIterator it(a, c); it; ++it) row_sums(it.row()) += std::abs(it.value());
  norm_a_ = row_sums.size() ? row_sums.maxCoeff() : 0.0;
  if (kind_ == LinearBackendKind::kCholmod && a.rows() > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    analysis_ = std::make_unique<CholmodBackend>(options_);
    if (namer_) analysis_->set_unknown_names(namer_);
    analysis_->analyze(a, coords_);
    analyze_s_ = seconds_since(t0);
    ordering_ = analysis_->stats().ordering_used;
  }
}

ShiftedFactorizations::~ShiftedFactorizations() = default;

LinearBackend& ShiftedFactorizations::factorization(double sigma) {
  if (d_zero_) sigma = 0;  // every shift is A itself
  for (auto it = cache_.begin(); it != cache_.end(); ++it)
    if (it->sigma == sigma) {
      cache_.splice(cache_.begin(), cache_, it);
      return *cache_.front().backend;
    }
  double* v = m_.valuePtr();
  std::copy(a_.valuePtr(), a_.valuePtr() + a_.nonZeros(), v);
  if (sigma != 0)
    for (int64_t c = 0; c < a_.rows(); ++c)
      if (d_(c) != 0) v[diag_slot_[size_t(c)]] += sigma * d_(c);
  Entry e;
  e.sigma = sigma;
  const SparseMatrix* m = &m_;
  if (kind_ == LinearBackendKind::kPcg) {  // PCG keeps using the matrix: each entry owns one
    e.matrix = std::make_unique<SparseMatrix>(m_);
    m = e.matrix.get();
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (kind_ == LinearBackendKind::kCholmod) {
    e.backend = analysis_->clone_analysis();
  } else {
    e.backend = make_linear_backend(kind_, options_);
    if (namer_) e.backend->set_unknown_names(namer_);
    e.backend->analyze(*m, coords_);
    analyze_s_ += seconds_since(t0);
    ordering_ = e.backend->stats().ordering_used;
  }
  const auto t1 = std::chrono::steady_clock::now();
  e.backend->factorize(*m);
  factorize_s_ += seconds_since(t1);
  // A clone's own statistics lack the analysis' prediction; the factor has exactly that size.
  nnz_factor_ = kind_ == LinearBackendKind::kCholmod ? analysis_->analyzed_factor_nonzeros()
                                                     : e.backend->stats().nnz_factor;
  ++factorizations_;
  if (cache_.size() >= max_cached_) cache_.pop_back();
  cache_.push_front(std::move(e));
  return *cache_.front().backend;
}

void ShiftedFactorizations::check(double sigma, const Eigen::MatrixXd& x, const Eigen::MatrixXd& b) {
  if (d_zero_) sigma = 0;
  const double norm_m = norm_a_ + sigma * max_d_;
  auto name = [&](Eigen::Index k) { return namer_ ? namer_(k) : "unknown " + std::to_string(k); };
  Eigen::VectorXd r(x.rows());
  for (Eigen::Index k = 0; k < x.cols(); ++k) {
    if (!x.col(k).allFinite()) {
      Eigen::Index bad = 0;
      while (std::isfinite(x(bad, k))) ++bad;
      throw NumericalError(backend_name() + " transient solve produced a non-finite value at " +
                           name(bad) + " (overflow: capacitances, steps or conductances out of "
                           "the range of double precision)");
    }
    if (kind_ == LinearBackendKind::kPcg) continue;  // CG stops at its own tolerance
    // A x: where A is symmetric, as A^T x, a gather (as CircuitSolver's check does); written
    // out because Eigen runs that product as an OpenMP loop, whose spinning worker costs more
    // than it saves at every step of a transient on a busy machine (measured: 80% of a 64^2 run).
    if (kind_ != LinearBackendKind::kKlu) {
      const int64_t* outer = a_.outerIndexPtr();
      const int64_t* inner = a_.innerIndexPtr();
      const double* val = a_.valuePtr();
      const double* xk = x.col(k).data();
      for (int64_t c = 0; c < a_.outerSize(); ++c) {
        double sum = 0;
        for (int64_t q = outer[c]; q < outer[c + 1]; ++q) sum += val[q] * xk[inner[q]];
        r(c) = sum;
      }
    } else {
      r.noalias() = a_ * x.col(k);
    }
    if (sigma != 0) r += sigma * d_.cwiseProduct(x.col(k));
    r -= b.col(k);
    const double denom = norm_m * x.col(k).lpNorm<Eigen::Infinity>() + b.col(k).lpNorm<Eigen::Infinity>();
    const double berr = denom > 0 ? r.lpNorm<Eigen::Infinity>() / denom : 0.0;
    max_berr_ = std::max(max_berr_, berr);
    if (!(berr <= kMaxBackwardError)) {
      Eigen::Index worst = 0;
      r.cwiseAbs().maxCoeff(&worst);
      throw NumericalError(backend_name() + " transient solve: backward error " + format_number(berr) +
                           " exceeds " + format_number(kMaxBackwardError) + ", largest residual at " +
                           name(worst) + " (the system is too ill-conditioned for a trustworthy answer)");
    }
  }
}

Eigen::MatrixXd ShiftedFactorizations::solve(double sigma, const Eigen::MatrixXd& b) {
  XBAR_EXPECTS(std::isfinite(sigma) && sigma >= 0, "ShiftedFactorizations: sigma must be finite and >= 0");
  XBAR_EXPECTS(b.rows() == a_.rows(), "ShiftedFactorizations: right-hand side of the wrong size");
  if (a_.rows() == 0) return Eigen::MatrixXd(0, b.cols());
  LinearBackend& f = factorization(sigma);
  const auto t0 = std::chrono::steady_clock::now();
  const auto* pcg = kind_ == LinearBackendKind::kPcg ? static_cast<const PcgBackend*>(&f) : nullptr;
  const int64_t iterations_before = pcg ? pcg->pcg_stats().iterations : 0;
  Eigen::MatrixXd x = f.solve(b);
  if (pcg) cg_iterations_ += pcg->pcg_stats().iterations - iterations_before;
  check(sigma, x, b);
  solve_s_ += seconds_since(t0);
  solves_ += b.cols();
  return x;
}

}  // namespace xbar::solvers
