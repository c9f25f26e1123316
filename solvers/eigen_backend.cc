#include "solvers/eigen_backend.h"

#include <Eigen/OrderingMethods>

#include <chrono>

#include "support/contract.h"
#include "support/input_error.h"
#include "solvers/grid_ordering.h"
#include "solvers/stopwatch.h"

namespace xbar::solvers {

using internal::seconds_since;

EigenBackend::EigenBackend(const LinearBackendOptions& options) : options_(options) {}

void EigenBackend::analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) {
  const auto t0 = std::chrono::steady_clock::now();
  analyzed_ = factorized_ = false;
  Ordering ord = options_.ordering;
  if (ord == Ordering::kAuto) ord = coords.empty() ? Ordering::kAmd : Ordering::kGeometric;
  if (ord == Ordering::kMetis || ord == Ordering::kNesdis)
    throw InputError("key ordering = " + to_string(ord) + ": the eigen back end orders with auto, "
                     "geometric or amd (" + to_string(ord) + " is CHOLMOD's: use backend cholmod)");
  if (ord == Ordering::kGeometric && coords.size() != size_t(a.rows()))
    throw InputError("key ordering = geometric: the system is not a plain crossbar grid (named "
                     "nodes, shorts or floating sources); use amd, metis or nesdis");
  const int64_t n = a.rows();
  if (ord == Ordering::kGeometric) {
    order_ = grid_nested_dissection(coords);
  } else {
    // Eigen's AMD on the symmetric pattern; its result lists the unknowns in elimination order.
    Permutation elimination;
    Eigen::AMDOrdering<int64_t> amd;
    const SparseMatrix full = a.selfadjointView<Eigen::Lower>();
    amd(full, elimination);
    order_.assign(elimination.indices().data(), elimination.indices().data() + n);
  }
  XBAR_EXPECTS(int64_t(order_.size()) == n, "EigenBackend: the ordering must list every unknown once");
  p_.resize(n);
  for (int64_t k = 0; k < n; ++k) p_.indices()[order_[size_t(k)]] = k;
  permuted_.resize(n, n);
  permuted_.selfadjointView<Eigen::Lower>() = a.selfadjointView<Eigen::Lower>().twistedBy(p_);
  ldlt_.analyzePattern(permuted_);
  stats_ = {};
  stats_.ordering_used = to_string(ord);
  stats_.analyze_s = seconds_since(t0);
  status_ = BackendStatus::kSuccess;
  message_.clear();
  analyzed_ = true;
}

void EigenBackend::factorize(const SparseMatrix& a) {
  XBAR_EXPECTS(analyzed_, "EigenBackend: call analyze() before factorize()");
  XBAR_EXPECTS(a.rows() == p_.size(), "EigenBackend: factorize() needs the analyzed pattern");
  const auto t0 = std::chrono::steady_clock::now();
  factorized_ = false;
  permuted_.selfadjointView<Eigen::Lower>() = a.selfadjointView<Eigen::Lower>().twistedBy(p_);
  ldlt_.factorize(permuted_);
  stats_.factorize_s = seconds_since(t0);
  // LDL' stops only at an exactly zero pivot; a negative one (an indefinite matrix) is found
  // here, as CholmodBackend does for CHOLMOD's simplicial LDL'.
  const Eigen::VectorXd& d = ldlt_.vectorD();
  int64_t bad_pivot = -1;
  for (int64_t k = 0; k < d.size() && bad_pivot < 0; ++k)
    if (!(d[k] > 0)) bad_pivot = k;
  if (ldlt_.info() != Eigen::Success && bad_pivot < 0) bad_pivot = 0;
  if (bad_pivot >= 0) {
    status_ = BackendStatus::kNumericalIssue;
    message_ = "Eigen LDL' factorize: matrix not positive definite at " +
               unknown(order_[size_t(bad_pivot)]) +
               " (a floating subcircuit with no DC path to a source or ground?)";
    throw NumericalError(message_);
  }
  // What CHOLMOD reports for the same factor: nonzeros of L with its diagonal, and the flops
  // of LL' from its column counts (sum of c^2 over columns c of L, diagonal included).
  const auto& l = ldlt_.matrixL().nestedExpression();
  double nnz = 0, flops = 0;
  for (int64_t j = 0; j < l.outerSize(); ++j) {
    const double c = double(l.outerIndexPtr()[j + 1] - l.outerIndexPtr()[j]);  // strictly below
    nnz += c + 1;
    flops += (c + 1) * (c + 1);
  }
  stats_.nnz_factor = nnz;
  stats_.flops = flops;
  factorized_ = true;
  status_ = BackendStatus::kSuccess;
}

namespace {

// x <- L^-T D^-1 L^-1 x for W right-hand sides stored row by row (x(i, 0..W-1) contiguous), L
// unit lower triangular in compressed columns without its diagonal (Eigen's LDL' storage). Each
// entry of L is read once per W right-hand sides, as CHOLMOD's simplicial solve reads its factor
// once per 4 (Eigen's own solve goes column by column: 1.8x slower than CHOLMOD for 64 inputs
// of a 64^2 array, which made batched Newton 30% slower).
template <class Rows>  // n x W, W fixed at compile time, rows contiguous
void ldl_solve_rows(const SparseMatrix& l, const Eigen::VectorXd& d, Rows& x) {
  const int64_t n = l.outerSize();
  const int64_t* lp = l.outerIndexPtr();
  const int64_t* li = l.innerIndexPtr();
  const double* lx = l.valuePtr();
  for (int64_t j = 0; j < n; ++j) {
    const auto xj = x.row(j);
    for (int64_t p = lp[j]; p < lp[j + 1]; ++p) x.row(li[p]) -= lx[p] * xj;
  }
  for (int64_t j = 0; j < n; ++j) x.row(j) /= d[j];
  for (int64_t j = n - 1; j >= 0; --j) {
    Eigen::Matrix<double, 1, Rows::ColsAtCompileTime> acc = x.row(j);
    for (int64_t p = lp[j]; p < lp[j + 1]; ++p) acc -= lx[p] * x.row(li[p]);
    x.row(j) = acc;
  }
}

}  // namespace

Eigen::MatrixXd EigenBackend::solve(const Eigen::MatrixXd& b) const {
  XBAR_EXPECTS(factorized_, "EigenBackend: call factorize() before solve()");
  XBAR_EXPECTS(b.rows() == p_.size(), "EigenBackend: right-hand side of the wrong length");
  const SparseMatrix& l = ldlt_.matrixL().nestedExpression();
  const Eigen::VectorXd& d = ldlt_.vectorD();
  const Eigen::Index n = b.rows();
  const int64_t* pos = p_.indices().data();  // unknown u at position pos[u] of the factor
  Eigen::MatrixXd x(n, b.cols());
  constexpr int kBlock = 4;
  Eigen::Index c = 0;
  if (b.cols() >= kBlock) {
    Eigen::Matrix<double, Eigen::Dynamic, kBlock, Eigen::RowMajor> y(n, kBlock);
    for (; c + kBlock <= b.cols(); c += kBlock) {
      for (Eigen::Index u = 0; u < n; ++u) y.row(pos[u]) = b.row(u).segment<kBlock>(c);
      ldl_solve_rows(l, d, y);
      for (Eigen::Index u = 0; u < n; ++u) x.row(u).segment<kBlock>(c) = y.row(pos[u]);
    }
  }
  Eigen::VectorXd y1(n);
  for (; c < b.cols(); ++c) {
    for (Eigen::Index u = 0; u < n; ++u) y1[pos[u]] = b(u, c);
    ldl_solve_rows(l, d, y1);
    for (Eigen::Index u = 0; u < n; ++u) x(u, c) = y1[pos[u]];
  }
  return x;
}

}  // namespace xbar::solvers
