// PCG back end: conjugate gradients preconditioned by the crossbar's wire lines, for arrays too
// large to factorize.
//
//   auto be = make_linear_backend(LinearBackendKind::kPcg, options);
//   be->analyze(a, coords);     // line layout (LineSystem); InputError if a is not a crossbar
//   be->factorize(a);           // line values and their Thomas factors: O(MN); keeps &a
//   static_cast<PcgBackend&>(*be).set_watch(w, "column currents");   // optional
//   Eigen::MatrixXd x = be->solve(b);   // b: n x K, independent CGs, both cores
//
// The method (line_system.h has the block structure A = [T_r W; W T_c]): the row layer is
// eliminated exactly, x_r = T_r^-1 (b_r - W x_c), and CG runs on the Schur complement
// S = T_c - W T_r^-1 W over the column-node voltages, preconditioned by T_c. Each iteration
// costs one Thomas solve over every row line (inside S p) and one over every column line.
// This is CG on A with the symmetric block Gauss-Seidel preconditioner "row lines, then column
// lines, then row lines" (SPD), on half the unknowns: it took half the iterations of the
// block-Jacobi line preconditioner in the measurements of bench/README.md (e.g. 9 against 19
// to a 1e-14 residual at 256^2), because Jacobi's preconditioned spectrum comes in pairs
// 1 +- sigma that SGS squares into 1 - sigma^2.
//
// Stopping test: options.pcg.tol on the change the last two steps made to the watched
// quantities (set_watch(), each relative to its own size with a floor of kWatchFloor times the
// largest), or without a watch to the whole solution (2-norm). The change made by a step is
// computed exactly and cheaply: a step moves the column layer by alpha p and the row layer by
// -alpha T_r^-1 W p, which S p computes anyway. After the loop the row layer is recomputed
// exactly from the column layer, and the true residual ||b - A x|| / ||b|| is measured.
//
// Non-convergence within options.pcg.max_iterations: when fallback_to_cholmod is set and
// CHOLMOD's predicted factor fits in the available memory, the backend factorizes `a` with
// CHOLMOD and solves with it from then on (also in later factorize() calls, until analyze());
// otherwise it throws NumericalError naming the residual and the change reached.
//
// Contract: the matrix given to factorize() must stay alive and unchanged until the next
// factorize() (it is used for the true residual and the fallback), as with Eigen's iterative
// solvers. solve() is const for callers but records statistics and may switch to the
// fallback, so one backend object serves one calling thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "solvers/cholmod_backend.h"
#include "solvers/line_system.h"
#include "solvers/linear_backend.h"

namespace xbar::solvers {

// What the CG solves did, cumulative since analyze().
struct PcgStats {
  int64_t solves = 0;          // right-hand sides solved by CG
  int64_t iterations = 0;      // CG iterations, all right-hand sides together
  int64_t max_iterations = 0;  // the most any one right-hand side needed
  double max_residual = 0;     // largest true ||b - A x||_2 / ||b||_2 at the end
  // Largest estimated relative error of a watched quantity (or of x): the relative change the
  // last CG step made, which measured 1-3x the true remaining error.
  double max_estimate = 0;
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
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const override;
  Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const override { return solve(b); }

  // Quantities whose accuracy the stopping test checks: q = w x, one per row of w (columns =
  // unknowns); `what` names them in messages. An empty w watches the solution as a whole.
  void set_watch(const SparseMatrix& w, const std::string& what);
  const PcgStats& pcg_stats() const { return stats_pcg_; }

 private:
  struct Workspace;
  struct RhsResult {
    int iterations = 0;
    double residual = 0, estimate = 0;
    bool converged = false;
  };
  RhsResult solve_one(const double* b, double* x, Workspace& ws) const;
  // Watched change of one step and its size relative to the watched values (see file comment).
  double step_change(const Workspace& ws, double alpha) const;
  void start_fallback(const std::string& why) const;

  LinearBackendOptions options_;
  std::unique_ptr<LineSystem> lines_;
  std::vector<GridCoord> coords_;       // for the fallback's geometric ordering
  const SparseMatrix* a_ = nullptr;     // the last factorize()'s matrix
  // Watched quantities in grid slots: quantity q has entries [watch_ptr_[q], watch_ptr_[q+1]).
  std::vector<int64_t> watch_ptr_, watch_slot_;
  std::vector<double> watch_val_;
  std::string watch_what_ = "solution";
  mutable PcgStats stats_pcg_;
  mutable std::unique_ptr<CholmodBackend> fallback_;
};

}  // namespace xbar::solvers
