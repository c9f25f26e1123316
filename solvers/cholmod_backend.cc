#include "solvers/cholmod_backend.h"

#include <cassert>
#include <chrono>
#include <type_traits>

#include "devices/input_error.h"
#include "solvers/stopwatch.h"
#include "solvers/grid_ordering.h"

namespace xbar::solvers {

using internal::seconds_since;

static_assert(std::is_same<SuiteSparse_long, int64_t>::value,
              "SparseMatrix indices must be SuiteSparse_long to be viewed without copying");

namespace {


// A cholmod_sparse view (no copy) of the lower triangle of a compressed column-major matrix.
struct LowerView {
  SparseMatrix lower;
  cholmod_sparse view{};
  explicit LowerView(const SparseMatrix& a) : lower(a.triangularView<Eigen::Lower>()) {
    lower.makeCompressed();
    view.nrow = size_t(lower.rows());
    view.ncol = size_t(lower.cols());
    view.nzmax = size_t(lower.nonZeros());
    view.p = lower.outerIndexPtr();
    view.i = lower.innerIndexPtr();
    view.nz = nullptr;
    view.x = lower.valuePtr();
    view.z = nullptr;
    view.stype = -1;  // lower triangle stored, upper implied
    view.itype = CHOLMOD_LONG;
    view.xtype = CHOLMOD_REAL;
    view.dtype = CHOLMOD_DOUBLE;
    view.sorted = 1;
    view.packed = 1;
  }
};

}  // namespace

CholmodBackend::CholmodBackend(const LinearBackendOptions& options) : options_(options) {
  cholmod_l_start(&common_);
  common_.print = 0;  // failures are reported through status(), not printed
  common_.supernodal = CHOLMOD_AUTO;
}

CholmodBackend::~CholmodBackend() {
  if (factor_) cholmod_l_free_factor(&factor_, &common_);
  cholmod_l_finish(&common_);
}

void CholmodBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  const auto t0 = std::chrono::steady_clock::now();
  if (factor_) cholmod_l_free_factor(&factor_, &common_);
  factorized_ = false;
  LowerView av(a);
  Ordering ord = options_.ordering;
  if (ord == Ordering::kAuto) ord = coords.empty() ? Ordering::kAmd : Ordering::kGeometric;
  if (ord == Ordering::kGeometric && coords.size() != size_t(a.rows()))
    throw InputError("key ordering = geometric: the system is not a plain crossbar grid (named "
                     "nodes, shorts or floating sources); use amd, metis or nesdis");
  common_.nmethods = 1;
  common_.postorder = 1;
  std::vector<int64_t> perm;
  switch (ord) {
    case Ordering::kGeometric:
      perm = grid_nested_dissection(coords);
      common_.method[0].ordering = CHOLMOD_GIVEN;
      break;
    case Ordering::kMetis: common_.method[0].ordering = CHOLMOD_METIS; break;
    case Ordering::kNesdis: common_.method[0].ordering = CHOLMOD_NESDIS; break;
    default: common_.method[0].ordering = CHOLMOD_AMD; break;
  }
  factor_ = cholmod_l_analyze_p(&av.view, perm.empty() ? nullptr : perm.data(), nullptr, 0,
                                &common_);
  if (!factor_ || common_.status < CHOLMOD_OK) {
    status_ = BackendStatus::kInvalidInput;
    message_ = "CHOLMOD analyze failed (status " + std::to_string(common_.status) + ")";
    throw NumericalError(message_);
  }
  stats_ = {};
  stats_.ordering_used = to_string(ord);
  stats_.analyze_s = seconds_since(t0);
  status_ = BackendStatus::kSuccess;
  message_.clear();
}

void CholmodBackend::factorize(const SparseMatrix& a) {
  assert(factor_ && "CholmodBackend: call analyze() before factorize()");
  const auto t0 = std::chrono::steady_clock::now();
  LowerView av(a);
  cholmod_l_factorize(&av.view, factor_, &common_);
  stats_.factorize_s = seconds_since(t0);
  stats_.nnz_factor = common_.lnz;
  stats_.flops = common_.fl;
  if (common_.status == CHOLMOD_NOT_POSDEF) {
    // L->minor is the column where elimination failed; Perm maps it back to the unknown.
    const auto* perm = static_cast<const int64_t*>(factor_->Perm);
    const int64_t col = int64_t(factor_->minor);
    const int64_t k = perm && col < int64_t(factor_->n) ? perm[col] : col;
    status_ = BackendStatus::kNumericalIssue;
    message_ = "CHOLMOD factorize: matrix not positive definite at " + unknown(k) +
               " (a floating subcircuit with no DC path to a source or ground?)";
    throw NumericalError(message_);
  }
  if (common_.status < CHOLMOD_OK) {
    status_ = BackendStatus::kNumericalIssue;
    message_ = "CHOLMOD factorize failed (status " + std::to_string(common_.status) +
               (common_.status == CHOLMOD_OUT_OF_MEMORY ? ": out of memory" : "") + ")";
    throw NumericalError(message_);
  }
  factorized_ = true;
  status_ = BackendStatus::kSuccess;
}

Eigen::MatrixXd CholmodBackend::solve(const Eigen::MatrixXd& b) const {
  assert(factorized_ && "CholmodBackend: call factorize() before solve()");
  Eigen::MatrixXd x(b.rows(), b.cols());
  const Eigen::Index block = std::max(1, options_.rhs_block);
  for (Eigen::Index c0 = 0; c0 < b.cols(); c0 += block) {
    const Eigen::Index nc = std::min(block, b.cols() - c0);
    Eigen::MatrixXd chunk = b.middleCols(c0, nc);
    cholmod_dense bd{};
    bd.nrow = size_t(b.rows());
    bd.ncol = size_t(nc);
    bd.nzmax = size_t(chunk.size());
    bd.d = size_t(b.rows());
    bd.x = chunk.data();
    bd.xtype = CHOLMOD_REAL;
    bd.dtype = CHOLMOD_DOUBLE;
    cholmod_dense* xd = cholmod_l_solve(CHOLMOD_A, factor_, &bd, &common_);
    if (!xd) throw NumericalError("CHOLMOD solve failed (status " + std::to_string(common_.status) + ")");
    x.middleCols(c0, nc) = Eigen::Map<const Eigen::MatrixXd>(static_cast<const double*>(xd->x),
                                                            b.rows(), nc);
    cholmod_l_free_dense(&xd, &common_);
  }
  return x;
}

}  // namespace xbar::solvers
