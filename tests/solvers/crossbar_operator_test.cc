// The crossbar operator written straight from the spec (solvers/crossbar_operator.h) against
// the generic path's referee, MnaSystem assembling the circuit of build_crossbar(): the same
// matrix entry by entry, the same right-hand sides and the same current maps, for every drive,
// sense, driver and sense-resistance option. End-to-end agreement of the currents with CHOLMOD
// and ngspice is in pcg_backend_test.cc.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_operator.h"
#include "solvers/crossbar_solver.h"
#include "solvers/mna_system.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::CrossbarOperator;

namespace {

// Both sides sum the same few conductances, possibly in another order: a few ulps.
constexpr double kSameSumTol = 1e-14;

RowMatrixXd random_g(int64_t m, int64_t n, uint64_t seed) {
  RowMatrixXd g = support::uniform_matrix(m, n, 1e-6, 1e-3, seed);
  g(0, n - 1) = 0;  // an unprogrammed cell: no coupling at all
  return g;
}

// Largest |a - b| relative to the largest |b|.
double rel_diff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / b.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("the operator written from the spec is the assembled nodal system, for every end option") {
  int which = 0;
  for (auto drive : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
    for (auto sense : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
      for (double r_drv : {0.0, 15.0})
        for (double r_sns : {0.0, 20.0}) {
          ++which;
          CrossbarSpec spec;
          spec.rows = 4 + which % 3;
          spec.cols = 5 - which % 3;  // 2 to 5 columns: both ends of a row may be fixed
          spec.r_row_ohm = 2.5;
          spec.r_col_ohm = 4.0;
          spec.r_driver_ohm = r_drv;
          spec.r_sense_ohm = r_sns;
          spec.drive = drive;
          spec.sense = sense;
          CAPTURE(netlists::to_string(drive));
          CAPTURE(netlists::to_string(sense));
          CAPTURE(r_drv);
          CAPTURE(r_sns);
          CAPTURE(spec.cols);
          const int64_t m = spec.rows, n = spec.cols, mn = m * n;
          const RowMatrixXd g = random_g(m, n, 700 + which);
          const auto cell = devices::make_cell_model("linear");
          REQUIRE(CrossbarOperator::applicable(spec, *cell, nullptr));
          const auto x = netlists::build_crossbar(spec, g, cell);
          const solvers::MnaSystem mna(x.circuit);
          CrossbarOperator op(spec, g);
          solvers::LineSystem lines(m, n);
          REQUIRE(lines.set_stencil(op.take_stencil()) == -1);
          REQUIRE(op.unknowns() == mna.size());
          REQUIRE(lines.size() == mna.size());
          // The operator's unknowns are the free slots in slot order; map MNA's onto them.
          const auto& coords = mna.grid_coords();
          REQUIRE(coords.size() == size_t(mna.size()));
          const std::vector<int64_t> slots = lines.slots();
          std::vector<int64_t> rank(size_t(2 * mn), -1);
          for (size_t k = 0; k < slots.size(); ++k) rank[size_t(slots[k])] = int64_t(k);
          std::vector<int64_t> perm(coords.size());  // MNA unknown -> operator unknown
          for (size_t k = 0; k < coords.size(); ++k) {
            perm[k] = rank[size_t(coords[k].layer * mn + int64_t(coords[k].i) * n + coords[k].j)];
            REQUIRE(perm[k] >= 0);
          }
          const int64_t u = mna.size();
          Eigen::MatrixXd a_mna = Eigen::MatrixXd::Zero(u, u);
          const Eigen::MatrixXd dense(mna.matrix());
          for (int64_t r = 0; r < u; ++r)
            for (int64_t c = 0; c < u; ++c) a_mna(perm[size_t(r)], perm[size_t(c)]) = dense(r, c);
          CHECK(rel_diff(Eigen::MatrixXd(lines.matrix()), a_mna) < kSameSumTol);
          CHECK(op.matrix_nonzeros() == mna.matrix().nonZeros());

          // Right-hand sides for two inputs, and the current maps on an arbitrary x.
          const RowMatrixXd v = support::uniform_matrix(2, m, -0.3, 0.3, 800 + which);
          const Eigen::MatrixXd s = x.source_values(v);
          const Eigen::MatrixXd b_mna = mna.rhs(s);
          const Eigen::MatrixXd xu = Eigen::MatrixXd::Random(u, 2);
          const Eigen::MatrixXd src = mna.source_currents(xu, s);
          for (int64_t c = 0; c < 2; ++c) {
            Eigen::VectorXd b_op(2 * mn), b_ref = Eigen::VectorXd::Zero(2 * mn), x_slots = Eigen::VectorXd::Zero(2 * mn);
            op.rhs(v.row(c).data(), b_op.data());
            for (int64_t k = 0; k < u; ++k) {
              b_ref(slots[size_t(perm[size_t(k)])]) = b_mna(k, c);
              x_slots(slots[size_t(perm[size_t(k)])]) = xu(k, c);
            }
            CHECK(rel_diff(b_op, b_ref) < kSameSumTol);
            Eigen::VectorXd i_op(n), i_ref = Eigen::VectorXd::Zero(n);
            op.currents(x_slots.data(), v.row(c).data(), i_op.data());
            for (int64_t j = 0; j < n; ++j)
              for (int32_t pos : x.sense_sources[size_t(j)])
                if (pos >= 0) i_ref(j) += src(pos, c);
            CHECK(rel_diff(i_op, i_ref) < kSameSumTol);
          }
        }
}

TEST_CASE("a built circuit is recognised as canonical only when it is exactly what the spec gives") {
  CrossbarSpec spec;
  spec.rows = 6;
  spec.cols = 7;
  spec.r_sense_ohm = 5;
  spec.drive = DriveSide::kBoth;
  const RowMatrixXd g = random_g(6, 7, 901);
  auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
  RowMatrixXd got;
  std::string why;
  CHECK(CrossbarOperator::matches_circuit(x, &got, &why));
  CHECK(got == g);
  SUBCASE("a wire segment changed after the build") {
    x.circuit.mutable_elements()[size_t(6 * 7 + 3)].value = 2.6;
    CHECK_FALSE(CrossbarOperator::matches_circuit(x, &got, &why));
    CHECK(why.find("row wire") != std::string::npos);
    // The solver then assembles the circuit and still agrees with CHOLMOD.
    solvers::CrossbarSolveOptions opt;
    opt.solver.backend = solvers::BackendChoice::kPcg;
    solvers::CrossbarSolver p(x, opt);
    CHECK_FALSE(p.from_spec());
    opt.solver.backend = solvers::BackendChoice::kCholmod;
    solvers::CrossbarSolver c(x, opt);
    const RowMatrixXd v = support::uniform_matrix(1, 6, 0, 0.2, 902);
    CHECK(rel_diff(p.solve(v).currents, c.solve(v).currents) < 1e-9);
  }
  SUBCASE("a virtual ground that is not at 0 V") {
    const auto src = x.circuit.source_indices();
    x.circuit.mutable_elements()[src.back()].value = 0.01;
    CHECK_FALSE(CrossbarOperator::matches_circuit(x, &got, &why));
  }
  SUBCASE("nonlinear cells are never written from the spec") {
    const auto nl = netlists::build_crossbar(spec, g, devices::make_cell_model("sinh"));
    CHECK_FALSE(CrossbarOperator::matches_circuit(nl, &got, &why));
    CHECK_FALSE(CrossbarOperator::applicable(spec, *devices::make_cell_model("1t1r"), &why));
  }
}

TEST_CASE("the operator rejects bad conductances with the message build_crossbar gives") {
  CrossbarSpec spec;
  spec.rows = 3;
  spec.cols = 4;
  RowMatrixXd g = RowMatrixXd::Constant(3, 4, 1e-5);
  g(1, 2) = -1e-6;
  try {
    CrossbarOperator op(spec, g);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("G[1, 2]") != std::string::npos);
  }
  CHECK_THROWS_AS(CrossbarOperator(spec, RowMatrixXd::Constant(4, 3, 1e-5)), InputError);
}
