// PCG back end: conjugate gradients preconditioned by the crossbar's wire lines and a coarse
// grid, for arrays too large to factorize.
//
//   auto be = make_linear_backend(LinearBackendKind::kPcg, options);
//   be->analyze(a, coords);     // line layout (LineSystem); InputError if a is not a crossbar
//   be->factorize(a);           // line values, Thomas factors, coarse space: O(MN); keeps &a
//   static_cast<PcgBackend&>(*be).set_watch(w, "column currents");   // optional
//   Eigen::MatrixXd x = be->solve(b);   // b: n x K, blocks of CGs, both cores
//
//   PcgBackend pcg(options);    // or straight from a stencil (crossbar_operator.h): no matrix
//   pcg.set_stencil(stencil);   // analyze + factorize in one
//   pcg.solve_grid(k, rhs, use);        // right-hand sides and solutions in grid slots
//
// The method (line_system.h has the block structure A = [T_r W; W T_c]): the row layer is
// eliminated exactly, x_r = T_r^-1 (b_r - W x_c), and CG runs on the Schur complement
// S = T_c - W T_r^-1 W over the column-node voltages. The preconditioner combines the column
// lines M = T_c^-1 with the coarse-grid correction Q = P S_c^-1 P^T (coarse_space.h):
//   multiplicative (default): z = M r;  z += Q (r - S z);  z += M (r - S z)
//   additive (options.pcg.coarse.multiplicative = false): z = M r + Q r.
// Both are symmetric; the multiplicative one is positive definite because the smoother
// converges in the S-norm (2 T_c - S = T_c + W T_r^-1 W is SPD) and the additive one as a sum of
// SPD and PSD terms. Without Q this is CG on A with symmetric block Gauss-Seidel over the lines,
// whose iteration count grows like sqrt(g R) N; Q removes the smooth two-dimensional error
// behind that growth: 6-7 iterations from 256^2 to 4096^2, typical or harsh arrays
// (bench/README.md). An iteration costs three row-line sweeps, two column-line sweeps, three
// column products and one small coarse solve, all O(MN); blocks of up to 4 right-hand sides
// share every sweep (the operator's arrays are read once per block).
//
// Stopping test: options.pcg.tol on the change the last step made to the watched quantities
// (set_watch(), each relative to its own size with a floor of kWatchFloor times the largest),
// or without a watch to the whole solution (2-norm), once the steps contract (each at most half
// the one before, so that all later steps add up to less than this one) or two steps in a row
// were below tol. The change made by a step is computed exactly and cheaply: a step moves the
// column layer by alpha p and the row layer by -alpha T_r^-1 W p, which S p computes anyway.
// After the loop the row layer is recomputed exactly from the column layer.
//
// That estimate misses the rounding CG accumulates (issue 21: at 256^2, 2.5 ohm, the column
// currents were 4.2e-13 off against an estimate of 5.7e-14, and no number of further
// iterations moved them), so the estimate reported is not the last step but one round of
// iterative refinement: the residual b - A x computed in long double (a double sum would bury
// a ~1e-17 residual in its own rounding), the correction solved by the same CG to kRefineTol of
// its own size, added, and its watched change reported (with the floor of the currents' own
// rounding, kDotRoundingUlps): the error the solution had before the correction, so an upper
// bound of the error after it. Another round runs while that exceeds tol. Measured against a
// long-double-refined CHOLMOD solve of the same matrix (tests/solvers/pcg_backend_test.cc):
// currents within 1e-15 at 128^2 to 512^2, estimates 1e-13 to 1e-12 above that, for 2-3 more CG
// iterations per solve. The true residual ||b - A x|| / ||b|| is measured at the end.
//
// Non-convergence within options.pcg.max_iterations: when fallback_to_cholmod is set and
// CHOLMOD's predicted factor fits in the available memory, the backend factorizes the matrix
// (the caller's, or one assembled from the stencil) with CHOLMOD and solves with it from then
// on (also in later factorize() calls, until analyze()); otherwise it throws NumericalError
// naming the residual and the change reached.
//
// Contract: the matrix given to factorize() must stay alive and unchanged until the next
// factorize() (it is used for the fallback), as with Eigen's iterative solvers. solve() is
// const for callers but records statistics and may switch to the fallback, so one backend
// object serves one calling thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "solvers/cholmod_backend.h"
#include "solvers/coarse_space.h"
#include "solvers/line_system.h"
#include "solvers/linear_backend.h"
#include "solvers/solve_summary.h"
#include "solvers/thread_pool.h"

namespace xbar::solvers {

// What the CG solves did, cumulative since analyze().
struct PcgStats {
  int64_t solves = 0;          // right-hand sides solved by CG
  int64_t iterations = 0;      // CG iterations, all right-hand sides together
  int64_t max_iterations = 0;  // the most any one right-hand side needed
  double max_residual = 0;     // largest true ||b - A x||_2 / ||b||_2 at the end
  // Largest estimated relative error of a watched quantity (or of x): the change the last
  // refinement round made (see the file comment), an upper bound of the error left.
  double max_estimate = 0;
  int64_t coarse_unknowns = 0;  // size of the coarse system (0: none)
  std::string fallback;        // why CHOLMOD took over ("" when it did not)
};

class PcgBackend final : public LinearBackend {
 public:
  explicit PcgBackend(const LinearBackendOptions& options);
  ~PcgBackend() override;

  // "pcg", or "cholmod" once the fallback took over.
  std::string name() const override { return fallback_ ? "cholmod" : "pcg"; }
  void analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) override;
  void factorize(const SparseMatrix& a) override;
  // Grid mode: the operator given by its stencil (analyze + factorize in one); the unknowns
  // are the free slots in slot order. Throws NumericalError naming the node whose line pivot is
  // not positive.
  void set_stencil(LineSystem::Stencil s);
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const override;
  Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const override { return solve(b); }

  // Solves k systems in grid slots: rhs(c, b) writes right-hand side c into b (2MN doubles,
  // row layer then column layer, zero on fixed slots), use(c, x) receives its solution (same
  // layout, zero on fixed slots). Both are called from several threads at once, for different c.
  using RhsFn = std::function<void(int64_t, double*)>;
  using UseFn = std::function<void(int64_t, const double*)>;
  void solve_grid(int64_t k, const RhsFn& rhs, const UseFn& use) const;

  // Quantities whose accuracy the stopping test checks: q = w x, one per row of w (columns =
  // unknowns); `what` names them in messages. An empty w watches the solution as a whole.
  void set_watch(const SparseMatrix& w, const std::string& what);
  // The same in grid slots: quantity q is the sum over e in [ptr[q], ptr[q+1]) of
  // val[e] * x[slot[e]].
  void set_watch_slots(std::vector<int64_t> ptr, std::vector<int64_t> slot, std::vector<double> val,
                       const std::string& what);
  const PcgStats& pcg_stats() const { return stats_pcg_; }
  const LineSystem& lines() const { return *lines_; }
  ThreadPool* pool() const { return pool_.get(); }

 private:
  struct Workspace;
  struct RhsResult {
    int iterations = 0;   // CG iterations, refinement included
    int refinements = 0;  // refinement rounds
    double residual = 0, estimate = 0;
    bool converged = false;
  };
  // CG on the right-hand sides c0 .. c0 + used - 1 (used <= K) as one block of K lanes;
  // res[0..K) gets each lane's outcome and ws.x the solutions (lanes interleaved).
  template <int K>
  void solve_block(int64_t c0, int64_t used, const RhsFn& rhs, Workspace& ws, RhsResult* res) const;
  void prepare();  // coarse space and statistics after new values
  // Per lane: the watched change of one step relative to the watched values (see the file
  // comment), and the true relative residual.
  template <int K>
  void step_change(const Workspace& ws, const double* alpha, double* out) const;
  template <int K>
  void true_residual(const Workspace& ws, double* out) const;
  // Iterative refinement on a long-double residual (see the file comment); sets each lane's
  // estimate to the watched change of the last correction.
  template <int K, class FillB, class RunCg>
  void refine(Workspace& ws, const FillB& fill_b, const RunCg& run_cg, bool* done, RhsResult* res) const;
  template <int K>
  void residual_ld(const Workspace& ws, double* rr_out, double* rc_out) const;
  template <int K>
  void watched_values(const Workspace& ws, std::vector<double>& out) const;
  template <int K>
  void change_estimate(Workspace& ws, const std::vector<double>& before, double* out) const;
  void start_fallback(const std::string& why) const;

  LinearBackendOptions options_;
  std::unique_ptr<ThreadPool> pool_;  // omp_get_max_threads() threads, sleeping when idle
  std::unique_ptr<LineSystem> lines_;
  std::unique_ptr<CoarseSpace> coarse_;
  std::vector<GridCoord> coords_;       // generic mode: for the fallback's geometric ordering
  std::vector<int64_t> slot_;           // generic mode: unknown -> slot
  const SparseMatrix* a_ = nullptr;     // generic mode: the last factorize()'s matrix
  // Watched quantities in grid slots: quantity q has entries [watch_ptr_[q], watch_ptr_[q+1]).
  std::vector<int64_t> watch_ptr_, watch_slot_;
  std::vector<double> watch_val_;
  std::string watch_what_ = "solution";
  mutable PcgStats stats_pcg_;
  mutable std::unique_ptr<CholmodBackend> fallback_;
  mutable SparseMatrix fallback_matrix_;  // grid mode: assembled from the stencil
};

// Copies the PCG run's figures (iterations, residual, estimate, coarse size) into a summary and,
// when the run fell back to CHOLMOD, records that (backend, ordering, factor, time, message).
void add_pcg_stats(const PcgBackend& pcg, SolveSummary& summary);

}  // namespace xbar::solvers
