// CHOLMOD back end: supernodal Cholesky for the symmetric positive definite crossbar matrix.
//
// A thin wrapper over SuiteSparse's C API (cholmod_l_*, 64-bit indices so nnz(L) may pass
// 2^31 at 2048^2 and beyond). analyze() runs the ordering and the symbolic factorization,
// factorize() the numeric one (BLAS-3 on supernodes), solve() forward/back substitution.
// Only the lower triangle of the matrix is handed to CHOLMOD. Factorizations run on the
// calling thread alone (CHOLMOD's OpenMP regions serial, OpenBLAS parked in the xbar
// executable) unless OPENBLAS_NUM_THREADS >= 2 asks for threads (solvers/library_threads.h:
// FactorizationThreads; the threads cost 2-30x on a host whose other core is busy).
//
// Batches: CHOLMOD's supernodal solve does not split right-hand sides over cores (its many
// small supernodes give OpenBLAS little to share). So with two or more threads in OpenMP's
// budget, the first solve() with many right-hand sides keeps a simplicial copy of the factor
// (when it fits kSimplicialCopyMaxNnz) and splits the columns over the threads, each with its
// own cholmod_common, 4 columns per call; the supernodal factor stays for the next factorize().
// On one thread (a sweep rank) the supernodal solve is as fast and reads the factor far less
// often, so ranks sharing the memory bus do not slow each other down. solve() is
// const for callers but not thread-safe: it makes that copy lazily, so one backend object
// serves one calling thread at a time (it parallelizes internally).
#pragma once

#include <cholmod.h>

#include <memory>
#include <vector>

#include "solvers/linear_backend.h"

namespace xbar::solvers {

class CholmodBackend final : public LinearBackend {
 public:
  explicit CholmodBackend(const LinearBackendOptions& options);
  ~CholmodBackend() override;
  CholmodBackend(const CholmodBackend&) = delete;
  CholmodBackend& operator=(const CholmodBackend&) = delete;

  std::string name() const override { return "cholmod"; }
  void analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) override;
  void factorize(const SparseMatrix& a) override;
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const override;
  Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const override { return solve(b); }
  // Nonzeros of L predicted by the last analyze() (before any factorization): what a
  // factorization would cost in memory.
  double analyzed_factor_nonzeros() const { return common_.lnz; }
  // A new backend holding a copy of this one's symbolic analysis (ordering, elimination tree,
  // supernodes) and ready for factorize() of any matrix with the analyzed pattern, without an
  // analyze() of its own: several factorizations of one pattern kept at once (the shifted
  // matrices of a transient, solvers/shifted_factorizations.h) share one analysis. Asserts
  // that analyze() was called.
  std::unique_ptr<CholmodBackend> clone_analysis() const;
  // The native control struct, for knobs not mirrored in LinearBackendOptions.
  cholmod_common& common() { return common_; }
  // The native factor (null before analyze()), for measuring other solve routes on it
  // (bench/effective_speed.cc); a caller that changes it owns the consequences.
  cholmod_factor* factor() { return factor_; }
  // True once a batched solve made the simplicial copy (for tests and reports).
  bool uses_simplicial_copy() const { return simplicial_ != nullptr; }

 private:
  void free_simplicial() const;
  LinearBackendOptions options_;
  mutable cholmod_common common_;
  cholmod_factor* factor_ = nullptr;
  bool factorized_ = false;
  // Simplicial copy of factor_ for batched solves, made on demand (see the file comment).
  mutable cholmod_factor* simplicial_ = nullptr;
  mutable std::vector<std::unique_ptr<cholmod_common>> thread_commons_;
};

}  // namespace xbar::solvers
