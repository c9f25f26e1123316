// The coarse grid of the PCG preconditioner (solvers/coarse_space.h): its Galerkin operator is
// P^T A P (checked against a plain sparse product of the assembled matrix), its interpolation
// reproduces bilinear functions exactly, and the option checks name their keys.
#include <doctest/doctest.h>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/coarse_space.h"
#include "solvers/mna_system.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::RowMatrixXd;

namespace {

// The sum-factorized assembly adds the same products as the sparse triple product in another
// order: rounding only.
constexpr double kGalerkinTol = 1e-13;

struct Case {
  netlists::CrossbarCircuit x;
  solvers::MnaSystem mna;
  explicit Case(const CrossbarSpec& spec, uint64_t seed)
      : x(netlists::build_crossbar(spec, support::uniform_matrix(spec.rows, spec.cols, 1e-6, 1e-4, seed),
                                   devices::make_cell_model("linear"))),
        mna(x.circuit) {}
};

}  // namespace

TEST_CASE("the coarse operator is the Galerkin product P^T A P, fixed ends included") {
  for (auto drive : {netlists::DriveSide::kLeft, netlists::DriveSide::kBoth})
    for (auto sense : {netlists::SenseSide::kBottom, netlists::SenseSide::kBoth}) {
      CrossbarSpec spec;
      spec.rows = 23;
      spec.cols = 31;
      spec.r_col_ohm = 5;
      spec.drive = drive;
      spec.sense = sense;
      CAPTURE(netlists::to_string(drive));
      CAPTURE(netlists::to_string(sense));
      Case c(spec, 41);
      solvers::LineSystem lines(c.mna.matrix(), c.mna.grid_coords());
      REQUIRE(lines.set_values(c.mna.matrix()) == -1);
      solvers::CoarseOptions opt;
      opt.spacing = 0.15;  // a few coarse nodes each way on this small array
      solvers::CoarseSpace coarse(lines, opt);
      REQUIRE(coarse.coarse_rows() >= 3);
      REQUIRE(coarse.coarse_cols() >= 3);
      const solvers::SparseMatrix p = coarse.prolongation();
      const solvers::SparseMatrix a = lines.matrix();
      const Eigen::MatrixXd ref = Eigen::MatrixXd(solvers::SparseMatrix(p.transpose() * a * p));
      const Eigen::MatrixXd got = Eigen::MatrixXd(coarse.matrix());
      CHECK((got - ref).cwiseAbs().maxCoeff() <= kGalerkinTol * ref.cwiseAbs().maxCoeff());
    }
}

TEST_CASE("the coarse interpolation reproduces a bilinear function on every free node") {
  CrossbarSpec spec;
  spec.rows = 19;
  spec.cols = 26;
  Case c(spec, 43);
  solvers::LineSystem lines(c.mna.matrix(), c.mna.grid_coords());
  REQUIRE(lines.set_values(c.mna.matrix()) == -1);
  solvers::CoarseOptions opt;
  opt.spacing = 0.1;
  solvers::CoarseSpace coarse(lines, opt);
  const solvers::SparseMatrix p = coarse.prolongation();
  // Coarse values of f(i, j) = 1 + 2 i - 3 j + 0.5 i j at the coarse nodes, prolonged: f itself
  // wherever all four neighbouring coarse nodes carry the function. The coarse node positions
  // are recovered from P (a coarse node's own fine node has weight 1).
  const int64_t mn = spec.rows * spec.cols;
  const std::vector<int64_t> slots = lines.slots();
  Eigen::VectorXd fc = Eigen::VectorXd::Zero(coarse.unknowns());
  std::vector<char> known(size_t(coarse.unknowns()), 0);
  auto f = [](double i, double j) { return 1 + 2 * i - 3 * j + 0.5 * i * j; };
  for (int64_t k = 0; k < p.outerSize(); ++k)
    for (solvers::SparseMatrix::InnerIterator it(p, k); it; ++it)
      if (it.value() == 1.0) {
        const int64_t q = slots[size_t(it.row())] % mn;
        fc(k) = f(double(q / spec.cols), double(q % spec.cols));
        known[size_t(k)] = 1;
      }
  const Eigen::VectorXd fine = p * fc;
  int checked = 0;
  for (int64_t r = 0; r < p.rows(); ++r) {
    bool all = true;
    for (int64_t k = 0; k < p.outerSize(); ++k)
      for (solvers::SparseMatrix::InnerIterator it(p, k); it; ++it)
        if (it.row() == r && !known[size_t(k)]) all = false;
    if (!all) continue;
    const int64_t q = slots[size_t(r)] % mn;
    CHECK(fine(r) == doctest::Approx(f(double(q / spec.cols), double(q % spec.cols))).epsilon(1e-12));
    ++checked;
  }
  CHECK(checked > spec.rows * spec.cols);  // most nodes of both layers
}

TEST_CASE("coarse options name their keys") {
  solvers::CoarseOptions o;
  o.spacing = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("coarse-spacing"), InputError);
  o = {};
  o.max_unknowns = 2;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("coarse-max-unknowns"), InputError);
}
