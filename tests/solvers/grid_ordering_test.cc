// The geometric nested-dissection ordering: a valid permutation, and fill no worse than AMD's
// on crossbar grids (the reason it is the default; bench/ has the large-size numbers).
#include <doctest/doctest.h>

#include <algorithm>

#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/cholmod_backend.h"
#include "solvers/grid_ordering.h"
#include "solvers/linear_backend.h"

using namespace xbar;

namespace {

double factor_nonzeros(const solvers::MnaSystem& mna, solvers::Ordering o) {
  solvers::LinearBackendOptions opt;
  opt.ordering = o;
  solvers::CholmodBackend be(opt);
  be.analyze(mna.matrix(), mna.grid_coords());
  be.factorize(mna.matrix());
  return be.stats().nnz_factor;
}

}  // namespace

TEST_CASE("geometric nested dissection returns a permutation of every unknown") {
  std::vector<solvers::GridCoord> coords;
  for (int32_t i = 0; i < 37; ++i)
    for (int32_t j = 0; j < 53; ++j)
      for (int32_t layer = 0; layer < 2; ++layer) coords.push_back({i, j, layer});
  std::vector<int64_t> perm = solvers::grid_nested_dissection(coords);
  REQUIRE(perm.size() == coords.size());
  std::sort(perm.begin(), perm.end());
  for (size_t k = 0; k < perm.size(); ++k) CHECK_EQ(perm[k], int64_t(k));
}

TEST_CASE("geometric nested dissection fills less than AMD on a crossbar grid") {
  netlists::CrossbarSpec spec;
  spec.rows = 160;
  spec.cols = 128;
  const netlists::RowMatrixXd g = netlists::RowMatrixXd::Constant(spec.rows, spec.cols, 5e-5);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  const solvers::MnaSystem mna(x.circuit);
  REQUIRE(mna.grid_coords().size() == size_t(mna.size()));
  const double nd = factor_nonzeros(mna, solvers::Ordering::kGeometric);
  const double amd = factor_nonzeros(mna, solvers::Ordering::kAmd);
  MESSAGE("nnz(L) geometric " << nd << ", amd " << amd);
  CHECK(nd < amd);
}

TEST_CASE("on a 1T1R grid the internal cell nodes are a third layer and KLU fills less than AMD") {
  netlists::CrossbarSpec spec;
  spec.rows = 96;
  spec.cols = 80;
  const netlists::RowMatrixXd g = netlists::RowMatrixXd::Constant(spec.rows, spec.cols, 5e-5);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("1t1r"));
  const solvers::MnaSystem mna(x.circuit);
  REQUIRE(mna.grid_coords().size() == size_t(mna.size()));
  int64_t layer2 = 0;
  for (const auto& c : mna.grid_coords()) layer2 += c.layer == 2;
  CHECK(layer2 == spec.rows * spec.cols);  // every internal node m(i,j) is an unknown
  std::vector<int64_t> perm = solvers::grid_nested_dissection(mna.grid_coords());
  std::sort(perm.begin(), perm.end());
  for (size_t k = 0; k < perm.size(); ++k) CHECK_EQ(perm[k], int64_t(k));
  // The Jacobian pattern (transistor stamps are structural zeros in matrix()); put the
  // on-conductances in so that the factorization is numerically valid.
  solvers::SparseMatrix a = mna.matrix();
  for (int64_t k = 0; k < a.outerSize(); ++k) a.coeffRef(k, k) += 1e-3;
  auto fill = [&](solvers::Ordering o) {
    solvers::LinearBackendOptions opt;
    opt.ordering = o;
    auto be = solvers::make_linear_backend(solvers::LinearBackendKind::kKlu, opt);
    be->analyze(a, mna.grid_coords());
    be->factorize(a);
    CHECK(be->stats().ordering_used == solvers::to_string(o));
    return be->stats().nnz_factor;
  };
  const double nd = fill(solvers::Ordering::kGeometric), amd = fill(solvers::Ordering::kAmd);
  MESSAGE("KLU nnz(L+U) geometric " << nd << ", amd " << amd);
  CHECK(nd < amd);
}
