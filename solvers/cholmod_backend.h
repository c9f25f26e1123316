// CHOLMOD back end: supernodal Cholesky for the symmetric positive definite crossbar matrix.
//
// A thin wrapper over SuiteSparse's C API (cholmod_l_*, 64-bit indices so nnz(L) may pass
// 2^31 at 2048^2 and beyond). analyze() runs the ordering and the symbolic factorization,
// factorize() the numeric one (BLAS-3 on supernodes: OpenBLAS uses both cores), solve()
// forward/back substitution in blocks of right-hand sides. Only the lower triangle of the
// matrix is handed to CHOLMOD.
#pragma once

#include <cholmod.h>

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
  // The native control struct, for knobs not mirrored in LinearBackendOptions.
  cholmod_common& common() { return common_; }

 private:
  LinearBackendOptions options_;
  mutable cholmod_common common_;
  cholmod_factor* factor_ = nullptr;
  bool factorized_ = false;
};

}  // namespace xbar::solvers
