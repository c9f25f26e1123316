#include "solvers/cholmod_backend.h"

#include <chrono>
#include <new>
#include <thread>
#include <type_traits>

#include <omp.h>

#include "support/contract.h"
#include "support/input_error.h"
#include "solvers/stopwatch.h"
#include "solvers/grid_ordering.h"
#include "solvers/library_threads.h"

namespace xbar::solvers {

using internal::seconds_since;

static_assert(std::is_same<SuiteSparse_long, int64_t>::value,
              "SparseMatrix indices must be SuiteSparse_long to be viewed without copying");

namespace {

// Batched solves use the simplicial copy when the factor has at most this many nonzeros
// (16 bytes each: 512 MB at 32 M, i.e. arrays up to about 700 x 700); larger factors solve
// supernodally rather than double their memory.
constexpr double kSimplicialCopyMaxNnz = 32e6;
// Right-hand sides per simplicial solve call: CHOLMOD's simplicial kernels take up to 4 at once.
constexpr Eigen::Index kSimplicialChunk = 4;
// A batch must be at least this wide before the copy pays for itself.
constexpr Eigen::Index kSimplicialMinBatch = 16;

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
  // Supernodal (BLAS) when the factor is dense enough to pay for it, simplicial otherwise
  // (2.5x faster at 64^2, which matters for Newton). The simplicial factor is LDL', which
  // does not fail on an indefinite matrix: factorize() checks the signs of D itself.
  common_.supernodal = CHOLMOD_AUTO;
}

CholmodBackend::~CholmodBackend() {
  free_simplicial();
  if (factor_) cholmod_l_free_factor(&factor_, &common_);
  for (auto& c : thread_commons_) cholmod_l_finish(c.get());
  cholmod_l_finish(&common_);
}

void CholmodBackend::free_simplicial() const {
  if (simplicial_) cholmod_l_free_factor(&simplicial_, &common_);
}

void CholmodBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  const auto t0 = std::chrono::steady_clock::now();
  free_simplicial();
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
  XBAR_EXPECTS(factor_, "CholmodBackend: call analyze() before factorize()");
  const auto t0 = std::chrono::steady_clock::now();
  free_simplicial();
  LowerView av(a);
  {
    // On this thread alone unless the user asked for threads (library_threads.h).
    // common_.fl: the flop count of the analysis.
    const FactorizationThreads threads(common_.fl);
    cholmod_l_factorize(&av.view, factor_, &common_);
  }
  stats_.factorize_s = seconds_since(t0);
  stats_.nnz_factor = common_.lnz;
  stats_.flops = common_.fl;
  int64_t bad_pivot = -1;  // simplicial LDL': the first column whose pivot D(j,j) is not > 0
  if (common_.status >= CHOLMOD_OK && !factor_->is_super && !factor_->is_ll) {
    const auto* lp = static_cast<const int64_t*>(factor_->p);
    const auto* lx = static_cast<const double*>(factor_->x);
    for (int64_t j = 0; j < int64_t(factor_->n) && bad_pivot < 0; ++j)
      if (!(lx[lp[j]] > 0)) bad_pivot = j;
  }
  if (common_.status == CHOLMOD_NOT_POSDEF || bad_pivot >= 0) {
    // The column where elimination failed; Perm maps it back to the unknown.
    const auto* perm = static_cast<const int64_t*>(factor_->Perm);
    const int64_t col = bad_pivot >= 0 ? bad_pivot : int64_t(factor_->minor);
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

std::unique_ptr<CholmodBackend> CholmodBackend::clone_analysis() const {
  XBAR_EXPECTS(factor_, "CholmodBackend: call analyze() before clone_analysis()");
  auto copy = std::make_unique<CholmodBackend>(options_);
  copy->factor_ = cholmod_l_copy_factor(factor_, &copy->common_);
  if (!copy->factor_)
    throw NumericalError("CHOLMOD copy_factor failed (status " + std::to_string(copy->common_.status) +
                         (copy->common_.status == CHOLMOD_OUT_OF_MEMORY ? ": out of memory" : "") + ")");
  copy->stats_.ordering_used = stats_.ordering_used;
  copy->namer_ = namer_;
  return copy;
}

namespace {

// Solves columns [c0, c0 + nc) of b into x with `factor`, `chunk` columns per CHOLMOD call.
// *status receives CHOLMOD_OK, or the failing call's status (CHOLMOD_OUT_OF_MEMORY also for a
// std::bad_alloc, which must not escape a worker thread).
void solve_columns(cholmod_factor* factor, cholmod_common* common, const Eigen::MatrixXd& b,
                   Eigen::MatrixXd& x, Eigen::Index c0, Eigen::Index nc, Eigen::Index chunk,
                   int* status) try {
  *status = CHOLMOD_OK;
  for (Eigen::Index c = c0; c < c0 + nc; c += chunk) {
    const Eigen::Index w = std::min(chunk, c0 + nc - c);
    Eigen::MatrixXd part = b.middleCols(c, w);
    cholmod_dense bd{};
    bd.nrow = size_t(b.rows());
    bd.ncol = size_t(w);
    bd.nzmax = size_t(part.size());
    bd.d = size_t(b.rows());
    bd.x = part.data();
    bd.xtype = CHOLMOD_REAL;
    bd.dtype = CHOLMOD_DOUBLE;
    cholmod_dense* xd = cholmod_l_solve(CHOLMOD_A, factor, &bd, common);
    if (!xd) {
      *status = common->status < CHOLMOD_OK ? common->status : CHOLMOD_INVALID;
      return;
    }
    x.middleCols(c, w) =
        Eigen::Map<const Eigen::MatrixXd>(static_cast<const double*>(xd->x), b.rows(), w);
    cholmod_l_free_dense(&xd, common);
  }
} catch (const std::bad_alloc&) {
  *status = CHOLMOD_OUT_OF_MEMORY;
}

}  // namespace

Eigen::MatrixXd CholmodBackend::solve(const Eigen::MatrixXd& b) const {
  XBAR_EXPECTS(factorized_, "CholmodBackend: call factorize() before solve()");
  Eigen::MatrixXd x(b.rows(), b.cols());
  // OpenMP's thread budget (default: the cores; `xbar sweep` sets it to sweep-threads, so a
  // point's batched solves stay on its own core and ranks do not oversubscribe the node).
  const int hw = std::max(1, omp_get_max_threads());
  const Eigen::Index threads = std::min<Eigen::Index>(hw, std::max<Eigen::Index>(1, b.cols() / kSimplicialChunk));
  // On one thread the supernodal solve, rhs_block columns per pass, is as fast (faster from
  // 192 x 192) and reads the factor 16 times less often: two sweep ranks solving side by side
  // slowed each other down by 16% on the simplicial copy (128 x 128 calibrate), 1% on this.
  if (!simplicial_ && threads >= 2 && b.cols() >= kSimplicialMinBatch && stats_.nnz_factor <= kSimplicialCopyMaxNnz) {
    simplicial_ = cholmod_l_copy_factor(factor_, &common_);
    // LL' kept, simplicial, packed, monotonic: the layout the simplicial solve kernels want.
    if (simplicial_ && !cholmod_l_change_factor(CHOLMOD_REAL, 1, 0, 1, 1, simplicial_, &common_))
      free_simplicial();
  }
  int status = CHOLMOD_OK;
  if (simplicial_ && threads >= 2) {
    while (Eigen::Index(thread_commons_.size()) + 1 < threads) {
      thread_commons_.push_back(std::make_unique<cholmod_common>());
      cholmod_l_start(thread_commons_.back().get());
      thread_commons_.back()->print = 0;
    }
    std::vector<std::thread> pool;
    std::vector<int> statuses(size_t(threads), CHOLMOD_OK);
    const Eigen::Index per = (b.cols() + threads - 1) / threads;
    for (Eigen::Index t = 0; t < threads; ++t) {
      const Eigen::Index c0 = t * per, nc = std::min(per, b.cols() - c0);
      if (nc <= 0) continue;
      cholmod_common* common = t == 0 ? &common_ : thread_commons_[size_t(t - 1)].get();
      pool.emplace_back(solve_columns, simplicial_, common, std::cref(b), std::ref(x), c0, nc,
                        kSimplicialChunk, &statuses[size_t(t)]);
    }
    for (auto& th : pool) th.join();
    for (int st : statuses)
      if (st != CHOLMOD_OK) status = st;
  } else {
    solve_columns(factor_, &common_, b, x, 0, b.cols(), std::max(1, options_.rhs_block), &status);
  }
  if (status != CHOLMOD_OK)
    throw NumericalError("CHOLMOD solve failed (status " + std::to_string(status) +
                         (status == CHOLMOD_OUT_OF_MEMORY ? ": out of memory" : "") + ")");
  return x;
}

}  // namespace xbar::solvers
