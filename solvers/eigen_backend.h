// Eigen back end: simplicial LDL' (Eigen::SimplicialLDLT) for small symmetric positive definite
// systems, in the same fill-reducing orderings as CHOLMOD (geometric nested dissection on a
// crossbar grid, AMD otherwise).
//
// Why a second Cholesky (issue 21, point 5): a small crossbar's factor is too sparse for
// CHOLMOD's supernodes to pay (CHOLMOD factorizes it simplicially too), and Eigen's up-looking
// LDL' was faster at every size measured up to 256^2 (64^2: 2.6 ms against 4.2 ms on one
// thread; 128^2: 18 against 39 ms; bench/backend_crossover.cc). It also needs no library:
// CHOLMOD brings OpenBLAS, LAPACK, METIS and gfortran (~16,000 symbol relocations, ~3.5 ms of
// every process's start), which solvers/lazy_libraries.h now loads only when CHOLMOD is first
// called. So `--backend auto` and `native` take this back end for SPD systems of at most
// kEigenMaxUnknowns unknowns, and a small `xbar solve` never loads CHOLMOD.
//
// A pivot that is not > 0 is reported as CHOLMOD's is: status kNumericalIssue, the unknown named.
#pragma once

#include <Eigen/SparseCholesky>

#include <cstdint>
#include <vector>

#include "solvers/linear_backend.h"

namespace xbar::solvers {

// SPD systems up to this many unknowns (2 per cell of a crossbar: 256 x 256) are factorized by
// EigenBackend when the back end is native, or auto below its PCG crossover (2 x 128 x 128).
// Measured by bench/backend_crossover on one thread (bench/README.md), CHOLMOD / Eigen:
// factorization 1.6x at 64^2, 2.1x at 128^2, 1.6x at 256^2, 1.06x at 384^2, 0.94x at 512^2;
// 64 right-hand sides 2.8x, 3.7x, 2.1x, 1.6x, 2.0x. Above, CHOLMOD's supernodes (and its
// threads) take over.
constexpr int64_t kEigenMaxUnknowns = 2 * 256 * 256;

class EigenBackend final : public LinearBackend {
 public:
  explicit EigenBackend(const LinearBackendOptions& options);

  std::string name() const override { return "eigen"; }
  // Orderings: auto (geometric on a grid, else AMD), geometric, amd. METIS and NESDIS are
  // CHOLMOD's: InputError naming the key.
  void analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) override;
  void factorize(const SparseMatrix& a) override;
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const override;
  Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const override { return solve(b); }

 private:
  using Permutation = Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, int64_t>;
  using Ldlt = Eigen::SimplicialLDLT<SparseMatrix, Eigen::Lower, Eigen::NaturalOrdering<int64_t>>;
  LinearBackendOptions options_;
  Permutation p_;                // unknown u sits at position p_.indices()[u] of the factor
  std::vector<int64_t> order_;   // order_[k]: the unknown eliminated k-th
  SparseMatrix permuted_;        // P A P' (lower triangle used), kept to reuse its storage
  Ldlt ldlt_;
  bool analyzed_ = false;
  bool factorized_ = false;
};

}  // namespace xbar::solvers
