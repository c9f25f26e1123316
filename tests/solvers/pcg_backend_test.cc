// The PCG back end (solvers/pcg_backend.h) against independent referees: CHOLMOD (a direct
// solve of the same matrix), ngspice (an independent simulator of the same circuit) and, for
// the reports, the true error. Never against PCG's own earlier output.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/cholmod_backend.h"
#include "solvers/crossbar_operator.h"
#include "solvers/crossbar_solver.h"
#include "solvers/pcg_backend.h"
#include "tests/solvers/referees.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;

namespace {

// The acceptance bound on every column current, relative to its own value.
constexpr double kAgreeRelTol = 1e-9;

RowMatrixXd random_matrix(int64_t rows, int64_t cols, double lo, double hi, uint64_t seed) {
  return support::uniform_matrix(rows, cols, lo, hi, seed);
}

struct Solved {
  RowMatrixXd currents;
  solvers::SolveSummary summary;
};

Solved solve(const netlists::CrossbarCircuit& x, const RowMatrixXd& v, BackendChoice b,
             solvers::CrossbarSolveOptions opt = {}) {
  opt.solver.backend = b;
  solvers::CrossbarSolver s(x, opt);
  auto r = s.solve(v);
  return {r.currents, r.summary};
}

netlists::CrossbarCircuit linear(const CrossbarSpec& spec, const RowMatrixXd& g) {
  return netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
}

// A harsh array: cells near 1 mS, 10 ohm wire segments, ideal virtual grounds.
CrossbarSpec harsh_spec(int64_t m, int64_t n) {
  CrossbarSpec spec;
  spec.rows = m;
  spec.cols = n;
  spec.r_row_ohm = spec.r_col_ohm = 10;
  spec.r_sense_ohm = 0;
  return spec;
}

}  // namespace

TEST_CASE("pcg agrees with cholmod to 1e-9 on every drive and sense option, from the spec and from the circuit") {
  const int64_t shapes[][2] = {{64, 64}, {40, 96}, {96, 40}, {1, 80}, {80, 1}, {33, 57}};
  test::for_each_drive_and_sense(shapes, [&](const CrossbarSpec& spec, int which) {
        const int64_t m = spec.rows, n = spec.cols;
        const RowMatrixXd g = random_matrix(m, n, 1e-6, 1e-4, 3000 + which);
        const auto x = linear(spec, g);
        const RowMatrixXd v = random_matrix(3, m, 0.0, 0.3, 4000 + which);
        const Solved c = solve(x, v, BackendChoice::kCholmod);
        // The operator written from the spec (a single row or column is not a grid of lines:
        // those take the assembled circuit), from a built circuit, and the assembled path.
        solvers::CrossbarSolveOptions opt;
        opt.solver.backend = BackendChoice::kPcg;
        solvers::CrossbarSolver from_spec(spec, g, devices::make_cell_model("linear"), opt);
        CHECK(from_spec.from_spec() == (m > 1 && n > 1));
        const RowMatrixXd i_spec = from_spec.solve(v).currents;
        CHECK(from_spec.summary().backend_used == "pcg");
        CHECK(from_spec.summary().cg_iterations > 0);
        CHECK(test::max_rel(i_spec, c.currents) < kAgreeRelTol);
        const Solved p = solve(x, v, BackendChoice::kPcg);
        CHECK(test::max_rel(p.currents, c.currents) < kAgreeRelTol);
        opt.grid_operator = false;
        const Solved a = solve(x, v, BackendChoice::kPcg, opt);
        CHECK(a.summary.backend_used == "pcg");
        CHECK(a.summary.ordering_used == "lines");
        CHECK(test::max_rel(a.currents, c.currents) < kAgreeRelTol);
  });
}

TEST_CASE("a small array from its spec is factorized directly, without a circuit, and agrees with ngspice and the circuit path") {
  // CrossbarSolver's direct grid path (issue 21, point 5): the system CrossbarOperator writes,
  // factorized by Eigen; against ngspice (1e-9, the acceptance bound) and against the assembled
  // circuit path with CHOLMOD (1e-12: two exact solvers of one system) on every drive and sense
  // option, with ideal and resistive drivers and virtual grounds.
  const int64_t shapes[][2] = {{24, 24}, {12, 30}, {30, 12}, {2, 17}, {17, 2}, {9, 13}};
  test::for_each_drive_and_sense(shapes, [&](const CrossbarSpec& spec, int which) {
        const int64_t m = spec.rows, n = spec.cols;
        const RowMatrixXd g = random_matrix(m, n, 1e-6, 1e-4, 5000 + which);
        const auto x = linear(spec, g);
        const RowMatrixXd v = random_matrix(3, m, 0.0, 0.3, 6000 + which);
        for (BackendChoice b : {BackendChoice::kAuto, BackendChoice::kNative, BackendChoice::kEigen}) {
          CAPTURE(solvers::to_string(b));
          solvers::CrossbarSolveOptions opt;
          opt.solver.backend = b;
          opt.batch = solvers::BatchMethod::kDirect;
          solvers::CrossbarSolver direct(spec, g, devices::make_cell_model("linear"), opt);
          CHECK(direct.from_spec());
          CHECK(direct.circuit_build_s() == 0);
          const solvers::CrossbarSolution r = direct.solve(v);
          CHECK(r.summary.backend_used == "eigen");
          CHECK(r.summary.ordering_used == "geometric");
          CHECK(r.summary.max_backward_error < 1e-14);
          CHECK(test::max_rel(r.currents, solve(x, v, BackendChoice::kCholmod).currents) < 1e-12);
          if (b == BackendChoice::kAuto)
            CHECK(test::max_rel(r.currents, solve(x, v, BackendChoice::kNgspice).currents) < kAgreeRelTol);
        }
        // Its effective matrix by solves (min(M, N) of them through the same factor) and by the
        // port reduction, against the circuit path's by solves.
        solvers::CrossbarSolveOptions eo;
        eo.effective = solvers::EffectiveMethod::kSolves;
        eo.solver.backend = BackendChoice::kCholmod;
        const RowMatrixXd t_ref = solvers::CrossbarSolver(x, eo).effective_matrix();
        eo.solver.backend = BackendChoice::kNative;
        solvers::CrossbarSolver by_solves(spec, g, devices::make_cell_model("linear"), eo);
        CHECK(by_solves.from_spec());
        CHECK(test::max_rel(by_solves.effective_matrix(), t_ref) < 1e-12);
        CHECK(by_solves.summary().effective_method == "solves");
        eo.effective = solvers::EffectiveMethod::kAuto;
        solvers::CrossbarSolver by_ports(spec, g, devices::make_cell_model("linear"), eo);
        CHECK(test::max_rel(by_ports.effective_matrix(), t_ref) < 1e-12);
        CHECK(by_ports.summary().effective_method == "port-reduction");
  });
}

TEST_CASE("pcg agrees with ngspice on harsh arrays: cells near 1 mS, 10 ohm wires, ideal virtual grounds") {
  int which = 0;
  for (auto drive : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
    for (auto sense : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth}) {
      ++which;
      CrossbarSpec spec = harsh_spec(24, 20);
      spec.drive = drive;
      spec.sense = sense;
      CAPTURE(netlists::to_string(drive));
      CAPTURE(netlists::to_string(sense));
      const auto x = linear(spec, random_matrix(24, 20, 5e-4, 1e-3, 5000 + which));
      const RowMatrixXd v = random_matrix(2, 24, 0.05, 0.3, 6000 + which);
      const Solved p = solve(x, v, BackendChoice::kPcg);
      const Solved ng = solve(x, v, BackendChoice::kNgspice);
      CHECK(p.summary.backend_used == "pcg");
      CHECK(test::max_rel(p.currents, ng.currents) < kAgreeRelTol);
    }
}

TEST_CASE("pcg agrees with cholmod on a harsh 128 x 160 array for every sense end") {
  // Large enough that the cells (1 mS against 0.1 S wire segments over 128-160 cells) couple
  // the lines strongly: this is where CG needs the most iterations.
  for (auto sense : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth}) {
    CrossbarSpec spec = harsh_spec(128, 160);
    spec.sense = sense;
    spec.drive = DriveSide::kBoth;
    CAPTURE(netlists::to_string(sense));
    const auto x = linear(spec, random_matrix(128, 160, 5e-4, 1e-3, 71));
    const RowMatrixXd v = random_matrix(2, 128, 0.0, 0.3, 72);
    const Solved p = solve(x, v, BackendChoice::kPcg);
    const Solved c = solve(x, v, BackendChoice::kCholmod);
    CHECK(test::max_rel(p.currents, c.currents) < kAgreeRelTol);
  }
}

TEST_CASE("pcg iteration counts stay within a stated bound at 64^2, 128^2 and 256^2") {
  // The bound. With the coarse grid (coarse_space.h) each CG step shrinks the error 100-200-fold
  // whatever the size: the smooth two-dimensional modes, the only ones the wire lines leave, are
  // those a grid of spacing 1/sqrt(g R) resolves, and the coarse operator removes them. From the
  // first step's relative change of 1 to the default tol of 1e-11 that is 5-7 steps; measured
  // 6-7 from 256^2 to 4096^2 and with 10 ohm wires and cells up to 1 mS (bench/README.md).
  // The refinement round after it (pcg_backend.h: the long-double residual's correction to 1e-2
  // of its size) adds 2-4. kMaxIterations leaves margin for the random arrays. Without the
  // coarse grid the count grows as sqrt(g R) N (the line preconditioner's condition number
  // grows as g R N^2): the harsh 256^2 array then needs several times the bound, which the
  // last check shows.
  constexpr int64_t kMaxIterations = 12;
  for (int64_t size : {64, 128, 256}) {
    for (bool harsh : {false, true}) {
      CAPTURE(size);
      CAPTURE(harsh);
      CrossbarSpec spec = harsh ? harsh_spec(size, size) : CrossbarSpec{};
      spec.rows = spec.cols = size;
      const RowMatrixXd g = harsh ? random_matrix(size, size, 5e-4, 1e-3, 80 + size)
                                  : random_matrix(size, size, 1e-6, 1e-4, 80 + size);
      const Solved p = solve(linear(spec, g), random_matrix(1, size, 0.0, 0.2, 81), BackendChoice::kPcg);
      CHECK(p.summary.cg_coarse_unknowns > 0);
      CHECK(p.summary.cg_max_iterations <= kMaxIterations);
      CHECK(p.summary.cg_residual < 1e-12);
      if (harsh && size == 256) {
        solvers::CrossbarSolveOptions opt;
        opt.solver.linear.pcg.coarse.enabled = false;
        const Solved plain = solve(linear(spec, g), random_matrix(1, size, 0.0, 0.2, 81), BackendChoice::kPcg, opt);
        CHECK(plain.summary.cg_coarse_unknowns == 0);
        CHECK(plain.summary.cg_max_iterations > 3 * kMaxIterations);
      }
    }
  }
}

TEST_CASE("the accuracy estimate in the summary is not smaller than the true error") {
  // A loose tolerance leaves a measurable error; CHOLMOD gives the true one. The estimate is
  // the change CG's last step made to the currents, each relative to its own size.
  for (double tol : {1e-4, 1e-7}) {
    CAPTURE(tol);
    CrossbarSpec spec = harsh_spec(96, 96);
    const auto x = linear(spec, random_matrix(96, 96, 1e-5, 1e-3, 91));
    const RowMatrixXd v = random_matrix(1, 96, 0.05, 0.2, 92);
    solvers::CrossbarSolveOptions opt;
    opt.solver.linear.pcg.tol = tol;
    const Solved p = solve(x, v, BackendChoice::kPcg, opt);
    const Solved c = solve(x, v, BackendChoice::kCholmod);
    const double err = test::max_rel(p.currents, c.currents);
    CAPTURE(err);
    CAPTURE(p.summary.cg_accuracy_estimate);
    CHECK(p.summary.cg_accuracy_estimate <= tol);
    CHECK(err <= p.summary.cg_accuracy_estimate);
  }
}

namespace {

// The exact column currents of PCG's own system (the stencil it solves, assembled), to well
// below 1e-15: a CHOLMOD solve refined three times on residuals summed in long double, the
// currents summed in long double too. The referee of the accuracy estimate: an unrefined
// direct solve is itself off by 1e-13 to 5e-12 at these sizes (rounding amplified by the
// condition number), as much as the error to be bounded.
RowMatrixXd refined_currents(const CrossbarSpec& spec, const RowMatrixXd& g, const RowMatrixXd& v) {
  using LD = long double;
  solvers::PcgBackend pcg(solvers::LinearBackendOptions{});
  solvers::CrossbarOperator op(spec, g, pcg.pool());
  pcg.set_stencil(op.take_stencil());
  const solvers::SparseMatrix a = pcg.lines().matrix();
  const std::vector<int64_t> slots = pcg.lines().slots();
  solvers::CholmodBackend chol(solvers::LinearBackendOptions{});
  chol.analyze(a, pcg.lines().coords());
  chol.factorize(a);
  const int64_t mn = spec.rows * spec.cols, nu = int64_t(slots.size());
  RowMatrixXd out(v.rows(), spec.cols);
  std::vector<double> grid(size_t(2 * mn));
  for (int64_t k = 0; k < v.rows(); ++k) {
    op.rhs(v.row(k).data(), grid.data());
    Eigen::MatrixXd b(nu, 1);
    for (int64_t u = 0; u < nu; ++u) b(u, 0) = grid[size_t(slots[size_t(u)])];
    Eigen::MatrixXd x = chol.solve(b);
    for (int round = 0; round < 3; ++round) {
      std::vector<LD> r(static_cast<size_t>(nu));
      for (int64_t u = 0; u < nu; ++u) r[size_t(u)] = b(u, 0);
      for (int64_t c = 0; c < a.outerSize(); ++c)
        for (solvers::SparseMatrix::InnerIterator e(a, c); e; ++e) r[size_t(e.row())] -= LD(e.value()) * x(c, 0);
      Eigen::MatrixXd rd(nu, 1);
      for (int64_t u = 0; u < nu; ++u) rd(u, 0) = double(r[size_t(u)]);
      x += chol.solve(rd);
    }
    std::fill(grid.begin(), grid.end(), 0.0);
    for (int64_t u = 0; u < nu; ++u) grid[size_t(slots[size_t(u)])] = x(u, 0);
    const auto& cm = op.current_map_x();
    const auto& dm = op.current_map_v();
    for (int64_t j = 0; j < spec.cols; ++j) {
      LD i = 0;
      for (int64_t e = cm.ptr[size_t(j)]; e < cm.ptr[size_t(j) + 1]; ++e)
        i += LD(cm.coef[size_t(e)]) * grid[size_t(cm.index[size_t(e)])];
      for (int64_t e = dm.ptr[size_t(j)]; e < dm.ptr[size_t(j) + 1]; ++e)
        i += LD(dm.coef[size_t(e)]) * v(k, dm.index[size_t(e)]);
      out(k, j) = double(i);
    }
  }
  return out;
}

// The estimate's own measure: per column relative to its current, floored at kWatchFloor (1e-3)
// of the largest (pcg_backend.cc).
double floored_rel(const RowMatrixXd& got, const RowMatrixXd& ref) {
  double worst = 0;
  for (int64_t k = 0; k < ref.rows(); ++k) {
    const double floor_a = 1e-3 * ref.row(k).cwiseAbs().maxCoeff();
    for (int64_t j = 0; j < ref.cols(); ++j)
      worst = std::max(worst, std::abs(got(k, j) - ref(k, j)) / std::max(std::abs(ref(k, j)), floor_a));
  }
  return worst;
}

}  // namespace

TEST_CASE("pcg's accuracy estimate bounds its true error at the default tolerance, rounding included") {
  // Issue 21: the estimate was the last CG step's change, which misses the rounding CG
  // accumulates; at 256^2, 2.5 ohm the currents were 4.2e-13 off against an estimate of
  // 5.7e-14. Here the truth is the refined direct solve of PCG's own matrix.
  struct Case {
    int64_t size;
    bool harsh;
    double tol;
  };
  // Against the old estimate (the last step alone) the 128^2 and 256^2 cases fail: errors
  // 1.3e-13 and 4.1e-13 against estimates of 3.9e-15 and 5.7e-14.
  for (Case k : {Case{128, false, 1e-11}, Case{256, false, 1e-11}, Case{128, false, 1e-6}, Case{96, true, 1e-11}}) {
    CAPTURE(k.size);
    CAPTURE(k.harsh);
    CAPTURE(k.tol);
    CrossbarSpec spec = k.harsh ? harsh_spec(k.size, k.size) : CrossbarSpec{};
    spec.rows = spec.cols = k.size;
    const RowMatrixXd g = k.harsh ? random_matrix(k.size, k.size, 5e-4, 1e-3, 93)
                                  : random_matrix(k.size, k.size, 1e-6, 1e-4, 42);
    const RowMatrixXd v = random_matrix(1, k.size, 0.0, 0.2, 7);
    solvers::CrossbarSolveOptions opt;
    opt.solver.backend = BackendChoice::kPcg;
    opt.solver.linear.pcg.tol = k.tol;
    opt.batch = solvers::BatchMethod::kDirect;
    solvers::CrossbarSolver s(spec, g, devices::make_cell_model("linear"), opt);
    REQUIRE(s.from_spec());
    const solvers::CrossbarSolution r = s.solve(v);
    const double err = floored_rel(r.currents, refined_currents(spec, g, v));
    CAPTURE(err);
    CAPTURE(r.summary.cg_accuracy_estimate);
    CHECK(r.summary.cg_accuracy_estimate <= k.tol);
    CHECK(err <= r.summary.cg_accuracy_estimate);
  }
}

TEST_CASE("a batch solved by parallel CGs and the effective matrix through pcg both match cholmod") {
  // 40 x 56 and 56 x 40: the effective matrix takes forward solves (M < N) and adjoint ones
  // (M > N); 30 inputs go through both the direct batch and the effective matrix.
  for (auto mn : {std::pair<int64_t, int64_t>{40, 56}, {56, 40}}) {
    CrossbarSpec spec;
    spec.rows = mn.first;
    spec.cols = mn.second;
    spec.r_row_ohm = 3;
    spec.r_col_ohm = 5;
    spec.r_sense_ohm = 10;
    spec.sense = SenseSide::kBoth;
    const auto x = linear(spec, random_matrix(spec.rows, spec.cols, 1e-6, 5e-4, 101));
    const RowMatrixXd v = random_matrix(30, spec.rows, 0.0, 0.25, 102);
    const Solved ref = solve(x, v, BackendChoice::kCholmod);
    for (auto method : {solvers::BatchMethod::kDirect, solvers::BatchMethod::kEffective}) {
      CAPTURE(solvers::to_string(method));
      solvers::CrossbarSolveOptions opt;
      opt.batch = method;
      const Solved p = solve(x, v, BackendChoice::kPcg, opt);
      CHECK(p.summary.backend_used == "pcg");
      CHECK(test::max_rel(p.currents, ref.currents) < kAgreeRelTol);
    }
    solvers::CrossbarSolveOptions opt;
    opt.solver.backend = BackendChoice::kPcg;
    solvers::CrossbarSolver sp(x, opt);
    opt.solver.backend = BackendChoice::kCholmod;
    solvers::CrossbarSolver sc(x, opt);
    CHECK(test::max_rel(sp.effective_matrix(), sc.effective_matrix()) < kAgreeRelTol);
  }
}

TEST_CASE("Newton with sinh cells runs its inner solves through pcg and agrees with cholmod") {
  CrossbarSpec spec;
  spec.rows = 48;
  spec.cols = 40;
  spec.r_row_ohm = spec.r_col_ohm = 5;
  spec.r_sense_ohm = 0;
  devices::CellParams params;
  params.nl_k_per_v = 2.0;
  const auto x = netlists::build_crossbar(spec, random_matrix(48, 40, 1e-5, 5e-4, 111),
                                          devices::make_cell_model("sinh", params));
  const RowMatrixXd v = random_matrix(2, 48, 0.2, 0.6, 112);
  const Solved p = solve(x, v, BackendChoice::kPcg);
  const Solved c = solve(x, v, BackendChoice::kCholmod);
  CHECK(p.summary.backend_used == "pcg");
  CHECK(p.summary.cg_coarse_unknowns > 0);  // the coarse grid is rebuilt at every Jacobian
  CHECK(p.summary.newton_iterations > 2);
  CHECK(p.summary.cg_iterations >= p.summary.newton_iterations);
  CHECK(test::max_rel(p.currents, c.currents) < kAgreeRelTol);
}

TEST_CASE("pcg that stops at its iteration limit names the residual reached, or falls back to cholmod") {
  CrossbarSpec spec = harsh_spec(64, 64);
  const auto x = linear(spec, random_matrix(64, 64, 5e-4, 1e-3, 121));
  const RowMatrixXd v = random_matrix(2, 64, 0.0, 0.3, 122);
  solvers::CrossbarSolveOptions opt;
  opt.solver.linear.pcg.max_iterations = 3;  // far from enough for this array
  SUBCASE("without the fallback: a NumericalError with the residual and the change reached") {
    opt.solver.linear.pcg.fallback_to_cholmod = false;
    opt.solver.backend = BackendChoice::kPcg;
    solvers::CrossbarSolver s(x, opt);
    try {
      s.solve(v);
      FAIL("no error");
    } catch (const NumericalError& e) {
      const std::string msg = e.what();
      CAPTURE(msg);
      CHECK(msg.find("did not converge for 2 of 2") != std::string::npos);
      CHECK(msg.find("within 3 iterations (key pcg-max-iterations)") != std::string::npos);
      CHECK(msg.find("relative residual ") != std::string::npos);
      CHECK(msg.find("changed the column currents by ") != std::string::npos);
    }
  }
  SUBCASE("with the fallback: CHOLMOD takes over, says so, and gives CHOLMOD's answer") {
    const Solved c = solve(x, v, BackendChoice::kCholmod);
    for (bool grid : {true, false}) {  // matrix from the stencil, or the assembled one
      CAPTURE(grid);
      opt.grid_operator = grid;
      const Solved p = solve(x, v, BackendChoice::kPcg, opt);
      CHECK(p.summary.backend_requested == "pcg");
      CHECK(p.summary.backend_used == "cholmod");
      CHECK(p.summary.message.find("fell back to cholmod") != std::string::npos);
      CHECK(p.summary.message.find("pcg-max-iterations") != std::string::npos);
      CHECK(test::max_rel(p.currents, c.currents) < 1e-12);  // the same direct solve
    }
  }
}

TEST_CASE("the cholmod fallback also serves the effective matrix and Newton's inner solves") {
  solvers::CrossbarSolveOptions opt;
  opt.solver.linear.pcg.max_iterations = 3;  // far from enough for these arrays
  SUBCASE("effective matrix, both orientations") {
    for (auto [m, n] : {std::pair<int64_t, int64_t>{40, 56}, {56, 40}}) {
      CAPTURE(m);
      const auto x = linear(harsh_spec(m, n), random_matrix(m, n, 5e-4, 1e-3, 131));
      opt.solver.backend = BackendChoice::kPcg;
      solvers::CrossbarSolver p(x, opt);
      const RowMatrixXd tp = p.effective_matrix();
      CHECK(p.summary().backend_used == "cholmod");  // the fallback did take over
      solvers::CrossbarSolveOptions c_opt;
      c_opt.solver.backend = BackendChoice::kCholmod;
      solvers::CrossbarSolver c(x, c_opt);
      const RowMatrixXd tc = c.effective_matrix();
      CHECK(test::max_rel(tp, tc) < 1e-12);
    }
  }
  SUBCASE("Newton with sinh cells") {
    CrossbarSpec spec = harsh_spec(32, 28);
    devices::CellParams params;
    params.nl_k_per_v = 2.0;
    const auto x = netlists::build_crossbar(spec, random_matrix(32, 28, 5e-4, 1e-3, 141),
                                            devices::make_cell_model("sinh", params));
    const RowMatrixXd v = random_matrix(2, 32, 0.2, 0.5, 142);
    const Solved p = solve(x, v, BackendChoice::kPcg, opt);
    const Solved c = solve(x, v, BackendChoice::kCholmod);
    CHECK(p.summary.backend_used == "cholmod");
    CHECK(test::max_rel(p.currents, c.currents) < kAgreeRelTol);
  }
}

TEST_CASE("auto picks pcg from the measured crossover on and cholmod below it; pcg where it cannot apply says so") {
  {
    CrossbarSpec spec;  // 2 x 130 x 130 grid nodes less the 260 fixed ends: above the crossover
    spec.rows = spec.cols = 130;
    const RowMatrixXd g = random_matrix(130, 130, 1e-6, 1e-4, 131);
    const auto x = linear(spec, g);
    const Solved p = solve(x, random_matrix(1, 130, 0.0, 0.2, 132), BackendChoice::kAuto);
    REQUIRE(p.summary.unknowns >= solvers::kAutoPcgMinUnknowns);
    CHECK(p.summary.backend_used == "pcg");
    solvers::CrossbarSolveOptions opt;
    solvers::CrossbarSolver from_spec(spec, g, devices::make_cell_model("linear"), opt);
    CHECK(from_spec.from_spec());
    // A batch larger than min(M, N) goes through the effective matrix: one factor reused
    // 130 times, so auto picks CHOLMOD when told the batch size (up to 640^2), and a sinh array
    // (Newton, no effective matrix) of the same size keeps PCG.
    opt.expected_inputs = 131;
    opt.solver.backend = BackendChoice::kAuto;
    CHECK(solvers::effective_solver_options(x, opt).backend == BackendChoice::kNative);
    {
      // Native: a direct factorization (Eigen's, of the system written from the spec), not PCG.
      const solvers::CrossbarSolver direct(spec, g, devices::make_cell_model("linear"), opt);
      CHECK(direct.summary().backend_used == "eigen");
    }
    CHECK(solvers::effective_solver_options(700, 700, true, opt).backend == BackendChoice::kAuto);
    opt.expected_inputs = 130;
    CHECK(solvers::effective_solver_options(x, opt).backend == BackendChoice::kAuto);
    opt.expected_inputs = 131;
    opt.batch = solvers::BatchMethod::kDirect;
    CHECK(solvers::effective_solver_options(x, opt).backend == BackendChoice::kAuto);
    opt.batch = solvers::BatchMethod::kAuto;
    const auto nl = netlists::build_crossbar(spec, g, devices::make_cell_model("sinh"));
    CHECK(solvers::effective_solver_options(nl, opt).backend == BackendChoice::kAuto);
  }
  {
    CrossbarSpec spec;
    spec.rows = spec.cols = 64;
    const auto x = linear(spec, random_matrix(64, 64, 1e-6, 1e-4, 133));
    // Below the crossover an SPD array this small is factorized by Eigen (eigen_backend.h).
    CHECK(solve(x, random_matrix(1, 64, 0.0, 0.2, 134), BackendChoice::kAuto).summary.backend_used == "eigen");
  }
  {
    // Zero-ohm row wires behind a resistive driver merge each row into one free node: no row
    // lines left for the preconditioner.
    CrossbarSpec spec;
    spec.rows = 12;
    spec.cols = 9;
    spec.r_row_ohm = 0;
    spec.r_driver_ohm = 10;
    const auto x = linear(spec, random_matrix(12, 9, 1e-6, 1e-4, 135));
    const RowMatrixXd v = random_matrix(1, 12, 0.0, 0.2, 136);
    const Solved p = solve(x, v, BackendChoice::kPcg);
    CHECK(p.summary.backend_used == "cholmod");
    CHECK(p.summary.message.find("pcg requested but its line preconditioner does not apply") != std::string::npos);
    CHECK(test::max_rel(p.currents, solve(x, v, BackendChoice::kNgspice).currents) < kAgreeRelTol);
  }
}
