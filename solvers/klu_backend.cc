#include "solvers/klu_backend.h"

#include <chrono>
#include <vector>

#include "support/contract.h"
#include "support/input_error.h"
#include "solvers/grid_ordering.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

namespace {
// Smallest reciprocal pivot growth (min over columns of max|A| / max|U|, klu_rgrowth) at
// which a refactorization with the previous pivot order is kept. Partial pivoting keeps the
// growth near 1 on these matrices (nodal Jacobians are column diagonally dominant); a growth
// of 1e8 would cost half of double precision, so below that the pivots are chosen afresh.
constexpr double kMinRefactorRgrowth = 1e-8;
// klu_l_* take non-const pointers but do not modify the matrix.
int64_t* ptr(const int64_t* p) { return const_cast<int64_t*>(p); }
double* ptr(const double* p) { return const_cast<double*>(p); }
}  // namespace

KluBackend::KluBackend(const LinearBackendOptions& options) : options_(options) {
  klu_l_defaults(&common_);
}

KluBackend::~KluBackend() {
  if (numeric_) klu_l_free_numeric(&numeric_, &common_);
  if (symbolic_) klu_l_free_symbolic(&symbolic_, &common_);
}

void KluBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  XBAR_EXPECTS(a.isCompressed(), "KluBackend::analyze: matrix must be compressed");
  const auto t0 = std::chrono::steady_clock::now();
  if (numeric_) klu_l_free_numeric(&numeric_, &common_);
  if (symbolic_) klu_l_free_symbolic(&symbolic_, &common_);
  Ordering ord = options_.ordering;
  if (ord == Ordering::kAuto) ord = coords.empty() ? Ordering::kAmd : Ordering::kGeometric;
  if (ord != Ordering::kAmd && ord != Ordering::kGeometric)
    throw InputError("key ordering = " + to_string(options_.ordering) +
                     ": the KLU back end orders with AMD or the geometric nested dissection only "
                     "(use ordering = auto, geometric or amd)");
  if (ord == Ordering::kGeometric && coords.size() != size_t(a.rows()))
    throw InputError("key ordering = geometric: the system is not a plain crossbar grid (named "
                     "nodes, shorts or floating sources); use amd");
  common_.ordering = 0;  // AMD on A + A^T, unless an ordering is given
  // A crossbar grid is connected with a symmetric pattern and a full diagonal: one strongly
  // connected block with a zero-free diagonal, so the block triangular form would find
  // nothing (its analysis took 0.3 ms of 0.35 at 64^2). Other systems keep it: branch rows
  // have zero diagonals.
  common_.btf = ord == Ordering::kGeometric ? 0 : 1;
  n_ = a.rows();
  if (ord == Ordering::kGeometric) {
    // The same symmetric permutation for rows and columns: the pattern is symmetric and the
    // diagonal pivots KLU prefers stay on the diagonal.
    std::vector<int64_t> perm = grid_nested_dissection(coords);
    symbolic_ = klu_l_analyze_given(n_, ptr(a.outerIndexPtr()), ptr(a.innerIndexPtr()),
                                    perm.data(), perm.data(), &common_);
  } else {
    symbolic_ = klu_l_analyze(n_, ptr(a.outerIndexPtr()), ptr(a.innerIndexPtr()), &common_);
  }
  if (!symbolic_) {
    status_ = BackendStatus::kInvalidInput;
    message_ = "KLU analyze failed (status " + std::to_string(common_.status) + ")";
    throw NumericalError(message_);
  }
  stats_ = {};
  stats_.ordering_used = to_string(ord);
  stats_.analyze_s = seconds_since(t0);
  status_ = BackendStatus::kSuccess;
}

void KluBackend::factorize(const SparseMatrix& a) {
  XBAR_EXPECTS(symbolic_, "KluBackend: call analyze() before factorize()");
  const auto t0 = std::chrono::steady_clock::now();
  // A later factorization of the same pattern (a Newton step) first reuses the pivot order of
  // the last full one: klu_refactor skips the pivot search and the memory management, about
  // twice as fast. Its pivots are only accepted while the growth stays modest; otherwise (or
  // if it fails) a full factorization with fresh partial pivoting follows.
  if (numeric_) {
    const bool ok = klu_l_refactor(ptr(a.outerIndexPtr()), ptr(a.innerIndexPtr()),
                                   ptr(a.valuePtr()), symbolic_, numeric_, &common_) &&
                    common_.status == KLU_OK &&
                    klu_l_rgrowth(ptr(a.outerIndexPtr()), ptr(a.innerIndexPtr()),
                                  ptr(a.valuePtr()), symbolic_, numeric_, &common_) &&
                    common_.rgrowth >= kMinRefactorRgrowth;
    if (ok) {
      stats_.factorize_s = seconds_since(t0);
      ++stats_.refactorizations;
      status_ = BackendStatus::kSuccess;
      return;
    }
    klu_l_free_numeric(&numeric_, &common_);
  }
  numeric_ = klu_l_factor(ptr(a.outerIndexPtr()), ptr(a.innerIndexPtr()), ptr(a.valuePtr()),
                          symbolic_, &common_);
  stats_.factorize_s = seconds_since(t0);
  if (!numeric_ || common_.status == KLU_SINGULAR) {
    status_ = BackendStatus::kNumericalIssue;
    message_ = "KLU factorize: matrix is singular at " + unknown(common_.singular_col) +
               " (a floating subcircuit or a loop of voltage sources?)";
    if (numeric_) klu_l_free_numeric(&numeric_, &common_);
    throw NumericalError(message_);
  }
  stats_.nnz_factor = double(numeric_->lnz + numeric_->unz);
  klu_l_flops(symbolic_, numeric_, &common_);
  stats_.flops = common_.flops;
  status_ = BackendStatus::kSuccess;
}

Eigen::MatrixXd KluBackend::solve_impl(const Eigen::MatrixXd& b, bool transposed) const {
  XBAR_EXPECTS(numeric_, "KluBackend: call factorize() before solve()");
  Eigen::MatrixXd x = b;
  const int64_t block = std::max(1, options_.rhs_block);
  for (int64_t c0 = 0; c0 < x.cols(); c0 += block) {
    const int64_t nc = std::min<int64_t>(block, x.cols() - c0);
    double* data = x.data() + c0 * x.rows();
    const int ok = transposed ? klu_l_tsolve(symbolic_, numeric_, n_, nc, data, &common_)
                              : klu_l_solve(symbolic_, numeric_, n_, nc, data, &common_);
    if (!ok) throw NumericalError("KLU solve failed (status " + std::to_string(common_.status) + ")");
  }
  return x;
}

}  // namespace xbar::solvers
