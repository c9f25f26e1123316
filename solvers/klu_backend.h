// KLU back end: sparse LU with partial pivoting, for matrices that are not SPD (floating
// voltage sources give MNA branch rows; transistor Jacobians are not symmetric). Thin wrapper
// over SuiteSparse's klu_l_* C API. The whole matrix (both triangles) is used.
//
// Ordering: AMD, or on crossbar grids the geometric nested dissection (grid_ordering.h,
// through klu_analyze_given), which fills about a third less than AMD on 1T1R arrays.
// Repeated factorize() calls on one analysis (Newton steps) try klu_refactor with the previous
// pivot order first and keep it while the pivot growth stays small (klu_backend.cc).
#pragma once

#include <klu.h>

#include "solvers/linear_backend.h"

namespace xbar::solvers {

class KluBackend final : public LinearBackend {
 public:
  explicit KluBackend(const LinearBackendOptions& options);
  ~KluBackend() override;
  KluBackend(const KluBackend&) = delete;
  KluBackend& operator=(const KluBackend&) = delete;

  std::string name() const override { return "klu"; }
  void analyze(const SparseMatrix& a, const std::vector<GridCoord>& coords) override;
  void factorize(const SparseMatrix& a) override;
  Eigen::MatrixXd solve(const Eigen::MatrixXd& b) const override { return solve_impl(b, false); }
  Eigen::MatrixXd solve_transposed(const Eigen::MatrixXd& b) const override {
    return solve_impl(b, true);
  }
  klu_l_common& common() { return common_; }

 private:
  Eigen::MatrixXd solve_impl(const Eigen::MatrixXd& b, bool transposed) const;
  LinearBackendOptions options_;
  mutable klu_l_common common_;
  klu_l_symbolic* symbolic_ = nullptr;
  klu_l_numeric* numeric_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace xbar::solvers
