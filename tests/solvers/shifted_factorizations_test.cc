// ShiftedFactorizations: every shifted system A + sigma D solved as a dense LU solves it, each
// shift factorized once while cached, on CHOLMOD, KLU and PCG alike.
#include <doctest/doctest.h>

#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/mna_system.h"
#include "solvers/shifted_factorizations.h"

using namespace xbar;

namespace {

// Direct sparse and dense solves of these well-conditioned systems agree to rounding.
constexpr double kSolveRelTol = 1e-12;
// PCG stops once a step changes the solution by less than its tol (1e-11 by default) relative.
constexpr double kPcgRelTol = 1e-9;

struct Fixture {
  netlists::CrossbarCircuit x;
  std::unique_ptr<solvers::MnaSystem> mna;
  Eigen::VectorXd d, b;
  Fixture() {
    netlists::CrossbarSpec s;
    s.rows = 8;
    s.cols = 7;
    s.r_driver_ohm = 10;
    x = netlists::build_crossbar(s, support::uniform_matrix(8, 7, 1e-6, 1e-4, 3),
                                 devices::make_cell_model("linear"));
    mna = std::make_unique<solvers::MnaSystem>(x.circuit);
    d = (support::uniform_matrix(1, mna->size(), 0.5e-15, 2e-15, 4).row(0)).transpose();
    b = support::uniform_matrix(1, mna->size(), -1, 1, 5).row(0).transpose();
  }
  double error(solvers::ShiftedFactorizations& f, double sigma) const {
    const Eigen::MatrixXd dense = Eigen::MatrixXd(mna->matrix()) + Eigen::MatrixXd(sigma * d.asDiagonal());
    const Eigen::VectorXd ref = dense.partialPivLu().solve(b);
    return (f.solve(sigma, b).col(0) - ref).norm() / ref.norm();
  }
};

}  // namespace

TEST_CASE("shifted systems are solved as a dense LU solves them by CHOLMOD, KLU and PCG") {
  Fixture fx;
  using solvers::LinearBackendKind;
  for (const LinearBackendKind kind : {LinearBackendKind::kCholmod, LinearBackendKind::kKlu, LinearBackendKind::kPcg}) {
    CAPTURE(solvers::to_string(kind));
    solvers::ShiftedFactorizations f(fx.mna->matrix(), fx.d, fx.mna->grid_coords(), kind, {});
    CHECK(f.backend_name() == solvers::to_string(kind));
    for (const double sigma : {0.0, 1e12, 3e13, 1e16}) {
      CAPTURE(sigma);
      CHECK(fx.error(f, sigma) < (kind == LinearBackendKind::kPcg ? kPcgRelTol : kSolveRelTol));
    }
    CHECK(f.factorizations() == 4);
    if (kind != LinearBackendKind::kPcg) CHECK(f.max_backward_error() < 1e-14);
  }
}

TEST_CASE("each shift is factorized once while it stays in the cache") {
  Fixture fx;
  solvers::ShiftedFactorizations f(fx.mna->matrix(), fx.d, fx.mna->grid_coords(), solvers::LinearBackendKind::kCholmod, {}, 2);
  f.solve(1e12, fx.b);
  f.solve(1e12, fx.b);
  f.solve(2e12, fx.b);
  CHECK(f.factorizations() == 2);
  f.solve(4e12, fx.b);   // drops 1e12, the least recently used
  f.solve(2e12, fx.b);   // still cached
  CHECK(f.factorizations() == 3);
  CHECK(fx.error(f, 1e12) < kSolveRelTol);  // factorized again
  CHECK(f.factorizations() == 4);
  CHECK(f.solves() == 6);
  // Without capacitance every shift is A itself: one factorization.
  solvers::ShiftedFactorizations none(fx.mna->matrix(), Eigen::VectorXd::Zero(fx.mna->size()),
                                      fx.mna->grid_coords(), solvers::LinearBackendKind::kCholmod, {});
  for (const double sigma : {0.0, 1e12, 1e15}) none.solve(sigma, fx.b);
  CHECK(none.factorizations() == 1);
}
