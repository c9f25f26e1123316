// Every linear back end through every API path against a dense reference: analyze, factorize,
// solve (one and many right-hand sides), the transposed solve, refactorization with new values
// on the same pattern; the right-hand side is left unmodified; misordered calls say what to
// call first.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>

#include "support/input_error.h"
#include "solvers/linear_backend.h"

using namespace xbar;
using solvers::LinearBackendKind;
using solvers::SparseMatrix;

namespace {

// Relative to the solution; the test matrices have condition numbers below ~1e3.
constexpr double kSolveRelTol = 1e-12;

// A random sparse SPD matrix (a weighted graph Laplacian plus a positive diagonal) and, for
// KLU, a nonsymmetric perturbation of it that stays well conditioned.
SparseMatrix test_matrix(int64_t n, bool symmetric, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto u = [&] { return double(rng() >> 11) * 0x1.0p-53; };
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(n, n);
  for (int64_t i = 0; i < n; ++i) {
    d(i, i) += 0.5 + u();
    for (int k = 0; k < 3; ++k) {
      const int64_t j = int64_t(rng() % uint64_t(n));
      if (j == i) continue;
      const double w = 0.1 + u();
      d(i, i) += w;
      d(j, j) += w;
      d(i, j) -= w;
      d(j, i) -= symmetric ? w : 0.5 * w;
    }
  }
  return d.sparseView();
}

}  // namespace

TEST_CASE("every back end solves, re-factorizes and transposes like a dense LU") {
  for (LinearBackendKind kind : {LinearBackendKind::kCholmod, LinearBackendKind::kEigen, LinearBackendKind::kKlu}) {
    CAPTURE(solvers::to_string(kind));
    const bool spd = kind != LinearBackendKind::kKlu;
    const int64_t n = 60;
    SparseMatrix a = test_matrix(n, spd, 5);
    auto be = solvers::make_linear_backend(kind, {});
    be->analyze(a, {});
    be->factorize(a);
    CHECK(be->status() == solvers::BackendStatus::kSuccess);
    // > 64: several blocks, threads; 70 = 17 x 4 + 2 for the Eigen back end's blocks of 4.
    Eigen::MatrixXd b = Eigen::MatrixXd::Random(n, 70);
    const Eigen::MatrixXd b_copy = b;
    const Eigen::MatrixXd dense = Eigen::MatrixXd(a);
    for (Eigen::Index cols : {Eigen::Index(1), Eigen::Index(70)}) {
      const Eigen::MatrixXd x = be->solve(b.leftCols(cols));
      const Eigen::MatrixXd ref = dense.partialPivLu().solve(b.leftCols(cols));
      CHECK((x - ref).norm() / ref.norm() < kSolveRelTol);
      const Eigen::MatrixXd xt = be->solve_transposed(b.leftCols(cols));
      const Eigen::MatrixXd reft = dense.transpose().partialPivLu().solve(b.leftCols(cols));
      CHECK((xt - reft).norm() / reft.norm() < kSolveRelTol);
    }
    CHECK(b == b_copy);
    // New values, same pattern: factorize() again without analyze().
    for (int64_t k = 0; k < a.outerSize(); ++k)
      for (SparseMatrix::InnerIterator it(a, k); it; ++it)
        if (it.row() == it.col()) it.valueRef() *= 3.0;
    be->factorize(a);
    const Eigen::MatrixXd x2 = be->solve(b);
    const Eigen::MatrixXd ref2 = Eigen::MatrixXd(a).partialPivLu().solve(b);
    CHECK((x2 - ref2).norm() / ref2.norm() < kSolveRelTol);
  }
}

TEST_CASE("calls out of order say what to call first, also in Release builds") {
  for (LinearBackendKind kind : {LinearBackendKind::kCholmod, LinearBackendKind::kEigen, LinearBackendKind::kKlu}) {
    auto be = solvers::make_linear_backend(kind, {});
    const SparseMatrix a = test_matrix(10, true, 1);
    CHECK_THROWS_WITH_AS(be->factorize(a), doctest::Contains("call analyze() before factorize()"),
                         std::logic_error);
    be->analyze(a, {});
    CHECK_THROWS_WITH_AS(be->solve(Eigen::MatrixXd::Ones(10, 1)),
                         doctest::Contains("call factorize() before solve()"), std::logic_error);
  }
}

TEST_CASE("a matrix that is not positive definite is a numerical failure, not a wrong answer") {
  SparseMatrix a = test_matrix(20, true, 2);
  a.coeffRef(7, 7) = -50.0;
  for (LinearBackendKind kind : {LinearBackendKind::kCholmod, LinearBackendKind::kEigen}) {
    CAPTURE(solvers::to_string(kind));
    auto be = solvers::make_linear_backend(kind, {});
    be->set_unknown_names([](int64_t k) { return "unknown #" + std::to_string(k); });
    be->analyze(a, {});
    CHECK_THROWS_AS(be->factorize(a), NumericalError);
    CHECK(be->status() == solvers::BackendStatus::kNumericalIssue);
    CHECK(be->message().find("not positive definite at unknown #") != std::string::npos);
  }
  // A single negative pivot: the unknown named is the one whose pivot broke down. Unknown 0 is
  // joined to nothing else, so its pivot is its own diagonal in every ordering.
  SparseMatrix b = test_matrix(20, true, 2);
  for (int64_t k = 0; k < b.outerSize(); ++k)
    for (SparseMatrix::InnerIterator it(b, k); it; ++it)
      if ((it.row() == 0) != (it.col() == 0)) it.valueRef() = 0.0;
  b.coeffRef(0, 0) = -1.0;
  b.prune(0.0);
  auto eigen = solvers::make_linear_backend(LinearBackendKind::kEigen, {});
  eigen->set_unknown_names([](int64_t k) { return "unknown #" + std::to_string(k); });
  eigen->analyze(b, {});
  CHECK_THROWS_AS(eigen->factorize(b), NumericalError);
  CHECK(eigen->message().find("not positive definite at unknown #0 ") != std::string::npos);
}

TEST_CASE("the eigen back end orders like CHOLMOD and refuses the orderings only CHOLMOD has") {
  const SparseMatrix a = test_matrix(40, true, 9);
  for (solvers::Ordering o : {solvers::Ordering::kMetis, solvers::Ordering::kNesdis}) {
    solvers::LinearBackendOptions lo;
    lo.ordering = o;
    auto be = solvers::make_linear_backend(LinearBackendKind::kEigen, lo);
    CHECK_THROWS_WITH_AS(be->analyze(a, {}), doctest::Contains(("key ordering = " + solvers::to_string(o)).c_str()),
                         InputError);
  }
  solvers::LinearBackendOptions amd;
  amd.ordering = solvers::Ordering::kAmd;
  auto be = solvers::make_linear_backend(LinearBackendKind::kEigen, amd);
  be->analyze(a, {});
  be->factorize(a);
  CHECK(be->stats().ordering_used == "amd");
  // Eigen's AMD keeps the factor sparse: well below the dense lower triangle's 820 entries.
  CHECK(be->stats().nnz_factor > 40);
  CHECK(be->stats().nnz_factor < 400);
}

TEST_CASE("KLU names the column of a singular matrix") {
  SparseMatrix a = test_matrix(12, false, 3);
  for (int64_t k = 0; k < a.outerSize(); ++k)  // zero row and column 4
    for (SparseMatrix::InnerIterator it(a, k); it; ++it)
      if (it.row() == 4 || it.col() == 4) it.valueRef() = 0.0;
  auto be = solvers::make_linear_backend(LinearBackendKind::kKlu, {});
  be->set_unknown_names([](int64_t k) { return "unknown #" + std::to_string(k); });
  be->analyze(a, {});
  CHECK_THROWS_AS(be->factorize(a), NumericalError);
  CHECK(be->message().find("singular at unknown #4") != std::string::npos);
}

TEST_CASE("KLU refactorizes on the previous pivots while they hold and pivots afresh when not") {
  // 2 x 2, full pattern. First diagonally dominant: diagonal pivots. Then a tiny (1,1) entry:
  // reusing the diagonal pivot would grow the factor by 1e12, so KLU must pivot again.
  auto dense_to_sparse = [](double a00, double a01, double a10, double a11) {
    Eigen::MatrixXd d(2, 2);
    d << a00, a01, a10, a11;
    SparseMatrix s = d.sparseView(0.0, 0.0);  // keeps every entry: the pattern never changes
    s.makeCompressed();
    return s;
  };
  auto be = solvers::make_linear_backend(LinearBackendKind::kKlu, {});
  SparseMatrix a = dense_to_sparse(2, 0.5, 0.5, 1);
  be->analyze(a, {});
  be->factorize(a);
  CHECK(be->stats().refactorizations == 0);
  const Eigen::Vector2d b(1, 2);
  auto check_solution = [&](const SparseMatrix& m) {
    const Eigen::VectorXd x = be->solve(b);
    const Eigen::VectorXd ref = Eigen::MatrixXd(m).partialPivLu().solve(b);
    CHECK((x - ref).norm() / ref.norm() < kSolveRelTol);
  };
  a = dense_to_sparse(4, 1, 1, 2);  // same pivots are fine: refactorization
  be->factorize(a);
  CHECK(be->stats().refactorizations == 1);
  check_solution(a);
  a = dense_to_sparse(1e-12, 1, 1, 1);  // the old pivot order would be unstable
  be->factorize(a);
  CHECK(be->stats().refactorizations == 1);
  check_solution(a);
}

TEST_CASE("KLU accepts the geometric ordering only with grid coordinates") {
  solvers::LinearBackendOptions opt;
  opt.ordering = solvers::Ordering::kGeometric;
  auto be = solvers::make_linear_backend(LinearBackendKind::kKlu, opt);
  const SparseMatrix a = test_matrix(6, false, 4);
  CHECK_THROWS_WITH_AS(be->analyze(a, {}), doctest::Contains("not a plain crossbar grid"), InputError);
  opt.ordering = solvers::Ordering::kMetis;
  CHECK_THROWS_WITH_AS(solvers::make_linear_backend(LinearBackendKind::kKlu, opt)->analyze(a, {}),
                       doctest::Contains("key ordering = metis"), InputError);
}
