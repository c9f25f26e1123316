// SolveSummary: what a solve was asked to do, what it actually did, and what it cost.
// Every solve returns one; the CLI writes it into result.json.
#pragma once

#include <cstdint>
#include <string>

namespace xbar::solvers {

struct SolveSummary {
  std::string backend_requested;  // "auto", "native", "cholmod", "klu", "pcg" or "ngspice"
  std::string backend_used;       // "cholmod", "klu", "pcg" or "ngspice"
  std::string ordering_used;      // fill-reducing ordering of the direct solver, "lines" for
                                  // pcg, "" for ngspice
  std::string batch_method;       // "direct" (one solve per input) or "effective-matrix"
  std::string effective_method;   // how the effective matrix was computed, when it was:
                                  // "port-reduction" or "solves" (crossbar_solver.h)
  int64_t unknowns = 0;           // size of the solved system (free nodes + branch currents)
  int64_t matrix_nonzeros = 0;    // nonzeros of the assembled matrix (both triangles)
  double factor_nonzeros = 0;     // nonzeros of the factor(s)
  double factor_flops = 0;
  int64_t inputs = 0;             // input vectors solved
  int64_t linear_solves = 0;      // right-hand sides pushed through the factorization
  double assemble_s = 0;          // nodal assembly
  double analyze_s = 0;           // ordering + symbolic factorization
  double factorize_s = 0;         // numeric factorization
  double solve_s = 0;             // substitutions (or ngspice `op` runs) and current recovery
  int64_t newton_iterations = 0;  // all inputs together (nonlinear cells only)
  int64_t newton_max_iterations = 0;  // the most any one input needed
  std::string newton_strategy;    // worst fallback used: "newton", "gmin stepping", "source stepping"
  double newton_residual_a = 0;   // largest final KCL residual over the inputs, amperes
  // Inputs solved together through one Jacobian (batched_newton.h), their chord steps (also
  // counted in newton_iterations) and those finished by the per-input Newton.
  int64_t newton_batched_inputs = 0;
  int64_t newton_chord_steps = 0;
  int64_t newton_fallbacks = 0;
  double max_backward_error = 0;  // worst ||A x - b|| / (||A|| ||x|| + ||b||) over the solves
  // pcg only (pcg_backend.h): CG iterations over all right-hand sides, the most one needed,
  // the largest final relative residual ||b - A x||_2 / ||b||_2, and the largest estimated
  // relative error of the column currents (the change CG's last step made to them).
  int64_t cg_iterations = 0;
  int64_t cg_max_iterations = 0;
  double cg_residual = 0;
  double cg_accuracy_estimate = 0;
  int64_t cg_coarse_unknowns = 0;  // size of the preconditioner's coarse grid system (0: none)
  std::string message;            // one line: what happened, including any fallback
  bool ok = false;
  bool usable() const { return ok; }
};

}  // namespace xbar::solvers
