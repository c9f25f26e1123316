// Many inputs of one nonlinear circuit through one Jacobian: chord iterations batched over the
// inputs, with the per-input Newton of newton.h where the chord iteration is slow.
//
//   NewtonSolver newton(mna, backend, options);
//   BatchedNewton batch(newton);
//   BatchedNewtonResult r = batch.solve(s);   // s: S x K source values -> r.x: n x K
//
// Why: a per-input Newton solve factorizes the Jacobian 4-5 times per input (a 128 x 128 sinh
// tile: ~25 ms per factorization against ~1 ms per substitution), so a network's nonlinear tiles
// spent nearly all their time refactorizing for every image (issue 21, point 6). The Jacobians
// of the inputs of one array differ only in the cells' small-signal conductances, so one
// factorization serves them all as the chord (simplified Newton) matrix.
//
// How:
//   1. Reference: the mean of the K inputs' source values, linearized as Newton's start
//      (every cell at its zero-bias conductance, one linear solve: NewtonSolver::start()), and
//      the Jacobian at that point factorized once: J_ref. Measured on a 128 x 128 sinh tile, this
//      contracts as well as the Jacobian at the mean input's converged solution (6.2 chord
//      steps per image either way) for one factorization instead of five. Later calls keep the
//      reference (a caller that solves a large batch in blocks pays for it once) and
//      refactorize at it only when something else has factorized in between. A call where
//      most inputs went to the per-input Newton drops it: the next call solves the mean of its
//      own inputs to convergence (NewtonSolver::solve, every fallback included) instead.
//   2. Chord iterations for every input at once, from the reference point:
//        x_k <- x_k - J_ref^-1 f_k(x_k)
//      f_k: the exact KCL residual of input k (MnaSystem::nonlinear_residual); the K
//      substitutions of a step are one multi-right-hand-side solve (blocks of
//      BatchedNewtonOptions::block inputs). Damping as Newton's (max_step_v).
//   3. Convergence: input k stops on exactly the test of NewtonSolver::run (newton.h): every
//      node's update |dx| <= reltol max(|x|, |x + dx|) + vntol_v, no damping, and the residual
//      before the update <= reltol (largest cell current) + abstol_a. run() applies the same
//      test to its own chord steps, so an input answered here meets the tolerance the
//      per-input solve meets. An input whose steps contract at least tenfold also stops one
//      step early when the same test holds for the remainder its contraction predicts
//      (theta / (1 - theta) times this update, theta times this residual): a chord step's
//      last update moves the answer by only theta tolerances, one step in six of a network's
//      tiles (bench/nonlinear_batch; the test checks each node against a tighter solve).
//   4. Slow inputs: an input whose residual shrinks less than kMinChordContraction-fold in a
//      step (the reference Jacobian is too far from its own), or that has not converged after
//      max_chord_steps, continues with the per-input Newton (refactorizing; from its chord
//      iterate, and from scratch with gmin and source stepping if that fails). These run after
//      every chord input is done, since they replace the shared factorization.
// The answers are therefore those of a Newton solve to the same tolerance; the tests compare
// them with NewtonSolver::solve per input and with ngspice.
//
// Any cell kind works (two-terminal cells, 1T1R with their internal nodes condensed, Flash
// transistor cells): only residuals and substitutions are batched.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "solvers/newton.h"

namespace xbar::solvers {

struct BatchedNewtonOptions {
  // Chord steps allowed per input before it goes to the per-input Newton.
  int max_chord_steps = 40;
  // Inputs per multi-right-hand-side substitution; bounds the scratch to a few n x block
  // matrices (n unknowns). 32 keeps CHOLMOD's supernodal solve in BLAS-3.
  int block = 32;
  // Throws InputError naming the key when a field is out of range.
  void validate() const;
};

struct BatchedNewtonResult {
  Eigen::MatrixXd x;                 // n x K converged unknowns
  std::vector<int> iterations;       // per input: chord steps + Newton iterations
  std::vector<std::string> strategy; // per input: "chord", or the per-input Newton's strategy
  double residual_a = 0;             // largest final KCL residual over the inputs, amperes
  int reference_iterations = 0;      // Newton iterations of a converged reference (else 0)
  int64_t chord_steps = 0;           // over every input
  int64_t fallbacks = 0;             // inputs finished by the per-input Newton
  int64_t predicted_stops = 0;       // inputs stopped by the contraction estimate (step 3)
  double factorize_s = 0;            // all factorizations (reference, fallbacks)
};

class BatchedNewton {
 public:
  explicit BatchedNewton(NewtonSolver& newton, const BatchedNewtonOptions& options = {});
  // Solves every column of s (S x K source values), K >= 1. Throws NumericalError as
  // NewtonSolver::solve when an input converges by no strategy.
  BatchedNewtonResult solve(const Eigen::MatrixXd& s);

 private:
  NewtonSolver& newton_;
  BatchedNewtonOptions options_;
  bool have_reference_ = false;
  bool newton_reference_ = false;  // the next reference: converged (true) or the start point
  Eigen::VectorXd s_ref_, x_ref_;  // the reference input and its solution
  int64_t reference_factorization_ = -1;  // NewtonSolver::factorizations_ after J_ref was factorized
};

}  // namespace xbar::solvers
