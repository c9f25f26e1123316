// Damped Newton-Raphson on the nodal equations of a circuit with nonlinear cells.
//
//   NewtonSolver newton(mna, backend, options);     // backend analyzed on mna.matrix()
//   NewtonResult r = newton.solve(s);                // s: source values of one input
//
// Each iteration evaluates every nonlinear element (cells: current and dI/dV; transistors:
// drain current and its derivatives by each terminal) at the present node voltages,
// refactorizes the Jacobian on the symbolic analysis done once for the pattern, and
// steps, with the largest node-voltage change limited to max_step_v (SPICE-style damping).
// Convergence is SPICE's test, all settable: every node |dv| <= reltol |v| + vntol_v and every
// KCL residual <= reltol * (largest cell current) + abstol_a. When plain Newton fails the
// solver tries gmin stepping (a shunt conductance to ground on every node, relaxed decade by
// decade to zero) and then source stepping (all sources ramped from 0 to their values); when
// nothing converges it throws xbar::NumericalError naming the node with the worst residual.
// Start: the solution linearized at 0 V across every cell (each cell at its small-signal
// conductance) and at V_ds = 0 across every transistor with its gate driven (its channel
// on-conductance), one linear solve (MnaSystem::add_zero_bias_jacobian).
#pragma once

#include <Eigen/Dense>
#include <string>

#include "solvers/linear_backend.h"
#include "solvers/mna_system.h"

namespace xbar::solvers {

struct NewtonOptions {
  // Relative tolerance on node voltages and on residual currents. ngspice defaults to 1e-3;
  // xbar is meant to be exact, and Newton converges quadratically, so the tight value costs
  // one or two extra iterations.
  double reltol = 1e-9;
  double vntol_v = 1e-12;        // absolute voltage tolerance, volts
  double abstol_a = 1e-15;       // absolute current tolerance, amperes (1 fA)
  int max_iterations = 100;      // per Newton run (each gmin or source step is one run)
  double max_step_v = 0.5;       // largest node-voltage change per iteration, volts (> 0)
  bool gmin_stepping = true;     // fall back to gmin stepping when plain Newton fails
  double gmin_start_s = 1e-3;    // first shunt conductance of gmin stepping, siemens
  bool source_stepping = true;   // then to source stepping
  int source_steps = 10;         // initial number of source ramp steps (halved on failure)
  // Throws xbar::InputError naming the key when a field is out of range.
  void validate() const;
};

struct NewtonResult {
  Eigen::VectorXd x;       // converged unknowns
  int iterations = 0;      // Newton iterations, all stages together
  std::string strategy;    // "newton", "gmin stepping" or "source stepping"
  double residual_a = 0;   // final largest KCL residual, amperes
  double factorize_s = 0;  // time in Jacobian factorizations
};

class NewtonSolver {
 public:
  NewtonSolver(const MnaSystem& mna, LinearBackend& backend, const NewtonOptions& options);
  NewtonResult solve(const Eigen::VectorXd& s);

 private:
  // One damped Newton run from x at source scale alpha with shunt gmin; true on convergence.
  bool run(Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin, int& iterations,
           double& residual, int64_t& worst);
  // f = KCL residual at x; with refactor, also the Jacobian at x, factorized.
  void factorize_at(const Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin,
                    Eigen::VectorXd& f, double& scale, bool refactor);
  void factorize();  // jac_ as it stands, timing it into factorize_s_
  const MnaSystem& mna_;
  LinearBackend& backend_;
  NewtonOptions options_;
  SparseMatrix jac_;  // the Jacobian, same pattern as mna_.matrix()
  double factorize_s_ = 0;
};

}  // namespace xbar::solvers
