// The --scale auto search of the shared compensation iteration (calib/fixed_point.h), on a
// problem with a closed form: every cell in series with its own wire conductance gw, so it
// carries t = g gw / (g + gw) and saturates at gw however large g grows (the wire-limited cell
// that makes trials above the root run away). The map for target s G is g' = s G gw / (gw - s G),
// and the largest scale with every cell under g_max is s* = min_ij g_max gw / ((g_max + gw) G).
#include "calib/fixed_point.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

#include "support/input_error.h"

namespace xbar::calib {

namespace {

// The search stops within its own relative bracket (5e-3 in log s) below the root, and the
// final map sits a hair (1e-2 at most) under it; anything further off is a wrong root.
constexpr double kScaleBelowRootTol = 2e-2;
// A trial's measurement beyond this multiple of g_max throws, as a flash cell's Newton solve
// did at 5000 x g_max (its current's round-off above the solver's tolerance).
constexpr double kUnsolvableRatio = 50;

struct SeriesWires {
  RowMatrixXd g_target, gw;
  double g_max_s = 1e-4;
  double largest_measured_s = 0;  // the largest conductance measure() was handed
  RowMatrixXd target;

  FixedPointProblem problem() {
    FixedPointProblem p;
    p.measured_name = "I";
    p.measure = [this](const RowMatrixXd& g, double& seconds) {
      seconds = 0;
      largest_measured_s = std::max(largest_measured_s, g.maxCoeff());
      if (g.maxCoeff() > kUnsolvableRatio * g_max_s) throw NumericalError("a cell too far above g-max to solve");
      return RowMatrixXd(g.cwiseProduct(gw).cwiseQuotient(g + gw));
    };
    p.propose = [this](const RowMatrixXd& g, const RowMatrixXd& t, const std::vector<uint8_t>&) {
      return RowMatrixXd(g.cwiseProduct(target).cwiseQuotient(t));
    };
    p.solves = [] { return int64_t(0); };
    return p;
  }
  double closed_form_root() const {
    return (g_max_s * gw.array() / ((g_max_s + gw.array()) * g_target.array())).minCoeff();
  }
  Compensation solve(const FixedPointProblem& p, double s0) {
    CompensationOptions o;
    o.range.g_min_s = 1e-6;
    o.range.g_max_s = g_max_s;
    o.scale_auto = true;
    o.tol = 1e-9;
    return solve_compensation(
        p, [this](double s) { return target = s * g_target; }, [this](double s) -> RowMatrixXd { return s * g_target; },
        s0, o, std::chrono::steady_clock::now());
  }
};

SeriesWires wire_limited() {
  SeriesWires w;
  w.g_target.resize(2, 3);
  w.g_target << 9e-5, 5e-5, 2e-6, 7e-5, 1e-4, 1e-4;
  // The far cells' wires (the right column) limit them: the last cell saturates below its own
  // target, so every scale above ~0.3 has no map at all and its trial runs away.
  w.gw.resize(2, 3);
  w.gw << 1e-2, 1e-3, 1.1e-4, 1e-2, 1e-3, 3e-5;
  return w;
}

}  // namespace

TEST_CASE("scale auto finds the closed-form root of wire-limited cells, its trials bounded by trial_g_max_ratio") {
  SeriesWires w = wire_limited();
  FixedPointProblem p = w.problem();
  p.trial_g_max_ratio = 10;
  // Start above the root: the first trial's map runs away to the bound.
  const Compensation c = w.solve(p, 1.0);
  const double root = w.closed_form_root();
  REQUIRE(root < 0.99);
  CHECK(c.converged);
  CHECK(c.needs_above_max == 0);
  CHECK(c.scale <= root);
  CHECK(c.scale >= root * (1 - kScaleBelowRootTol));
  CHECK(c.g_s.maxCoeff() <= w.g_max_s);
  CHECK(w.largest_measured_s <= p.trial_g_max_ratio * w.g_max_s);
}

TEST_CASE("a scale auto trial whose circuit cannot be solved counts as infeasible, and the search goes on below it") {
  SeriesWires w = wire_limited();
  const FixedPointProblem p = w.problem();  // trials unbounded: the first one reaches the throwing measure
  const Compensation c = w.solve(p, 1.0);
  CHECK(w.largest_measured_s > kUnsolvableRatio * w.g_max_s);
  const double root = w.closed_form_root();
  CHECK(c.converged);
  CHECK(c.scale <= root);
  CHECK(c.scale >= root * (1 - kScaleBelowRootTol));
}

TEST_CASE("when every trial fails to solve, the search's error carries the last failure") {
  SeriesWires w = wire_limited();
  FixedPointProblem p = w.problem();
  p.measure = [](const RowMatrixXd&, double&) -> RowMatrixXd { throw NumericalError("the circuit is singular"); };
  CHECK_THROWS_WITH_AS(w.solve(p, 1.0), doctest::Contains("the circuit is singular"), NumericalError);
}

}  // namespace xbar::calib
