// Transient analysis: a circuit with capacitors to ground whose sources step at t = 0, integrated
// by an implicit method on the nodal system, every step size factorized once (CHOLMOD or KLU,
// or the line factors of PCG on crossbar grids: shifted_factorizations.h, TransientOptions::backend).
//
//   solvers::TransientProblem p;             // capacitance per node, sources before/after,
//   p.node_capacitance_f = ...;              // the outputs to record (e.g. column currents)
//   solvers::TransientOptions o;             // t_stop_s, time_step_s (0 = adaptive), method
//   solvers::TransientRun r = solvers::run_transient(circuit, p, o, linear_options);
//   r.times_s (T), r.outputs (T x Y), r.outputs_dc (Y), r.energy_j
//
// The equations. With x the free unknowns of MnaSystem (node voltages, branch currents), A its
// conductance matrix, D the diagonal of capacitances to ground at the free nodes (farads) and
// b(t) = R s(t) the source terms: D x' + A x = b(t). The sources are s_before for t < 0 and
// s(t) = s_before + r(t) (s_after - s_before) after, r(t) = min(t / t_rise, 1), or r = 1 for
// every t > 0 when t_rise = 0 (the ideal step). Initial state: the DC operating point under
// s_before (every capacitor at rest, as SPICE's operating point at t = 0); with the ideal step,
// the nodes without capacitance (and branch currents) then jump to their consistent values
// under s_after, found by one solve of their own block of A (capacitor voltages cannot jump).
// Recorded at t = 0 is that state just after the step.
//
// Methods (TransientMethod):
//  - TR-BDF2 (default; Bank et al., IEEE Trans. CAD 4(4), 1985; Hosea & Shampine, Appl. Numer.
//    Math. 20, 1996): each step h is a trapezoidal stage to t + gamma h and a BDF2 stage to
//    t + h through (t, t + gamma h, t + h). With gamma = 2 - sqrt(2) both stages solve with the
//    same matrix A + D / (d h), d = gamma / 2: ONE factorization per step size. Second order,
//    L-stable (stiff modes, e.g. a wire node charging through a few ohms, are damped rather than
//    ringing as with the plain trapezoidal rule) and one-step, so it needs no special start
//    after the step discontinuity and changes step size freely.
//  - Backward Euler: (A + D / h) x_{n+1} = b(t_{n+1}) + D x_n / h. First order, L-stable.
//
// Steps. Fixed (time_step_s > 0): steps of time_step_s, the last one before t_rise and before
// t_stop shortened to land on them (at most four distinct sizes, four factorizations).
// Adaptive (time_step_s = 0): each step's local error is estimated (TR-BDF2: kErr h^3 x''' with
// x''' from the second divided difference of the derivatives the stages imply, Bank et al.'s
// estimate; backward Euler: h^2 x'' / 2) and must stay within lte_tol of the outputs' full
// scale (the largest |DC output|) in every output; where every output is zero at DC, within
// lte_tol of the largest node voltage instead. Measured, the global error of a run is about
// 5-40 times lte_tol (tests/solvers/transient_test.cc). The step sizes are powers of two of
// the interval's length (L 2^-k for [0, t_rise] and [t_rise, t_stop]; the first from the error
// the derivatives at t = 0+ predict), a step growing only where
// the time is a multiple of the larger size, so the run lands on t_stop exactly and factorizes
// each size it uses once (ShiftedFactorizations keeps them). Once the outputs and every node
// voltage are within 1e-3 lte_tol of DC the run ends early (steady_from_s): the DC outputs are
// recorded at t_stop and the energy of the remaining decay is added exactly (the integral to
// infinity of the decay e, D e' + A e = 0, is A^-1 D e).
//
// Energy drawn from the sources in energy_sources over [0, t_stop]: the integral of
// -s_k(t) I_k(t) (I_k in the SPICE sign: current through the source from + to -), with the
// quadrature the method itself implies for the currents it balances: for TR-BDF2 the weights
// h / (2 (2 - gamma)) at t and t + gamma h and d h at t + h, for backward Euler h at t + h.
// With these weights the charge each source delivers is exactly the charge the integrated
// capacitors and resistors account for (the discrete equations summed over the steps), and a
// circuit without capacitance draws exactly P_dc t_stop. Capacitors on nodes that a source
// holds (a row end with no driver resistance) are charged by that source directly; they draw
// (1/2) C (V(t_stop)^2 - V(0^-)^2) each, the limit of any ramp however fast, added to energy_j
// (with an ideal step their current is an impulse at t = 0 that no waveform sample shows).
//
// Nonlinear cells (sinh, selector, 1T1R): every stage is solved by Newton (NewtonSolver::
// solve_shifted(): the capacitances over the step as a diagonal shunt, the stage's history as
// extra current), from the previous point, its Jacobian refactorized as Newton needs (direct
// back ends; PCG serves linear arrays only). A stage that does not converge shortens an
// adaptive step four times (a fixed step throws NumericalError). The DC states come from the
// DC Newton solve (gmin and source stepping as fallbacks). The outputs and energies include the
// cells' currents through held nodes; the error control holds the node voltages to lte_tol as
// well. With an ideal step and unknowns without capacitance (the selector's and 1T1R's internal
// nodes), the first step is backward Euler, whose equations need no consistent start (adaptive:
// 2^-6 of the first guess, without an error estimate, which would count the jump); there is no
// early end at the steady state (no closed form for a nonlinear decay).
//
// Memory: the outputs, T x Y doubles, and up to max_cached_factorizations factors.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "netlists/circuit.h"
#include "netlists/crossbar_builder.h"
#include "solvers/circuit_solver.h"
#include "solvers/linear_backend.h"
#include "solvers/mna_system.h"
#include "solvers/newton.h"

namespace xbar::solvers {

using netlists::RowMatrixXd;

enum class TransientMethod { kTrBdf2, kBackwardEuler };
std::string to_string(TransientMethod m);                 // "trbdf2", "be"
TransientMethod parse_transient_method(const std::string& s);  // throws InputError ("integrator")

struct TransientOptions {
  // End of the analysis, seconds, finite and > 0. 10 ns covers the settling of arrays up to
  // ~1024^2 with fF node capacitances and ohm-scale wires (time constants well below 1 ns).
  double t_stop_s = 10e-9;
  // Fixed step, seconds: 0 = adaptive (error-controlled); otherwise in (0, t_stop_s].
  double time_step_s = 0;
  // Rise time of the input steps, seconds, in [0, t_stop_s): 0 is the ideal step.
  double t_rise_s = 0;
  TransientMethod method = TransientMethod::kTrBdf2;
  // Linear solver of the shifted systems (shifted_factorizations.h). auto: PCG where its line
  // preconditioner applies (SPD crossbar grids), else CHOLMOD (SPD) or KLU; measured at 256^2,
  // a PCG "factorization" (line factors, coarse grid) takes milliseconds against CHOLMOD's
  // ~0.2 s per step size, and a solve converges in 2-5 CG iterations (bench/README.md).
  // native: CHOLMOD or KLU; cholmod, klu, pcg: that one where it applies (a fallback is said in
  // the run's message). ngspice is not a native back end (it is the referee,
  // transient_referee.h): InputError.
  BackendChoice backend = BackendChoice::kAuto;
  // Nonlinear cells: Newton's tolerances on every stage (and on the DC states), newton.h.
  NewtonOptions newton;
  // Adaptive steps: largest local error per step, as a fraction of the outputs' full scale,
  // in (0, 0.1]. 1e-5 kept the waveforms within 7e-5 of full scale of the exact solution on
  // the test arrays (1e-7: within 4e-6), inside the 1e-4 the issue asks of the agreement with
  // ngspice; each factor of 10 tighter costs ~2.1x the steps (error ~ h^3).
  double lte_tol = 1e-5;
  // Most steps (accepted and rejected), >= 1: bounds the time and the memory (T x Y outputs)
  // of a run; a fixed step that needs more is refused up front, an adaptive run that needs
  // more fails with NumericalError.
  int64_t max_steps = 1000000;
  // Factorizations kept at once (one per step size), >= 1. The adaptive ladder revisits few
  // sizes; each kept factor costs its nonzeros (2.9 M at 256^2, ~35 MB).
  int max_cached_factorizations = 8;
  // Called with a one-line state of the run (time reached, steps, rejections) at most once per
  // progress_interval_s of wall time, for long runs; empty: silent.
  std::function<void(const std::string&)> progress;
  // Wall time between two progress lines, seconds, > 0.
  double progress_interval_s = 2.0;
  // Throws xbar::InputError naming the key (t-stop, time-step, t-rise, lte-tol, max-steps).
  void validate() const;
};

struct TransientProblem {
  // Capacitance to ground at every circuit node (Circuit::num_nodes() entries), farads, >= 0.
  Eigen::VectorXd node_capacitance_f;
  // Source values (Circuit::source_indices() order) before the step (t < 0) and after it.
  Eigen::VectorXd s_before, s_after;
  // Recorded outputs (Y x sources): each a weighted sum of source currents (SPICE sign), e.g.
  // a column current as the sum of its virtual-ground sources' currents. Adaptive steps hold
  // their error to lte_tol of full scale.
  SparseMatrix output_sources;
  // Positions (in source_indices()) of the voltage sources whose energy is reported.
  std::vector<int32_t> energy_sources;
};

struct TransientRun {
  Eigen::VectorXd times_s;     // T time points, 0 (just after the step) to t_stop
  RowMatrixXd outputs;         // T x Y
  Eigen::VectorXd outputs_dc;  // Y: the DC solution under s_after, the t -> infinity limit
  Eigen::VectorXd source_energy_j;  // per energy source, drawn over [0, t_stop] (resistive path)
  double energy_j = 0;         // all energy sources, including fixed_cap_energy_j
  double fixed_cap_energy_j = 0;  // capacitors on source-held nodes (see the file comment)
  double static_power_w = 0;   // power the energy sources deliver at DC (under s_after)
  double stored_energy_j = 0;  // in every capacitor at t_stop
  double output_scale = 0;     // largest |outputs_dc| (the outputs' full scale for lte_tol)
  double final_vs_dc = 0;      // max |y(t_stop) - y_dc| / output_scale
  // Adaptive runs: the time from which the state was within 1e-3 lte_tol of DC and the run
  // went straight to t_stop (recording the DC outputs there, the decay's energy added exactly);
  // negative when it integrated all the way.
  double steady_from_s = -1;
  // Cost and what happened.
  std::string method, backend, ordering;
  int64_t unknowns = 0;
  int64_t steps = 0, rejected_steps = 0, factorizations = 0, solves = 0;
  double min_step_s = 0, max_step_s = 0;
  double assemble_s = 0, analyze_s = 0, factorize_s = 0, solve_s = 0, total_s = 0;
  double factor_nonzeros = 0, max_backward_error = 0;
  int64_t cg_iterations = 0;  // backend pcg: CG iterations over every solve
  int64_t newton_iterations = 0;  // nonlinear cells: over every stage and the DC states
  std::string message;
};

// Throws InputError for bad options or a problem of the wrong shape, NumericalError for a
// singular circuit, a failed factorization or an adaptive run beyond max_steps.
TransientRun run_transient(const netlists::Circuit& circuit, const TransientProblem& problem,
                           const TransientOptions& options, const LinearBackendOptions& linear = {});

}  // namespace xbar::solvers
