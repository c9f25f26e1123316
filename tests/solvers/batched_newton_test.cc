// Batched Newton (solvers/batched_newton.h): many inputs of one nonlinear array through one
// reference Jacobian give the answers of one Newton solve per input, for every cell kind, with
// wires, driver and sense resistance; the per-input fallback where the chord iteration
// stalls; the reference kept across calls; and one batch against ngspice.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/batched_newton.h"
#include "solvers/crossbar_solver.h"
#include "solvers/mna_system.h"
#include "tests/solvers/referees.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::RowMatrixXd;
using netlists::SenseSide;
using solvers::BackendChoice;
using test::max_rel;

namespace {

// Each answer, batched or per input, is within one Newton tolerance (reltol |x| + vntol_v,
// newton.h) of the exact solution: the last update bounds the error left after it (Newton
// converges quadratically; a chord step that was accepted shrank the residual at least
// twofold, so what is left is at most the size of that step). Two answers are therefore within
// twice that of each other, node by node, measured against the largest node voltage.
constexpr double kToleranceMultiple = 2.0;
// Column currents against ngspice (reltol 1e-9 in the deck): the project's agreement bound on
// nonlinear arrays (tests/solvers/nonlinear_test.cc), three orders above either stopping rule.
constexpr double kNgspiceRelTol = 1e-6;
// Node voltages against ngspice, volts, on reads of at most 0.5 V: the same bound.
constexpr double kNgspiceNodeTolV = 1e-6;

struct Solved {
  RowMatrixXd currents;
  Eigen::MatrixXd nodes;  // every circuit node, num_nodes x K
  solvers::SolveSummary summary;
};

Solved solve(const netlists::CrossbarCircuit& x, const RowMatrixXd& v, bool batch,
             BackendChoice be = BackendChoice::kNative) {
  solvers::CrossbarSolveOptions opt;
  opt.solver.backend = be;
  opt.solver.newton.batch = batch;
  opt.keep_voltages = true;
  solvers::CrossbarSolver s(x, opt);
  auto r = s.solve(v);
  return {r.currents, r.all_node_voltages, r.summary};
}

// Largest node-voltage difference over kToleranceMultiple Newton tolerances.
double in_tolerances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  const solvers::NewtonOptions n;
  const double tol = kToleranceMultiple * (n.reltol * b.cwiseAbs().maxCoeff() + n.vntol_v);
  return (a - b).cwiseAbs().maxCoeff() / tol;
}

CrossbarSpec wired(int64_t rows, int64_t cols) {
  CrossbarSpec spec;
  spec.rows = rows;
  spec.cols = cols;
  spec.r_row_ohm = 2.5;
  spec.r_col_ohm = 4;
  spec.r_driver_ohm = 20;
  spec.r_sense_ohm = 10;
  return spec;
}

// A wired sinh array (k = 3/V) of random conductances in [1, 100] uS.
netlists::CrossbarCircuit sinh_array(int64_t rows, int64_t cols, uint64_t seed) {
  const CrossbarSpec spec = wired(rows, cols);
  devices::CellParams p;
  p.nl_k_per_v = 3.0;
  const RowMatrixXd g = support::uniform_matrix(rows, cols, 1e-6, 1e-4, seed);
  return netlists::build_crossbar(spec, g, devices::make_cell_model("sinh", p));
}

// S x K source values: `inputs` random row-voltage vectors in [0, 0.3] V on the rows' sources.
Eigen::MatrixXd row_sources(const solvers::MnaSystem& mna, const netlists::CrossbarCircuit& x,
                            int64_t inputs, uint64_t seed) {
  const int64_t rows = x.spec.rows;
  const RowMatrixXd v = support::uniform_matrix(inputs, rows, 0.0, 0.3, seed);
  Eigen::MatrixXd s = Eigen::MatrixXd::Zero(mna.num_sources(), v.rows());
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < v.rows(); ++k) s(x.source_row[size_t(i)], k) = v(k, i);
  return s;
}

}  // namespace

TEST_CASE("a batch through one Jacobian gives each input's own Newton answer for every nonlinear cell kind") {
  struct Case {
    const char* what;
    const char* cell;
    double value_lo, value_hi;  // conductance G (siemens) or, flash, threshold voltage
    double v_lo, v_hi;          // row voltages
    DriveSide drive;
    SenseSide sense;
  };
  const Case cases[] = {
      {"sinh k = 3/V", "sinh", 1e-6, 1e-4, 0.0, 0.3, DriveSide::kLeft, SenseSide::kBottom},
      {"selector", "selector", 1e-6, 1e-4, 0.0, 0.5, DriveSide::kBoth, SenseSide::kBottom},
      {"1t1r", "1t1r", 1e-6, 1e-4, 0.0, 0.5, DriveSide::kLeft, SenseSide::kBoth},
      {"flash, linear region", "flash", 0.2, 0.9, 0.0, 0.2, DriveSide::kLeft, SenseSide::kBottom},
      {"flash, subthreshold", "flash", 2.3, 3.0, 0.1, 0.5, DriveSide::kBoth, SenseSide::kTop},
  };
  constexpr int64_t kInputs = 12;
  int seed = 0;
  for (const Case& c : cases) {
    CAPTURE(std::string(c.what));
    ++seed;
    CrossbarSpec spec = wired(12, 10);
    spec.drive = c.drive;
    spec.sense = c.sense;
    devices::CellParams p;
    p.nl_k_per_v = 3.0;
    const RowMatrixXd values = support::uniform_matrix(spec.rows, spec.cols, c.value_lo, c.value_hi, 10 + seed);
    const RowMatrixXd v = support::uniform_matrix(kInputs, spec.rows, c.v_lo, c.v_hi, 20 + seed);
    const auto x = netlists::build_crossbar(spec, values, devices::make_cell_model(c.cell, p));
    const Solved batched = solve(x, v, true);
    const Solved one = solve(x, v, false);
    CHECK(batched.summary.newton_batched_inputs == kInputs);
    CHECK(batched.summary.newton_chord_steps >= kInputs);  // every input took chord steps
    CHECK(one.summary.newton_batched_inputs == 0);
    MESSAGE(std::string(c.what) << ": chord steps " << batched.summary.newton_chord_steps << ", per-input fallbacks "
                   << batched.summary.newton_fallbacks << ", per-input Newton iterations "
                   << one.summary.newton_iterations);
    CHECK(in_tolerances(batched.nodes, one.nodes) <= 1.0);
    CHECK(max_rel(batched.currents, one.currents) < kNgspiceRelTol);
  }
}

TEST_CASE("inputs too far from the reference for the chord iteration finish by the per-input Newton") {
  // sinh at k = 6/V: half the inputs at 0.05 V on every row, half at 0.8 V. The reference
  // (their mean, 0.425 V) has cell conductances cosh(2.55) = 6.4 times the small-signal G,
  // against 1.05 at 0.05 V and 60.8 at 0.8 V: the chord matrix is 6x too stiff for the low
  // inputs (contraction ~0.85 per step) and 10x too soft for the high ones (it diverges).
  CrossbarSpec spec = wired(10, 10);
  devices::CellParams p;
  p.nl_k_per_v = 6.0;
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 1e-6, 1e-4, 7);
  RowMatrixXd v(8, spec.rows);
  for (int64_t k = 0; k < v.rows(); ++k) v.row(k).setConstant(k % 2 ? 0.8 : 0.05);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("sinh", p));
  const Solved batched = solve(x, v, true);
  const Solved one = solve(x, v, false);
  CHECK(batched.summary.newton_batched_inputs == v.rows());
  CHECK(batched.summary.newton_fallbacks >= v.rows() / 2);  // at least the diverging half
  CHECK(in_tolerances(batched.nodes, one.nodes) <= 1.0);
  CHECK(max_rel(batched.currents, one.currents) < kNgspiceRelTol);
}

TEST_CASE("the reference Jacobian is kept across calls and refactorized when something else factorized") {
  const auto x = sinh_array(9, 11, 3);
  solvers::MnaSystem mna(x.circuit);
  auto be = solvers::make_linear_backend(solvers::LinearBackendKind::kCholmod, {});
  solvers::NewtonSolver newton(mna, *be, {});
  solvers::BatchedNewton batch(newton);
  auto sources = [&](uint64_t seed) { return row_sources(mna, x, 6, seed); };
  auto per_input = [&](const Eigen::MatrixXd& s) {
    Eigen::MatrixXd xs(mna.size(), s.cols());
    for (int64_t k = 0; k < s.cols(); ++k) xs.col(k) = newton.solve(s.col(k)).x;
    return xs;
  };
  const Eigen::MatrixXd s1 = sources(1), s2 = sources(2), s3 = sources(3);
  const solvers::BatchedNewtonResult a = batch.solve(s1);
  CHECK(a.factorize_s > 0);  // the first call factorizes its reference
  const solvers::BatchedNewtonResult b = batch.solve(s2);
  CHECK(b.factorize_s == 0);  // kept, and nothing factorized since
  const Eigen::MatrixXd ref1 = per_input(s1), ref2 = per_input(s2);  // factorizes
  const solvers::BatchedNewtonResult c = batch.solve(s3);
  CHECK(c.factorize_s > 0);  // refactorized at the kept reference
  CHECK(a.fallbacks + b.fallbacks + c.fallbacks == 0);
  CHECK(in_tolerances(a.x, ref1) <= 1.0);
  CHECK(in_tolerances(b.x, ref2) <= 1.0);
  CHECK(in_tolerances(c.x, per_input(s3)) <= 1.0);
}

TEST_CASE("inputs stopped by the chord steps' contraction are within Newton's tolerance, node by node") {
  // The early stop of batched_newton.cc (step 3) accepts an iterate when the error the next
  // steps would remove, estimated from the contraction, is within the tolerance. Referee: the
  // same circuit solved per input to a tolerance a thousand times tighter (quadratic Newton).
  const auto x = sinh_array(24, 24, 5);
  solvers::MnaSystem mna(x.circuit);
  const Eigen::MatrixXd s = row_sources(mna, x, 40, 6);
  auto be = solvers::make_linear_backend(solvers::LinearBackendKind::kCholmod, {});
  solvers::NewtonSolver newton(mna, *be, {});
  const solvers::BatchedNewtonResult r = solvers::BatchedNewton(newton).solve(s);
  CHECK(r.fallbacks == 0);
  CHECK(r.predicted_stops > 0);  // the rule under test was used
  solvers::NewtonOptions tight;
  tight.reltol = 1e-12;
  tight.vntol_v = 1e-15;
  auto be_tight = solvers::make_linear_backend(solvers::LinearBackendKind::kCholmod, {});
  solvers::NewtonSolver exact(mna, *be_tight, tight);
  const solvers::NewtonOptions o;
  double worst = 0;  // largest node error over that node's own tolerance
  for (int64_t k = 0; k < s.cols(); ++k) {
    const Eigen::VectorXd ref = exact.solve(s.col(k)).x;
    for (int64_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, std::abs(r.x(i, k) - ref(i)) / (o.reltol * std::abs(ref(i)) + o.vntol_v));
  }
  CHECK(worst <= 1.0);
}

TEST_CASE("a batched sinh array agrees with ngspice") {
  CrossbarSpec spec = wired(8, 8);
  spec.drive = DriveSide::kBoth;
  devices::CellParams p;
  p.nl_k_per_v = 5.0;  // 3x the linear current at 0.5 V
  const RowMatrixXd g = support::uniform_matrix(spec.rows, spec.cols, 1e-6, 1e-4, 41);
  const RowMatrixXd v = support::uniform_matrix(5, spec.rows, 0.0, 0.5, 42);
  const auto x = netlists::build_crossbar(spec, g, devices::make_cell_model("sinh", p));
  const Solved batched = solve(x, v, true);
  const Solved ng = solve(x, v, true, BackendChoice::kNgspice);
  REQUIRE(batched.summary.newton_batched_inputs == v.rows());
  CHECK(max_rel(batched.currents, ng.currents) < kNgspiceRelTol);
  CHECK((batched.nodes - ng.nodes).cwiseAbs().maxCoeff() < kNgspiceNodeTolV);
}

TEST_CASE("batched Newton options out of range are refused naming the key") {
  solvers::BatchedNewtonOptions o;
  o.block = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("newton-block"), InputError);
  o = {};
  o.max_chord_steps = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("max-chord-steps"), InputError);
}
