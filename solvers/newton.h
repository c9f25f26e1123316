// Damped Newton-Raphson on the nodal equations of a circuit with nonlinear cells.
//
//   NewtonSolver newton(mna, backend, options);     // analyzes backend (see below)
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
// on-conductance), one linear solve (MnaSystem::add_zero_bias_jacobian). That system is
// symmetric positive definite and is solved by conjugate gradients with an incomplete
// Cholesky preconditioner to 1e-6 relative residual in a few steps, which saves a
// factorization (~2.5 ms of a 1T1R read at 64^2: the first one now happens at the start point,
// where Newton needs it); where CG does not apply or converge, the system is factorized.
//
// Static condensation: the internal nodes of MnaSystem::internal_nodes() (a 1T1R cell's node
// between memory element and transistor) are eliminated from each linearized system before
// it is factorized: with J = [J_kk J_ke; J_ek J_ee] (e: internal nodes, J_ee diagonal) the
// backend factorizes the Schur complement S = J_kk - J_ke J_ee^-1 J_ek, whose only new entries
// join the two neighbours of each internal node (a 1T1R cell's row and column node, as a
// two-terminal cell would), and the internal nodes' updates follow by back substitution. The
// Newton step is the same as on the full system, so are the iterations and the answer; the
// factorization shrinks from 3MN to 2MN unknowns. The constructor therefore analyzes the
// backend itself, on the pattern of S (with the grid coordinates of the kept unknowns).
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
  // Inputs solved together (CircuitSolver::solve with at least kMinBatchedInputs columns) share
  // one Jacobian: chord steps batched over the inputs, the same convergence test
  // (batched_newton.h), with a direct back end (CHOLMOD, KLU; not PCG). false: one Newton
  // solve per input, the referee of the tests.
  bool batch = true;
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
  // One implicit stage of a transient (solvers/transient.h): solves
  //   A x + cells(x) + diag(shunt_s) x = rhs(s) + extra_a
  // (shunt_s: each unknown's capacitance over the step's scale, siemens; extra_a: the stage's
  // history currents) by damped Newton from x0, the previous time point. No gmin or source
  // stepping: a stage that does not converge returns *converged = false and the integrator
  // shortens its step.
  NewtonResult solve_shifted(const Eigen::VectorXd& s, const Eigen::VectorXd& shunt_s,
                             const Eigen::VectorXd& extra_a, Eigen::VectorXd x0, bool* converged);

 private:
  // One damped Newton run from x at source scale alpha with shunt gmin; true on convergence.
  bool run(Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin, int& iterations,
           double& residual, int64_t& worst);
  // The convergence test of every Newton or chord step (file comment): dx the update from x
  // (after damping), step its largest entry before damping, residual the largest KCL residual
  // at x and scale the largest element current there.
  bool converged(const Eigen::Ref<const Eigen::VectorXd>& x, const Eigen::Ref<const Eigen::VectorXd>& dx, double step, double residual,
                 double scale) const;
  // f = KCL residual at x; with refactor, also the Jacobian at x, factorized.
  void factorize_at(const Eigen::VectorXd& x, const Eigen::VectorXd& s, double gmin,
                    Eigen::VectorXd& f, double& scale, bool refactor);
  // The start point for source values s (see the file comment).
  Eigen::VectorXd start(const Eigen::VectorXd& s);
  // schur_ from jac_ (no-op without internal nodes).
  void condense();
  // The matrix the backend factorizes: schur_, or jac_ itself without internal nodes.
  const SparseMatrix& reduced() const { return internal_.empty() ? jac_ : schur_; }
  // jac_ as it stands, condensed, factorized; timed into factorize_s_.
  void factorize();
  // J^-1 r through the last factorization (and, with internal nodes, the condensation).
  Eigen::VectorXd solve_jacobian(const Eigen::VectorXd& r) const;
  // The same for every column of r in one multi-right-hand-side substitution (batched_newton.h).
  Eigen::MatrixXd solve_jacobian_columns(const Eigen::MatrixXd& r) const;
  friend class BatchedNewton;  // chord steps through this solver's factorization (batched_newton.h)
  // J^-1 r around reduced_solve(g) = reduced()^-1 g, with the values of the last condense().
  template <class ReducedSolve>
  Eigen::VectorXd solve_condensed(const Eigen::VectorXd& r, ReducedSolve&& reduced_solve) const;
  // Builds the pattern of the Schur complement and the maps into it (constructor).
  void build_condensation();
  const MnaSystem& mna_;
  LinearBackend& backend_;
  // solve_shifted(): the stage's diagonal shunt and extra right-hand side (null otherwise).
  const Eigen::VectorXd* shunt_ = nullptr;
  const Eigen::VectorXd* extra_ = nullptr;
  NewtonOptions options_;
  SparseMatrix jac_;  // the Jacobian, same pattern as mna_.matrix()
  double factorize_s_ = 0;
  int64_t factorizations_ = 0;  // ever: tells BatchedNewton whether its reference still stands
  // Static condensation (empty without internal nodes: the backend then factorizes jac_).
  struct Internal {
    int64_t unknown = 0;            // the eliminated unknown e
    int64_t slot_ee = 0;            // J(e, e) in jac_.valuePtr()
    int n = 0;                      // neighbours (at most two)
    int64_t nb[2] = {0, 0};         // their indices among the kept unknowns
    int64_t slot_ne[2] = {0, 0};    // J(nb, e) in jac_
    int64_t slot_en[2] = {0, 0};    // J(e, nb) in jac_
    int64_t slot_s[2][2] = {{0, 0}, {0, 0}};  // S(nb_a, nb_b) in schur_.valuePtr()
  };
  std::vector<Internal> internal_;
  std::vector<int64_t> kept_;        // kept unknown -> unknown of the full system
  SparseMatrix schur_;               // S over the kept unknowns
  std::vector<int64_t> schur_from_;  // per entry of S: its slot in jac_, or -1 (fill only)
};

}  // namespace xbar::solvers
