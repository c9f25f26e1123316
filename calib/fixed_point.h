// The iteration shared by every compensation map (internal to calib/): a projected fixed
// point in the cell conductances, with exact reachability reports, and the search for the
// largest target scale that fits the device window.
//
//   FixedPointProblem p{measure, propose, solves};
//   FixedScaleRun r = run_fixed_point(p, target, g0, options);   // one scale
//   Compensation c = search_scale(p, g_target, s0, options, t0);  // --scale auto
//
// The problem supplies measure(g), the exact quantity that must equal the target cell by cell
// (linear arrays: the effective matrix T(g); nonlinear: each cell's current at the operating
// input), and propose(g, measured, pinned), the next iterate before the window clip. A cell
// at a bound whose measurement still misses its target (under-delivers at g_max,
// over-delivers at g_min) is pinned there and reported, decided on the exact measurement and
// never on a model. Anderson acceleration (Walker & Ni 2011) is optional; the run stops at
// the tolerance, the iteration cap, or a stall (no halving of the residual in 6 iterations).
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "calib/compensation.h"

namespace xbar::calib {

struct FixedPointProblem {
  std::function<RowMatrixXd(const RowMatrixXd& g, double& seconds)> measure;
  std::function<RowMatrixXd(const RowMatrixXd& g, const RowMatrixXd& measured,
                            const std::vector<uint8_t>& pinned)> propose;
  std::function<int64_t()> solves;  // linear solves spent so far
  // Optional, for --scale auto: the iterate that the next step would give at another scale s,
  // from an exact measurement at (g, measured). Lets the scale be searched on the cheap model
  // between exact trials; without it the search uses secant steps on exact trials alone.
  std::function<RowMatrixXd(double s, const RowMatrixXd& g, const RowMatrixXd& measured)> predict;
  std::string measured_name = "T";   // in progress lines: "max |T - sG|"
  // The largest conductance a trial of the --scale auto search may propose, as a multiple of
  // g_max. The search lifts the window's upper bound to see how far above g_max a trial's map
  // lands; any cell above it already makes the trial infeasible, so a finite bound changes no
  // outcome. Cells that cannot take arbitrary conductances set one: a flash cell at 5000 x
  // g_max is a threshold of -5000 V, whose EKV terms are so large that its current's round-off
  // exceeds Newton's tolerance and the trial's solve cannot converge.
  double trial_g_max_ratio = INFINITY;
};

struct FixedScaleRun {
  RowMatrixXd g, t;  // last iterate and its measurement
  Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> status;
  int64_t above = 0, below = 0;
  int iterations = 0;
  int64_t solves = 0;
  bool converged = false;
  double residual_rel = 0;
  std::vector<double> history;
};

// retarget (optional): the target for the iteration in progress, from its exact measurement
// (the joint scale search of --scale auto); empty = the fixed target.
using Retarget = std::function<RowMatrixXd(const RowMatrixXd& g, const RowMatrixXd& measured)>;
// Throws InputError naming the first target cell outside [g_min, g_max].
void require_in_window(const RowMatrixXd& g_target_s, const devices::ConductanceRange& range);

FixedScaleRun run_fixed_point(const FixedPointProblem& p, const RowMatrixXd& target, RowMatrixXd g0,
                              const CompensationOptions& o, const Retarget& retarget = {});

// The map at scale o.scale, or with o.scale_auto the largest s <= 1 with every cell under
// g_max, searched from s0 (a scale below the root). target_at(s): the target at scale s;
// start_at(s): a first iterate for it.
Compensation solve_compensation(const FixedPointProblem& p,
                                const std::function<RowMatrixXd(double)>& target_at,
                                const std::function<RowMatrixXd(double)>& start_at, double s0,
                                const CompensationOptions& o,
                                std::chrono::steady_clock::time_point t0);

}  // namespace xbar::calib
