// LineSystem: a crossbar's SPD nodal matrix seen as independent wire lines joined by cells.
//
//   std::string why;
//   if (!LineSystem::applicable(a, coords, &why)) ...;   // e.g. named nodes, 1T1R layer
//   LineSystem lines(a, coords);      // layout + pattern check: O(nnz)
//   lines.set_values(a);              // stencil values + line factorizations: O(MN)
//   lines.solve_rows(v, v);           // v <- T_r^-1 v: one Thomas solve per row line
//
// Every free unknown is a grid node r(i,j) (layer 0) or c(i,j) (layer 1) (MnaSystem::grid_coords()).
// With the unknowns split by layer the matrix is
//
//     A = [ T_r  W ]      T_r: each row line r(i,0..N-1) a tridiagonal chain (wire segments;
//         [ W    T_c ]         the diagonal keeps the cell, driver and shunt conductances),
//                          T_c: each column line c(0..M-1,j) likewise (sense ends on the diagonal),
//                          W:   diagonal, W(r(i,j), c(i,j)) = -(cell (i,j)'s conductance).
//
// Vectors live in grid layout: one layer is M*N doubles, row-major (slot i*N + j), so a row
// line is contiguous and the column lines are swept together, vectorized across j. Slots of
// fixed nodes (an ideal driver or virtual ground) carry a decoupled unit diagonal and stay 0.
// T_r and T_c are principal submatrices of A, hence SPD when A is; they are factorized once per
// set_values() (LDL^T without pivoting, stable for these diagonally dominant chains) and every
// solve is O(MN), parallel over lines (OpenMP).
//
// Contract: set_values() takes a matrix with the pattern the constructor checked. Errors: the
// constructor throws InputError when !applicable(); set_values() returns the unknown whose line
// pivot is not positive (A is then not positive definite), -1 when all are.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "solvers/mna_system.h"

namespace xbar::solvers {

class LineSystem {
 public:
  // True when every unknown is a row or column grid node and every coupling is a row segment
  // r(i,j)-r(i,j+1), a column segment c(i,j)-c(i+1,j) or a cell r(i,j)-c(i,j); otherwise false
  // with *why (if given) saying what breaks the structure.
  static bool applicable(const SparseMatrix& a, const std::vector<GridCoord>& coords,
                         std::string* why);

  LineSystem(const SparseMatrix& a, const std::vector<GridCoord>& coords);

  // Copies the stencil values of a and factorizes every line; returns -1, or the first unknown
  // (in line order) whose pivot is not positive.
  int64_t set_values(const SparseMatrix& a);

  int64_t rows() const { return m_; }
  int64_t cols() const { return n_; }
  int64_t layer_size() const { return m_ * n_; }
  // Grid slot (layer * M*N + i*N + j) of every unknown.
  const std::vector<int64_t>& slots() const { return slot_; }

  // On one layer (layer_size() doubles each), x may alias v: x = T_r^-1 (scale .* v) (scale
  // null: v itself), x = T_c^-1 v. The scaling and copy ride along the sweeps: these are
  // memory-bound, so every pass saved counts.
  void solve_rows(const double* v, double* x, const double* scale = nullptr) const;
  void solve_cols(const double* v, double* x) const;
  // y = T_c x, minus w .* t when both are given (one layer).
  void mul_cols(const double* x, double* y, const double* w = nullptr, const double* t = nullptr) const;
  // W(r(i,j), c(i,j)) per slot (one layer): the negated cell conductance, 0 where either node is fixed.
  const Eigen::VectorXd& coupling() const { return w_; }

 private:
  // Thomas factors of one layer's lines: pivots^-1 and the scaled super-diagonal.
  struct Factor {
    Eigen::VectorXd inv_pivot, upper;
  };
  void factorize_layer(const Eigen::VectorXd& diag, const Eigen::VectorXd& off, bool rows,
                       Factor& f, int64_t& bad_slot) const;
  int64_t m_ = 0, n_ = 0;
  std::vector<int64_t> slot_;
  std::vector<int64_t> unknown_of_slot_;  // -1 for a fixed node; for error messages
  Eigen::VectorXd e_r_;   // A(r(i,j), r(i,j+1)) at slot i*N + j (0 at j = N-1)
  Eigen::VectorXd d_c_;   // A(c(i,j), c(i,j))
  Eigen::VectorXd e_c_;   // A(c(i,j), c(i+1,j)) at slot i*N + j (0 at i = M-1)
  Eigen::VectorXd w_;     // A(r(i,j), c(i,j))
  Factor f_r_, f_c_;
};

}  // namespace xbar::solvers
