// PortReduction: the exact effective matrix T of a linear crossbar (I = T^T v) from one sparse
// Cholesky factorization, by eliminating every node except the array's terminals.
//
//   solvers::PortReduction pr(spec);            // terminals, ordering, symbolic analysis: once
//   RowMatrixXd t = pr.effective_matrix(g_s);   // per conductance set: factorize + port algebra
//   pr.stats()                                  // ports, factor size, times
//
// The terminals are the nodes the outside touches: every driven row end (r(i,0), r(i,N-1))
// and every sensed column end (c(M-1,j), c(0,j)). Eliminating all other nodes (Kron
// reduction) leaves the terminals' admittance matrix
//
//   Lambda = A_TT - A_TI A_II^-1 A_IT        (A: wires and cells only, the Laplacian)
//
// and T follows from Lambda and the terminal conditions with dense algebra of the terminals'
// size alone. A Cholesky factorization whose ordering puts the terminals last computes it as a
// by-product: the trailing block of the factor satisfies L_TT L_TT^T = Lambda + (the terminal
// diagonal below). The interior is ordered by the grid's geometric nested dissection
// (grid_ordering.h; CAMD with the terminals constrained last when lines are merged by 0-ohm
// wires), the terminals forming the final separator. One factorization of that ordering plus
// O((M + N)^3) dense work replaces today's factorization plus min(M, N) solves
// (CrossbarSolver::effective_matrix, kept as the referee). The other route, sparse right-hand
// sides on the ordinary nested-dissection factor (M + N forward solves that walk only their
// elimination-tree paths, then M N sparse dot products), was measured side by side
// (bench/effective_speed.cc, host load ~9): 256^2 1.1 s vs 1.5 s, 512^2 5.3 s vs 5.3 s, 1024^2
// 37 s vs 24 s for this route; every path climbs the top separators, so its memory-bound
// solves and products grow like (M + N) times a separator's fill, where the terminal block's
// work stays BLAS-3.
//
// Terminal conditions (one kind per array: the spec's r_driver_ohm and r_sense_ohm):
//   driver R > 0   the terminal is an unknown with conductance 1/R to the source V_i;
//   driver R = 0   it is held at V_i (Dirichlet);
//   sense R > 0    conductance 1/R to the 0 V virtual ground, I_j = x / R;
//   sense R = 0    held at 0 V, I_j = the current the array delivers into it = -(Lambda x)_q.
// With K = Lambda + diag(1/R of the resistive terminals), the resistive terminals R solve
// K_RR x_R = g_R v - K_RD x_D (D: the ideal ones, at their known voltages): one dense SPD
// system of |R| unknowns with M right-hand sides. An ideal terminal's own diagonal never enters
// that algebra (x_D is known, and a sense terminal's voltage is 0), so the factorization shifts
// it by a positive delta to keep the trailing block positive definite (Lambda alone is a
// Laplacian, singular) without affecting any number used.
//
// Accuracy: the factor's backward error is eps * |A|, the same order as the solves of the old
// path: T agrees with it to ~1e-13 relative (tests/solvers/port_reduction_test.cc, also against
// ngspice). Zero-ohm wires merge each line into one node; every drive, sense and driver/sense
// resistance of the spec is handled, including 1 x N and M x 1 arrays.
//
// Contract: spec.validate() holds; effective_matrix() takes M x N conductances, each finite,
// >= 0 and below 1 / kMinResistanceOhm (InputError otherwise, as netlists::build_crossbar).
// NumericalError if CHOLMOD fails (memory). Not thread-safe; one object per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netlists/crossbar_builder.h"
#include "solvers/linear_backend.h"

namespace xbar::solvers {

using netlists::RowMatrixXd;

// Backend auto takes the port reduction while predicted_bytes() stays below this share of the
// available memory (the rest for the caller's arrays and the OS); beyond it T comes from
// min(M, N) PCG solves, slow but in O(MN) memory.
constexpr double kPortMemoryShare = 0.7;

struct PortReductionOptions {
  // Ordering of the interior nodes (the terminals always come last). kAuto: geometric nested
  // dissection when every node is a grid node (no 0-ohm wires), else CAMD; kGeometric,
  // kAmd (CAMD with the terminals constrained last) force one. METIS / NESDIS are not offered:
  // CHOLMOD cannot constrain them, and at 1024^2 METIS alone costs 11.8 s (DESIGN.md).
  Ordering ordering = Ordering::kAuto;
  void validate() const;  // throws InputError naming the key (ordering)
};

struct PortReductionStats {
  int64_t unknowns = 0;            // nodes in the factorization (interior + terminals)
  int64_t terminals = 0;           // the dense trailing block's size
  int64_t ideal_terminals = 0;     // held at a known voltage (0-ohm driver or sense)
  std::string ordering_used;       // "geometric-nd+ports", "camd+ports"
  bool supernodal = false;         // CHOLMOD chose the supernodal factor
  double nnz_factor = 0;           // nonzeros of L
  double flops = 0;                // of the last factorization (CHOLMOD's count)
  double assemble_s = 0;           // pattern and slots (once)
  double analyze_s = 0;            // ordering + symbolic factorization (once)
  double factorize_s = 0;          // all numeric factorizations together
  double reduce_s = 0;             // dense port algebra, all calls together
  int64_t factorizations = 0;
};

class PortReduction {
 public:
  explicit PortReduction(const netlists::CrossbarSpec& spec, const PortReductionOptions& options = {});
  ~PortReduction();
  PortReduction(const PortReduction&) = delete;
  PortReduction& operator=(const PortReduction&) = delete;

  // The exact M x N effective matrix for cell conductances g_s (M x N siemens).
  RowMatrixXd effective_matrix(const RowMatrixXd& g_s);
  const PortReductionStats& stats() const { return stats_; }
  // Memory the factorizations and the terminal algebra will take beyond the caller's arrays,
  // bytes, predicted by the symbolic analysis: the factor (values and supernodal row indices,
  // ~9 bytes per nonzero of L), the pattern with its values and slots (~120 bytes per cell)
  // and three dense terminal blocks. For callers choosing between this and an iterative route.
  double predicted_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  PortReductionStats stats_;
};

}  // namespace xbar::solvers
