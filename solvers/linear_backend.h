// LinearBackend: one interface for the sparse linear solvers: direct (CHOLMOD, Eigen's
// simplicial LDL' for small SPD systems, KLU) and the
// line-preconditioned conjugate gradients of pcg_backend.h.
//
//   auto be = make_linear_backend(LinearBackendKind::kCholmod, options);   // or kEigen, kKlu, kPcg
//   be->analyze(a, coords);      // once per topology: ordering + symbolic factorization
//   be->factorize(a);            // once per set of values (same pattern as analyze)
//   Eigen::MatrixXd x = be->solve(b);   // any number of times, b is n x K
//
// Calling out of order is a programmer error (asserts). A numerical failure (matrix not
// positive definite, singular, or CG not converging) is data: status() != kSuccess,
// message() names the unknown or the residual reached, and the call throws
// xbar::NumericalError with that message.
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "solvers/mna_system.h"

namespace xbar::solvers {

enum class LinearBackendKind { kCholmod, kKlu, kPcg, kEigen };
enum class Ordering { kAuto, kGeometric, kAmd, kMetis, kNesdis };
enum class BackendStatus { kSuccess, kNumericalIssue, kInvalidInput };

std::string to_string(LinearBackendKind k);
std::string to_string(Ordering o);
Ordering parse_ordering(const std::string& s);  // throws InputError naming key "ordering"

// The coarse grid of the PCG preconditioner (coarse_space.h).
struct CoarseOptions {
  // Coarse spacing in units of the coupling length 1 / sqrt(g R) (coarse_space.h), in
  // (0, 1000]. Measured (bench/README.md): iterations stay flat in the array size up to about 1.
  double spacing = 1.0;
  // Most coarse unknowns (2 per coarse node), >= 8: the spacing is widened to stay below it, so
  // the coarse factorization stays small next to the O(MN) line work.
  int64_t max_unknowns = int64_t(1) << 17;
  // false: the plain line preconditioner (measurements and tests).
  bool enabled = true;
  // How the coarse correction Q = P S_c^-1 P^T joins the line preconditioner M = T_c^-1:
  // true: multiplicative, smoother-coarse-smoother (2 more Schur products per iteration, 6-8
  // iterations); false: additive, M + Q (15-19 iterations). bench/README.md has both.
  bool multiplicative = true;
  void validate() const;  // throws InputError naming the key
};

// Conjugate gradients preconditioned by the wire lines (pcg_backend.h).
struct PcgOptions {
  // Stopping test: CG stops once two successive steps each changed every watched quantity
  // (the column currents when a CrossbarSolver drives it; else the solution vector, 2-norm) by
  // at most tol relative to its size, then refines on a long-double residual until the
  // correction, the estimate reported, is at most tol (pcg_backend.h). In (0, 1e-2]. The
  // refined currents measured within 1e-15 of the exact solution of the same matrix, so tol
  // bounds the reported error honestly rather than deciding the accuracy.
  double tol = 1e-11;
  // CG iterations allowed per right-hand side, >= 1. Measured 12 at 256^2 to 89 at 4096^2
  // (2.5 ohm, <= 100 uS) and 142 at 1024^2 with 10 ohm, <= 1 mS: the count grows about as
  // sqrt(g_cell * r_wire) * size (bench/README.md). 2000 lets harsh arrays finish and bounds
  // the time lost before the CHOLMOD fallback.
  int max_iterations = 2000;
  // When CG does not converge: factorize with CHOLMOD instead if its predicted memory fits
  // in the available memory (else, or when false, throw NumericalError).
  bool fallback_to_cholmod = true;
  CoarseOptions coarse;
  void validate() const;  // throws InputError naming the key (tol, pcg-max-iterations)
};

struct LinearBackendOptions {
  // Fill-reducing ordering. kAuto: geometric nested dissection when the unknowns are a
  // crossbar grid (costs O(n log n), METIS-quality fill, see bench/ and the issue note),
  // otherwise AMD. KLU accepts kAuto, kGeometric and kAmd (METIS is CHOLMOD's).
  Ordering ordering = Ordering::kAuto;
  // Right-hand sides per triangular-solve pass, in [1, 4096]; bounds the workspace to
  // n x this doubles. 64 keeps BLAS-3 efficiency without large workspaces.
  int rhs_block = 64;
  PcgOptions pcg;
  // Throws xbar::InputError naming the key when a field is out of range.
  void validate() const;
};

// What a factorization cost; reported in result.json.
struct FactorStats {
  std::string ordering_used;   // e.g. "geometric-nd", "amd", "metis"
  double nnz_factor = 0;       // nonzeros in L (and U for KLU)
  double flops = 0;            // factorization flop count when the library reports it
  double analyze_s = 0;
  double factorize_s = 0;       // the last factorization
  int64_t refactorizations = 0; // KLU: factorizations that reused the previous pivot order
};

class LinearBackend {
 public:
  virtual ~LinearBackend() = default;
  virtual std::string name() const = 0;
  // coords: MnaSystem::grid_coords() (may be empty), used by the geometric ordering.
  virtual void analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) = 0;
  virtual void factorize(const SparseMatrix& a) = 0;
  // Solves A X = B. For CHOLMOD A is symmetric so this is also the transposed solve.
  virtual Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const = 0;
  // Solves A^T X = B.
  virtual Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const = 0;
  // Names unknown k in failure messages (e.g. MnaSystem::unknown_name); optional.
  void set_unknown_names(std::function<std::string(int64_t)> namer) { namer_ = std::move(namer); }
  BackendStatus status() const { return status_; }
  const std::string& message() const { return message_; }
  const FactorStats& stats() const { return stats_; }

 protected:
  BackendStatus status_ = BackendStatus::kSuccess;
  std::string message_;
  FactorStats stats_;
  std::function<std::string(int64_t)> namer_;
  std::string unknown(int64_t k) const {
    return namer_ ? namer_(k) : "unknown " + std::to_string(k);
  }
};

std::unique_ptr<LinearBackend> make_linear_backend(LinearBackendKind kind,
                                                   const LinearBackendOptions& options);

// A backward-stable direct solve leaves ~1e-16 times a modest growth factor; anything near
// 1e-10 means the factorization broke down (a near-singular pivot), not rounding.
constexpr double kMaxBackwardError = 1e-10;

// ||A||_inf: the largest absolute row sum of a square matrix.
double infinity_norm(const SparseMatrix& a);

// Checks the solution x of A x = b (of A^T x = b when `transposed`) column by column, the
// check every native solve passes: each entry finite (else NumericalError naming the first
// non-finite unknown), and the normwise backward error ||A x - b|| / (||A|| ||x|| + ||b||)
// (infinity norms, norm_a = infinity_norm(a)) folded into *max_error and, when `enforce` (a
// direct solve; an iterative one stops at its own tolerance), at most kMaxBackwardError (else
// NumericalError naming the unknown with the largest residual). `symmetric`: A = A^T, so the
// residual is formed as A^T x, a row-wise gather. `solver` and `unknown` name the back end and
// an unknown in the messages. Small products run on the calling thread (library_threads.h).
void check_solution(const SparseMatrix& a, double norm_a, bool symmetric, bool transposed, const Eigen::MatrixXd& x,
                    const Eigen::MatrixXd& b, bool enforce, const std::string& solver,
                    const std::function<std::string(int64_t)>& unknown, double* max_error);

}  // namespace xbar::solvers
