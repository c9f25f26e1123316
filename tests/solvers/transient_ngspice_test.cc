// ngspice as the referee of the native transient: small arrays with capacitors and stepped
// inputs, `.tran` through libngspice on the same deck with matched time steps (TMAX = the
// native step); waveforms at the native step times, settling times and energy compared at
// issue 20's acceptance bounds, and both referees against the exact solution.
#include <doctest/doctest.h>

#include "support/random_array.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/transient_referee.h"
#include "tests/solvers/transient_exact.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::RowMatrixXd;

namespace {

// Issue 20's acceptance bounds: waveforms within 1e-4 of full scale at the step times,
// settling times within one step, energy within 0.1%.
constexpr double kWaveformTol = 1e-4;
constexpr double kSettlingSteps = 1.0;
constexpr double kEnergyRelTol = 1e-3;
// Each referee against the closed form at 5 fs steps: both second-order methods leave
// ~4e-6 of full scale (measured); 2e-5 leaves room and still catches a wrong circuit or
// step, which shows at 1e-3 and beyond.
constexpr double kExactTol = 2e-5;

netlists::CrossbarCircuit build(const CrossbarSpec& s, const RowMatrixXd& g) {
  return netlists::build_crossbar(s, g, devices::make_cell_model("linear"));
}

CrossbarSpec spec(int64_t m, int64_t n, double r_end) {
  CrossbarSpec s;
  s.rows = m;
  s.cols = n;
  s.r_driver_ohm = r_end;
  s.r_sense_ohm = r_end;
  s.c_row_f = 1e-15;
  s.c_col_f = 2e-15;
  return s;
}

solvers::CrossbarTransientOptions fixed(double h, double t_stop, double t_rise = 0) {
  solvers::CrossbarTransientOptions o;
  o.transient.time_step_s = h;
  o.transient.t_stop_s = t_stop;
  o.transient.t_rise_s = t_rise;
  return o;
}

void check_agreement(const solvers::TransientComparison& c) {
  CAPTURE(c.max_waveform_diff);
  CAPTURE(c.max_settling_diff_steps);
  CAPTURE(c.energy_rel_diff);
  CHECK(c.max_waveform_diff < kWaveformTol);
  CHECK(c.max_settling_diff_steps <= kSettlingSteps);
  CHECK(c.energy_rel_diff < kEnergyRelTol);
  CHECK(c.native.all_settled);
}

}  // namespace

TEST_CASE("native and ngspice transients agree with each other and with the exact solution") {
  const CrossbarSpec s = spec(3, 4, 50);
  const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 7);
  const Eigen::VectorXd v = Eigen::Vector3d(0.2, 0.1, 0.15);
  const auto x = build(s, g);
  for (const double t_rise : {0.0, 0.2e-12}) {
    CAPTURE(t_rise);
    const auto c = solvers::compare_transient(x, v, fixed(5e-15, 8e-12, t_rise));
    check_agreement(c);
    const auto ex = test::exact(s, g, v, t_rise);
    CHECK(test::max_error(c.native.run, ex) < kExactTol);
    double ng = 0;  // ngspice at its own time points (after its ramp)
    for (Eigen::Index k = 0; k < c.ngspice.times_s.size(); ++k)
      if (c.ngspice.times_s(k) >= c.deck_rise_s)
        ng = std::max(ng, (c.ngspice_columns.row(k).transpose() - ex.columns(c.ngspice.times_s(k))).cwiseAbs().maxCoeff());
    CHECK(ng / c.native.run.output_scale < kExactTol);
  }
}

TEST_CASE("ngspice agrees at matched steps for every drive, sense and capacitance option") {
  struct Case {
    int64_t m, n;
    double r_end, c_row, c_col;
    netlists::DriveSide drive;
    netlists::SenseSide sense;
  };
  const Case cases[] = {
      {4, 5, 0.0, 1e-15, 2e-15, netlists::DriveSide::kLeft, netlists::SenseSide::kBottom},   // held nodes
      {4, 5, 20.0, 1e-15, 2e-15, netlists::DriveSide::kBoth, netlists::SenseSide::kBoth},
      {5, 3, 20.0, 0.0, 2e-15, netlists::DriveSide::kRight, netlists::SenseSide::kTop},      // rows without C
      {3, 6, 10.0, 1e-15, 0.0, netlists::DriveSide::kLeft, netlists::SenseSide::kBottom},    // columns without C
  };
  for (const Case& k : cases) {
    CAPTURE(k.m);
    CAPTURE(k.n);
    CAPTURE(k.r_end);
    CrossbarSpec s = spec(k.m, k.n, k.r_end);
    s.c_row_f = k.c_row;
    s.c_col_f = k.c_col;
    s.drive = k.drive;
    s.sense = k.sense;
    const RowMatrixXd g = support::uniform_matrix(k.m, k.n, 1e-6, 1e-4, 20 + uint64_t(k.m * k.n));
    const Eigen::VectorXd v = support::uniform_matrix(1, k.m, 0.05, 0.3, 21).row(0).transpose();
    // A 0.1 ps ramp: both integrate the same PWL input; the wire modes (~1 fs here) then
    // follow it smoothly instead of ringing down from an ideal step, which a fixed step would
    // have to resolve first (the ideal step is checked above against the exact solution).
    check_agreement(solvers::compare_transient(build(s, g), v, fixed(2e-15, 5e-12, 0.1e-12)));
  }
}

TEST_CASE("an adaptive native run agrees with ngspice's own step control") {
  const CrossbarSpec s = spec(4, 4, 30);
  const RowMatrixXd g = support::uniform_matrix(4, 4, 1e-6, 1e-4, 30);
  const Eigen::VectorXd v = Eigen::Vector4d(0.2, 0.0, 0.1, 0.3);
  solvers::CrossbarTransientOptions o;
  o.transient.t_stop_s = 8e-12;
  o.transient.lte_tol = 1e-6;
  solvers::TransientRefereeOptions r;
  r.t_max_s = 5e-15;
  const auto c = solvers::compare_transient(build(s, g), v, o, r);
  check_agreement(c);
  // The adaptive run took far fewer steps than ngspice took time points.
  CHECK(c.native.run.steps * 4 < c.ngspice.times_s.size());
}

TEST_CASE("nonlinear cells: Newton on every stage agrees with ngspice's transient of the B-source deck") {
  // sinh (a nonlinear two-terminal cell), selector (an internal node between memory resistor
  // and selector, without capacitance) and 1T1R (an internal node and a transistor per cell,
  // gate lines held at 1.8 V): the internal nodes make the first step backward Euler.
  for (const char* cell : {"sinh", "selector", "1t1r"}) {
    CAPTURE(cell);
    CrossbarSpec s = spec(3, 4, 20);
    const RowMatrixXd g = support::uniform_matrix(3, 4, 1e-5, 1e-4, 40);
    const Eigen::VectorXd v = Eigen::Vector3d(0.5, 0.2, 0.4);
    const auto x = netlists::build_crossbar(s, g, devices::make_cell_model(cell, devices::CellParams{}));
    // A 0.1 ps ramp (both integrate the same PWL) and the ideal step (the native run starts
    // with backward Euler where nodes jump), adaptive native steps, ngspice up to 2 fs.
    for (const double t_rise : {0.1e-12, 0.0}) {
      CAPTURE(t_rise);
      solvers::CrossbarTransientOptions o;
      o.transient.t_stop_s = 5e-12;
      o.transient.t_rise_s = t_rise;
      o.transient.lte_tol = 1e-6;
      solvers::TransientRefereeOptions r;
      r.t_max_s = 2e-15;
      const auto c = solvers::compare_transient(x, v, o, r);
      CAPTURE(c.native.run.message);
      check_agreement(c);
    }
  }
}
