#include "solvers/linear_backend.h"

#include <cmath>
#include <optional>

#include "support/format.h"
#include "support/input_error.h"
#include "solvers/cholmod_backend.h"
#include "solvers/eigen_backend.h"
#include "solvers/klu_backend.h"
#include "solvers/library_threads.h"
#include "solvers/pcg_backend.h"

namespace xbar::solvers {

std::string to_string(LinearBackendKind k) {
  switch (k) {
    case LinearBackendKind::kCholmod: return "cholmod";
    case LinearBackendKind::kKlu: return "klu";
    case LinearBackendKind::kPcg: return "pcg";
    case LinearBackendKind::kEigen: return "eigen";
  }
  return "?";
}

std::string to_string(Ordering o) {
  switch (o) {
    case Ordering::kAuto: return "auto";
    case Ordering::kGeometric: return "geometric";
    case Ordering::kAmd: return "amd";
    case Ordering::kMetis: return "metis";
    case Ordering::kNesdis: return "nesdis";
  }
  return "?";
}

Ordering parse_ordering(const std::string& s) {
  for (Ordering o : {Ordering::kAuto, Ordering::kGeometric, Ordering::kAmd, Ordering::kMetis,
                     Ordering::kNesdis})
    if (s == to_string(o)) return o;
  throw InputError("key ordering = '" + s + "': expected auto, geometric, amd, metis or nesdis");
}

void CoarseOptions::validate() const {
  if (!(spacing > 0 && spacing <= 1e3))
    throw InputError("key coarse-spacing = " + format_number(spacing) + ": must be in (0, 1000] "
                     "(coarse grid spacing in units of the line coupling length 1/sqrt(g R))");
  if (max_unknowns < 8)
    throw InputError("key coarse-max-unknowns = " + std::to_string(max_unknowns) + ": must be >= 8");
}

void PcgOptions::validate() const {
  coarse.validate();
  if (!(tol > 0 && tol <= 1e-2))
    throw InputError("key tol = " + format_number(tol) + ": must be in (0, 0.01] (relative accuracy "
                     "of the column currents that conjugate gradients stop at)");
  if (max_iterations < 1)
    throw InputError("key pcg-max-iterations = " + std::to_string(max_iterations) + ": must be >= 1");
}

void LinearBackendOptions::validate() const {
  pcg.validate();
  if (rhs_block < 1 || rhs_block > 4096)
    throw InputError("key rhs-block = " + std::to_string(rhs_block) + ": must be in [1, 4096]");
}

std::unique_ptr<LinearBackend> make_linear_backend(LinearBackendKind kind,
                                                   const LinearBackendOptions& options) {
  options.validate();
  if (kind == LinearBackendKind::kCholmod) return std::make_unique<CholmodBackend>(options);
  if (kind == LinearBackendKind::kPcg) return std::make_unique<PcgBackend>(options);
  if (kind == LinearBackendKind::kEigen) return std::make_unique<EigenBackend>(options);
  return std::make_unique<KluBackend>(options);
}

double infinity_norm(const SparseMatrix& a) {
  Eigen::VectorXd row_sums = Eigen::VectorXd::Zero(a.rows());
  for (int64_t c = 0; c < a.outerSize(); ++c)
    for (SparseMatrix::InnerIterator it(a, c); it; ++it) row_sums(it.row()) += std::abs(it.value());
  return row_sums.size() ? row_sums.maxCoeff() : 0.0;
}

void check_solution(const SparseMatrix& a, double norm_a, bool symmetric, bool transposed, const Eigen::MatrixXd& x,
                    const Eigen::MatrixXd& b, bool enforce, const std::string& solver,
                    const std::function<std::string(int64_t)>& unknown, double* max_error) {
  // One column at a time (Eigen's sparse x dense product walks the dense operand by rows, a
  // cache miss per right-hand side), and as A^T x where A is symmetric: a row-wise dot product
  // instead of a scatter whose every add waits on the previous store (15% of a 128 x 128
  // calibrate went to this check before).
  const bool gather = transposed || symmetric;
  // Eigen splits each product over OpenMP threads from 20,000 nonzeros; a small system's few
  // products stay on this thread (library_threads.h).
  std::optional<SerialOpenMp> serial;
  if (double(a.nonZeros()) * double(x.cols()) < kParallelProductNonzeros) serial.emplace();
  Eigen::VectorXd r(x.rows());
  for (Eigen::Index k = 0; k < x.cols(); ++k) {
    if (!x.col(k).allFinite()) {
      Eigen::Index bad = 0;
      while (std::isfinite(x(bad, k))) ++bad;
      throw NumericalError(solver + " solve produced a non-finite value at " + unknown(bad) +
                           (x.cols() > 1 ? " for input " + std::to_string(k) : "") +
                           " (overflow: sources or conductances too large for double precision, or an "
                           "ill-conditioned system)");
    }
    if (gather) r.noalias() = a.transpose() * x.col(k);
    else r.noalias() = a * x.col(k);
    r -= b.col(k);
    const double denom = norm_a * x.col(k).lpNorm<Eigen::Infinity>() + b.col(k).lpNorm<Eigen::Infinity>();
    const double berr = denom > 0 ? r.lpNorm<Eigen::Infinity>() / denom : 0.0;
    *max_error = std::max(*max_error, berr);
    if (!(berr <= kMaxBackwardError) && enforce) {
      Eigen::Index worst = 0;
      r.cwiseAbs().maxCoeff(&worst);
      throw NumericalError(solver + " solve: backward error " + format_number(berr) + " exceeds " +
                           format_number(kMaxBackwardError) + ", largest residual at " + unknown(worst) +
                           " (the system is too ill-conditioned for a trustworthy answer)");
    }
  }
}

}  // namespace xbar::solvers
