// The native transient (solvers/transient.h, crossbar_transient.h) against closed forms: a
// single RC node (exactly, step by step, for both methods, and against the continuous
// solution), a small array against its eigen-decomposition (computed here from a dense nodal
// model assembled independently of MnaSystem), the DC limit against CrossbarSolver, energy
// against its closed form (exactly the discrete charge balance) and V I t for a purely
// resistive array, and the keys of every bad parameter.
#include <doctest/doctest.h>

#include <cmath>

#include "support/input_error.h"
#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/crossbar_solver.h"
#include "solvers/crossbar_transient.h"
#include "solvers/settling.h"
#include "tests/solvers/transient_exact.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::RowMatrixXd;
using solvers::CrossbarTransientOptions;
using solvers::TransientMethod;
using test::ExactSolution;
using test::exact;
using test::max_error;

namespace {

netlists::CrossbarCircuit build(const CrossbarSpec& spec, const RowMatrixXd& g) {
  return netlists::build_crossbar(spec, g, devices::make_cell_model("linear"));
}

CrossbarSpec small_spec() {
  CrossbarSpec s;
  s.rows = 3;
  s.cols = 4;
  s.r_row_ohm = 2.5;
  s.r_col_ohm = 2.5;
  s.r_driver_ohm = 100;
  s.r_sense_ohm = 50;
  s.c_row_f = 1e-15;
  s.c_col_f = 2e-15;
  return s;
}

}  // namespace


namespace {

// Tolerances. A direct solve per step loses a few ulps; a recurrence followed exactly agrees
// to rounding, far below any modelling error.
constexpr double kRoundingTol = 1e-12;
// PCG stops each solve once a step changed the solution by less than 1e-11 relative.
constexpr double kPcgTol = 1e-9;
// The back ends every main case runs on: CHOLMOD and PCG (transient auto's choice for
// crossbar grids); KLU takes the recurrence test.
constexpr solvers::BackendChoice kBackends[] = {solvers::BackendChoice::kCholmod, solvers::BackendChoice::kPcg};

double solver_tol(solvers::BackendChoice b) {
  return b == solvers::BackendChoice::kPcg ? kPcgTol : kRoundingTol;
}
// Adaptive runs at lte-tol 1e-7 stay within 1e-5 of full scale of the exact solution here:
// the global error of a run is ~10-40 times its per-step tolerance (measured on these arrays).
constexpr double kAdaptiveTightLte = 1e-7;
constexpr double kAdaptiveTightTol = 1e-5;
// Energy: the integrator's charge balance is exact (transient.h), so once settled the energy
// matches the closed form to rounding of the sums over the steps.
constexpr double kEnergyRelTol = 1e-9;

// |a - b| / |b|. (doctest::Approx adds 1 to its scale, so on femtojoules it would compare
// nothing: every relative comparison here goes through this.)
double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

CrossbarTransientOptions tight(double t_stop_s, solvers::BackendChoice b = solvers::BackendChoice::kAuto) {
  CrossbarTransientOptions o;
  o.transient.t_stop_s = t_stop_s;
  o.transient.lte_tol = kAdaptiveTightLte;
  o.transient.backend = b;
  return o;
}

}  // namespace

TEST_CASE("a single RC node follows the exact recurrence of each method and the closed form") {
  // One cell between a row node (capacitance C, driver R from V) and an ideal virtual ground:
  // C v' = (V - v) / R - G v, v(t) = v_inf (1 - e^-t/tau), tau = C / (1/R + G), I = G v.
  CrossbarSpec s;
  s.rows = 1;
  s.cols = 1;
  s.r_driver_ohm = 200;
  s.c_row_f = 3e-15;
  s.c_col_f = 5e-15;  // on the virtual-ground node itself: held at 0 V, no effect
  const double g = 1e-3, v = 0.3, r = s.r_driver_ohm, c = s.c_row_f;
  const auto x = build(s, RowMatrixXd::Constant(1, 1, g));
  const Eigen::VectorXd vin = Eigen::VectorXd::Constant(1, v);
  const double tau = c / (1 / r + g), v_inf = v / r / (1 / r + g), i_inf = g * v_inf;
  const double h = 0.1 * tau;
  for (const auto b : {solvers::BackendChoice::kCholmod, solvers::BackendChoice::kKlu, solvers::BackendChoice::kPcg})
  for (const TransientMethod m : {TransientMethod::kBackwardEuler, TransientMethod::kTrBdf2}) {
    CAPTURE(solvers::to_string(m));
    CAPTURE(solvers::to_string(b));
    CrossbarTransientOptions o;
    o.transient.method = m;
    o.transient.time_step_s = h;
    o.transient.t_stop_s = 50 * h;
    o.transient.backend = b;
    const auto res = solvers::crossbar_transient(x, vin, o);
    CHECK(res.run.backend == solvers::to_string(b));
    REQUIRE(res.run.times_s.size() == 51);
    // Growth factor per step of e = v - v_inf for y' = -y / tau at z = -h / tau.
    const double z = -h / tau;
    const double rho = m == TransientMethod::kBackwardEuler
                           ? 1 / (1 - z)
                           : ((1 + 0.58578643762690495 * z / 2) / (1 - 0.58578643762690495 * z / 2) *
                                  (1 / (0.58578643762690495 * (2 - 0.58578643762690495))) -
                              (1 - 0.58578643762690495) * (1 - 0.58578643762690495) /
                                  (0.58578643762690495 * (2 - 0.58578643762690495))) /
                                 (1 - (1 - 1 / std::sqrt(2.0)) * z);
    double worst = 0;
    for (int k = 0; k <= 50; ++k) {
      CHECK(std::abs(res.run.times_s(k) - k * h) <= 1e-14 * h);
      worst = std::max(worst, std::abs(res.run.outputs(k, 0) - i_inf * (1 - std::pow(rho, k))));
    }
    CHECK(worst / i_inf < solver_tol(b));
  }
  // Adaptive, against the continuous solution; then the settling time (where
  // i_inf e^-t/tau = band) and the energy, V/R (V t - v_inf (t - tau (1 - e^-t/tau))).
  CrossbarTransientOptions o = tight(40 * tau);
  o.settle_tol = 1e-3;
  o.full_scale_a = i_inf;
  const auto res = solvers::crossbar_transient(x, vin, o);
  double worst = 0;
  for (Eigen::Index k = 0; k < res.run.times_s.size(); ++k)
    worst = std::max(worst, std::abs(res.run.outputs(k, 0) - i_inf * -std::expm1(-res.run.times_s(k) / tau)));
  CHECK(worst / i_inf < kAdaptiveTightTol);
  CHECK(res.run.times_s(res.run.times_s.size() - 1) == 40 * tau);
  const double t_settle = tau * std::log(1 / 1e-3);
  REQUIRE(res.all_settled);
  Eigen::Index k = 0;  // the step that contains the exact settling time
  while (res.run.times_s(k + 1) < t_settle) ++k;
  CHECK(std::abs(res.settling_s(0) - t_settle) <= res.run.times_s(k + 1) - res.run.times_s(k));
  const double t = 40 * tau;
  const double e_exact = v / r * (v * t - v_inf * (t + tau * std::expm1(-t / tau)));
  CHECK(rel(res.run.energy_j, e_exact) < kEnergyRelTol);
  CHECK(rel(res.run.static_power_w, v * (v - v_inf) / r) < 1e-14);
  CHECK(rel(res.run.stored_energy_j, 0.5 * c * v_inf * v_inf) < 1e-9);
}

TEST_CASE("a small array matches its eigen-decomposition, at second order for TR-BDF2") {
  const CrossbarSpec s = small_spec();
  const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 7);
  const Eigen::VectorXd v = Eigen::Vector3d(0.2, 0.1, 0.15);
  const auto x = build(s, g);
  const ExactSolution ex = exact(s, g, v);
  // The slowest mode here has tau = 1 / lambda_min = 0.4 ps; 16 ps is 40 time constants.
  const double t_stop = 16e-12;
  for (const auto b : kBackends) {
    CAPTURE(solvers::to_string(b));
    const auto adaptive = solvers::crossbar_transient(x, v, tight(t_stop, b));
    CHECK(max_error(adaptive.run, ex) < kAdaptiveTightTol);
    CHECK((adaptive.run.outputs_dc - ex.columns_of(ex.x_dc)).cwiseAbs().maxCoeff() <
          solver_tol(b) * adaptive.run.output_scale);
  }
  // Fixed steps from 20 fs down: halving the step divides the error by 2^order.
  for (const TransientMethod m : {TransientMethod::kTrBdf2, TransientMethod::kBackwardEuler}) {
    CAPTURE(solvers::to_string(m));
    double previous = 0;
    for (const double h : {20e-15, 10e-15, 5e-15}) {
      CrossbarTransientOptions o;
      o.transient.method = m;
      o.transient.time_step_s = h;
      o.transient.t_stop_s = 4e-12;
      const double err = max_error(solvers::crossbar_transient(x, v, o).run, ex);
      CAPTURE(h);
      CAPTURE(err);
      if (previous > 0) {
        const double order = std::log2(previous / err);
        CHECK(order > (m == TransientMethod::kTrBdf2 ? 1.8 : 0.9));
        CHECK(order < (m == TransientMethod::kTrBdf2 ? 2.2 : 1.1));
      }
      previous = err;
    }
  }
}

TEST_CASE("nodes without capacitance jump to their consistent values at the step") {
  // Rows without capacitance: at t = 0+ the row lines are at the values KCL gives them with
  // every column node still at 0 V (capacitor voltages cannot jump), and the column currents
  // rise from there; columns without capacitance follow the rows' capacitors algebraically.
  for (const bool rows_without : {true, false}) {
    CAPTURE(rows_without);
    CrossbarSpec s = small_spec();
    (rows_without ? s.c_row_f : s.c_col_f) = 0;
    const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-3, 15);
    const Eigen::VectorXd v = Eigen::Vector3d(0.2, 0.1, 0.15);
    const auto x = build(s, g);
    const ExactSolution ex = exact(s, g, v);
    const auto res = solvers::crossbar_transient(x, v, tight(16e-12));
    CHECK(max_error(res.run, ex) < kAdaptiveTightTol);
    // The first point is the state just after the step: exactly the algebraic solution.
    CHECK((res.run.outputs.row(0).transpose() - ex.columns(0)).cwiseAbs().maxCoeff() <
          kRoundingTol * res.run.output_scale);
    CHECK(rel(res.run.energy_j, ex.energy(16e-12, ex.state(16e-12))) < kEnergyRelTol);
  }
}

TEST_CASE("a ramped input matches the exact ramp response") {
  const CrossbarSpec s = small_spec();
  const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 8);
  const Eigen::VectorXd v = Eigen::Vector3d(0.05, 0.2, 0.1);
  const auto x = build(s, g);
  const double t_rise = 0.3e-12;
  const ExactSolution ex = exact(s, g, v, t_rise);
  CrossbarTransientOptions o = tight(16e-12);
  o.transient.t_rise_s = t_rise;
  const auto res = solvers::crossbar_transient(x, v, o);
  CHECK(max_error(res.run, ex) < kAdaptiveTightTol);
  // t_rise is a time point (the end of the ramp is a breakpoint of both intervals' ladders).
  bool hit = false;
  for (Eigen::Index k = 0; k < res.run.times_s.size(); ++k) hit = hit || res.run.times_s(k) == t_rise;
  CHECK(hit);
}

TEST_CASE("the energy drawn matches the charge balance of the exact solution") {
  const CrossbarSpec s = small_spec();
  const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 9);
  const Eigen::VectorXd v = Eigen::Vector3d(0.2, 0.2, 0.05);
  const auto x = build(s, g);
  const ExactSolution ex = exact(s, g, v);
  const double t_stop = 20e-12;
  const double e_exact = ex.energy(t_stop, ex.state(t_stop));
  for (const auto b : kBackends)
  for (const TransientMethod m : {TransientMethod::kTrBdf2, TransientMethod::kBackwardEuler}) {
    CAPTURE(solvers::to_string(m));
    CAPTURE(solvers::to_string(b));
    // Fixed steps far coarser than the fast modes: the charge balance is exact whatever h.
    CrossbarTransientOptions o;
    o.transient.backend = b;
    o.transient.method = m;
    o.transient.time_step_s = 0.1e-12;
    o.transient.t_stop_s = t_stop;
    const auto res = solvers::crossbar_transient(x, v, o);
    CHECK(rel(res.run.energy_j, e_exact) < kEnergyRelTol);
    CHECK(rel(res.row_energy_j.sum(), res.run.energy_j) < 1e-14);
    o.transient.time_step_s = 0;
    CHECK(rel(solvers::crossbar_transient(x, v, o).run.energy_j, e_exact) < kEnergyRelTol);
  }
}

TEST_CASE("the transient ends at the DC solve of the same array for every drive and sense option") {
  for (const auto drive : {netlists::DriveSide::kLeft, netlists::DriveSide::kBoth})
    for (const auto sense : {netlists::SenseSide::kBottom, netlists::SenseSide::kBoth})
      for (const double r_end : {0.0, 20.0}) {
        CAPTURE(netlists::to_string(drive));
        CAPTURE(netlists::to_string(sense));
        CAPTURE(r_end);
        CrossbarSpec s;
        s.rows = 6;
        s.cols = 5;
        s.drive = drive;
        s.sense = sense;
        s.r_driver_ohm = r_end;
        s.r_sense_ohm = r_end;
        s.c_row_f = 0.5e-15;
        s.c_col_f = 1.5e-15;
        const RowMatrixXd g = support::uniform_matrix(6, 5, 1e-6, 1e-4, 11);
        const auto x = build(s, g);
        const Eigen::VectorXd v = support::uniform_matrix(1, 6, 0.0, 0.3, 12).row(0).transpose();
        solvers::CrossbarSolveOptions so;
        so.solver.backend = solvers::BackendChoice::kCholmod;
        solvers::CrossbarSolver dc(x, so);
        const Eigen::VectorXd i_dc = dc.solve(v.transpose()).currents.row(0).transpose();
        const double fs = i_dc.cwiseAbs().maxCoeff();
        for (const auto b : kBackends) {
          CAPTURE(solvers::to_string(b));
          CrossbarTransientOptions o;
          o.transient.backend = b;
          o.transient.t_stop_s = 1e-9;  // hundreds of time constants: the waveform has settled
          const auto res = solvers::crossbar_transient(x, v, o);
          CHECK((res.run.outputs_dc - i_dc).cwiseAbs().maxCoeff() / fs < solver_tol(b));
          const Eigen::VectorXd last = res.run.outputs.row(res.run.outputs.rows() - 1).transpose();
          CHECK((last - i_dc).cwiseAbs().maxCoeff() / fs < solver_tol(b));
          CHECK(res.run.steady_from_s > 0);  // the run found its steady state before t_stop
          // And without the early end: a fixed step integrates to t_stop; L-stable steps damp
          // every mode, so the last point is the DC solution too.
          o.transient.time_step_s = 5e-12;
          const auto fixed = solvers::crossbar_transient(x, v, o);
          const Eigen::VectorXd last_fixed = fixed.run.outputs.row(fixed.run.outputs.rows() - 1).transpose();
          CHECK((last_fixed - i_dc).cwiseAbs().maxCoeff() / fs < solver_tol(b));
          CHECK(fixed.run.steady_from_s < 0);
        }
      }
}

TEST_CASE("a purely resistive array draws exactly V I t and its currents never move") {
  CrossbarSpec s;
  s.rows = 4;
  s.cols = 3;
  s.drive = netlists::DriveSide::kBoth;
  s.r_driver_ohm = 15;
  const RowMatrixXd g = support::uniform_matrix(4, 3, 1e-5, 1e-3, 13);
  const auto x = build(s, g);
  const Eigen::VectorXd v = Eigen::Vector4d(0.1, 0.25, 0.0, 0.2);
  solvers::CrossbarSolveOptions so;
  so.keep_voltages = true;
  so.solver.backend = solvers::BackendChoice::kCholmod;
  solvers::CrossbarSolver dc(x, so);
  const auto sol = dc.solve(v.transpose());
  // V I summed over every row source (each row has two, left and right): SPICE sign, so the
  // power delivered is -V I.
  double p = 0;
  for (size_t k = 0; k < x.source_row.size(); ++k)
    if (x.source_row[k] >= 0) p -= v(x.source_row[k]) * sol.all_source_currents(Eigen::Index(k), 0);
  const double t_stop = 3e-9;
  for (const auto b : kBackends)
  for (const double h : {0.0, 1e-10}) {
    CAPTURE(h);
    CAPTURE(solvers::to_string(b));
    CrossbarTransientOptions o;
    o.transient.t_stop_s = t_stop;
    o.transient.time_step_s = h;
    o.transient.backend = b;
    const auto res = solvers::crossbar_transient(x, v, o);
    CHECK(rel(res.run.energy_j, p * t_stop) < solver_tol(b));
    CHECK(rel(res.run.static_power_w, p) < solver_tol(b));
    CHECK(res.run.stored_energy_j == 0);
    for (Eigen::Index k = 0; k < res.run.times_s.size(); ++k)
      CHECK((res.run.outputs.row(k) - sol.currents.row(0)).cwiseAbs().maxCoeff() <
            solver_tol(b) * sol.currents.cwiseAbs().maxCoeff());
    CHECK(res.run.factorizations == 1);  // every step is the DC matrix
  }
}

TEST_CASE("capacitors on nodes a source holds draw half C V squared each") {
  // r-driver = 0: each row's first node is the source's own node; r-sense = 0: each column's
  // bottom node is the virtual ground, at 0 V (no energy).
  CrossbarSpec s;
  s.rows = 3;
  s.cols = 4;
  s.c_row_f = 2e-15;
  s.c_col_f = 1e-15;
  const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 14);
  const auto x = build(s, g);
  const Eigen::VectorXd v = Eigen::Vector3d(0.2, 0.1, 0.3);
  CrossbarTransientOptions o;
  o.transient.t_stop_s = 1e-12;
  const auto res = solvers::crossbar_transient(x, v, o);
  CHECK(rel(res.run.fixed_cap_energy_j, 0.5 * s.c_row_f * v.squaredNorm()) < 1e-14);
  CHECK(res.run.energy_j > res.run.fixed_cap_energy_j);
}

TEST_CASE("settling time is where the waveform leaves the band for the last time") {
  const Eigen::VectorXd t = Eigen::VectorXd::LinSpaced(6, 0, 5);
  // Final value 1, band 0.1: outside at t = 3 (0.8), inside from t = 4 (0.95): the line from
  // (3, -0.2) to (4, -0.05) crosses -0.1 at t = 3 + 2/3.
  Eigen::VectorXd w(6);
  w << 0, 0.5, 1.3, 0.8, 0.95, 1.02;
  auto st = solvers::settling_time(t, w, 1.0, 0.1);
  CHECK(st.settled);
  CHECK(std::abs(st.time_s - (3 + 2.0 / 3)) < 1e-15);
  // Overshoot above the band last: from (2, 0.3) to (3, -0.2) the line leaves +0.25 at 2.1.
  w << 0, 0.5, 1.3, 0.8, 0.95, 1.02;
  st = solvers::settling_time(t, w, 1.0, 0.25);
  CHECK(std::abs(st.time_s - 2.1) < 1e-15);
  // Still outside at the end: not settled, reported at the last time.
  w(5) = 1.5;
  st = solvers::settling_time(t, w, 1.0, 0.1);
  CHECK_FALSE(st.settled);
  CHECK(st.time_s == 5);
  // Never outside: settled from the first sample.
  st = solvers::settling_time(t, Eigen::VectorXd::Constant(6, 1.0), 1.0, 0.1);
  CHECK(st.settled);
  CHECK(st.time_s == 0);
  // Half an LSB of an 8-bit ADC.
  CHECK(solvers::default_settle_tol(8) == 0.5 / 256);
}

TEST_CASE("bad transient parameters are refused naming the key") {
  CrossbarSpec s = small_spec();
  const RowMatrixXd g = RowMatrixXd::Constant(3, 4, 1e-5);
  const Eigen::VectorXd v = Eigen::Vector3d(0.1, 0.1, 0.1);
  s.c_row_f = -1e-15;
  CHECK_THROWS_WITH_AS(build(s, g), doctest::Contains("key c-row = -1e-15"), InputError);
  s = small_spec();
  const auto x = build(s, g);
  auto expect = [&](const CrossbarTransientOptions& o, const char* text) {
    CHECK_THROWS_WITH_AS(solvers::crossbar_transient(x, v, o), doctest::Contains(text), InputError);
  };
  CrossbarTransientOptions o;
  o.transient.t_stop_s = 0;
  expect(o, "key t-stop = 0: must be finite and > 0");
  o.transient.t_stop_s = -1e-9;
  expect(o, "key t-stop = -1e-09");
  o = {};
  o.transient.t_stop_s = 1e-9;
  o.transient.time_step_s = 2e-9;
  expect(o, "key time-step = 2e-09: must not exceed t-stop = 1e-09");
  o.transient.time_step_s = -1e-12;
  expect(o, "key time-step = -1e-12");
  o = {};
  o.transient.t_rise_s = o.transient.t_stop_s;
  expect(o, "key t-rise");
  o = {};
  o.transient.lte_tol = 0;
  expect(o, "key lte-tol = 0");
  o = {};
  o.transient.time_step_s = 1e-18;  // 1e10 steps: refused before any work
  expect(o, "more than max-steps");
  o = {};
  o.error_adc_bits = 0;
  expect(o, "key error-adc-bits = 0");
  o = {};
  o.settle_tol = 1.5;
  expect(o, "key settle-tol = 1.5");
  o = {};
  o.full_scale_a = -1;
  expect(o, "key full-scale = -1");
  CHECK_THROWS_WITH_AS(solvers::parse_transient_method("gear"), doctest::Contains("key integrator = 'gear'"),
                       InputError);
  o = {};
  o.transient.backend = solvers::BackendChoice::kNgspice;
  expect(o, "key backend = ngspice");
  CHECK_THROWS_WITH_AS(solvers::crossbar_transient(x, Eigen::Vector2d(0.1, 0.1), CrossbarTransientOptions{}),
                       doctest::Contains("expected rows = 3"), InputError);
  // An adaptive run that needs more steps than allowed stops with a numerical error.
  o = {};
  o.transient.max_steps = 3;
  CHECK_THROWS_WITH_AS(solvers::crossbar_transient(x, v, o), doctest::Contains("max-steps = 3"), NumericalError);
}

TEST_CASE("a back end asked for where it does not apply falls back and says so") {
  // Ideal row wires merge each row's nodes into one unknown: not a grid of wire lines, so the
  // line preconditioner of PCG does not apply.
  CrossbarSpec s = small_spec();
  s.r_row_ohm = 0;
  const auto x = build(s, support::uniform_matrix(3, 4, 1e-5, 1e-4, 16));
  CrossbarTransientOptions o;
  o.transient.backend = solvers::BackendChoice::kPcg;
  o.transient.t_stop_s = 1e-12;
  const auto res = solvers::crossbar_transient(x, Eigen::Vector3d(0.1, 0.2, 0.3), o);
  CHECK(res.run.backend == "cholmod");
  CHECK(res.run.message.find("pcg requested but its line preconditioner does not apply") != std::string::npos);
  o.transient.backend = solvers::BackendChoice::kAuto;
  CHECK(solvers::crossbar_transient(x, Eigen::Vector3d(0.1, 0.2, 0.3), o).run.backend == "cholmod");
}

TEST_CASE("nonlinear cells end at the DC Newton solve of the same array") {
  for (const char* cell : {"sinh", "selector", "1t1r"}) {
    CAPTURE(cell);
    CrossbarSpec s;
    s.rows = 4;
    s.cols = 3;
    s.r_sense_ohm = 10;
    s.c_row_f = 1e-15;
    s.c_col_f = 2e-15;
    devices::CellParams params;
    params.v_gate_v = 1.8;
    const auto x = netlists::build_crossbar(s, support::uniform_matrix(4, 3, 1e-5, 1e-4, 17),
                                            devices::make_cell_model(cell, params));
    const Eigen::VectorXd v = Eigen::Vector4d(0.5, 0.3, 0.0, 0.4);
    solvers::CrossbarSolveOptions so;
    so.solver.backend = solvers::BackendChoice::kNative;
    solvers::CrossbarSolver dc(x, so);
    const Eigen::VectorXd i_dc = dc.solve(v.transpose()).currents.row(0).transpose();
    CrossbarTransientOptions o;
    o.transient.t_stop_s = 1e-9;
    const auto res = solvers::crossbar_transient(x, v, o);
    CAPTURE(res.run.message);
    const double fs = i_dc.cwiseAbs().maxCoeff();
    // Newton stops at reltol 1e-9 of the cell currents, both in the DC solve and in the run.
    CHECK((res.run.outputs_dc - i_dc).cwiseAbs().maxCoeff() / fs < 1e-8);
    const Eigen::VectorXd last = res.run.outputs.row(res.run.outputs.rows() - 1).transpose();
    CHECK((last - i_dc).cwiseAbs().maxCoeff() / fs < 1e-8);
    CHECK(res.run.newton_iterations > 0);
    CHECK(res.all_settled);
  }
}
