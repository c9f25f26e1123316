// LineSystem: a crossbar's SPD nodal matrix seen as independent wire lines joined by cells.
//
//   std::string why;
//   if (!LineSystem::applicable(a, coords, &why)) ...;   // e.g. named nodes, 1T1R layer
//   LineSystem lines(a, coords);      // layout + pattern check: O(nnz)
//   lines.set_values(a);              // stencil values + line factorizations: O(MN)
//   lines.solve_rows(v, v);           // v <- T_r^-1 v: one Thomas solve per row line
//
//   LineSystem lines(stencil);        // or straight from a stencil (crossbar_operator.h):
//                                     // no assembled matrix, the unknowns are the free slots
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
// solve is O(MN), parallel over lines (set_pool()).
//
// Contract: set_values() takes a matrix with the pattern the constructor checked. Errors: the
// constructor throws InputError when !applicable(); set_values() and set_stencil() return the
// unknown whose line pivot is not positive (A is then not positive definite), -1 when all are.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "solvers/mna_system.h"
#include "solvers/thread_pool.h"

namespace xbar::solvers {

class LineSystem {
 public:
  // The matrix's values in grid slots (each vector M*N long, slot i*N + j): the diagonals
  // d_r, d_c, the segment couplings e_r(i,j) = A(r(i,j), r(i,j+1)) (0 at j = N-1) and
  // e_c(i,j) = A(c(i,j), c(i+1,j)) (0 at i = M-1), the cell couplings w(i,j) = A(r(i,j), c(i,j));
  // fixed(s) for s in [0, 2MN) is 1 where the node is fixed (no unknown): its diagonal is
  // then 1 and every coupling to it 0.
  struct Stencil {
    int64_t rows = 0, cols = 0;
    Eigen::VectorXd d_r, e_r, d_c, e_c, w;
    std::vector<uint8_t> fixed;
  };

  // True when every unknown is a row or column grid node and every coupling is a row segment
  // r(i,j)-r(i,j+1), a column segment c(i,j)-c(i+1,j) or a cell r(i,j)-c(i,j); otherwise false
  // with *why (if given) saying what breaks the structure.
  static bool applicable(const SparseMatrix& a, const std::vector<GridCoord>& coords,
                         std::string* why);

  LineSystem(const SparseMatrix& a, const std::vector<GridCoord>& coords);
  // Unknowns are the free slots in slot order; call set_stencil() next.
  LineSystem(int64_t rows, int64_t cols);

  // Copies the stencil values of a and factorizes every line; returns -1, or the first unknown
  // (in line order) whose pivot is not positive.
  int64_t set_values(const SparseMatrix& a);
  // Takes the stencil (same size and fixed slots at every call) and factorizes every line;
  // returns -1 or the unknown whose pivot is not positive.
  int64_t set_stencil(Stencil s);

  int64_t rows() const { return m_; }
  int64_t cols() const { return n_; }
  int64_t layer_size() const { return m_ * n_; }
  // Number of unknowns (free slots).
  int64_t size() const { return size_; }
  // Grid slot (layer * M*N + i*N + j) of every unknown.
  std::vector<int64_t> slots() const;
  // Grid position of unknown k, and its name "r(i,j)" / "c(i,j)" for messages.
  GridCoord coord(int64_t k) const;
  // 1 where the slot (in [0, 2MN)) is a fixed node.
  const std::vector<uint8_t>& fixed() const { return s_.fixed; }
  // The matrix over the unknowns (both triangles) and their grid coordinates: what a direct
  // fallback factorizes. O(MN) memory, built on demand.
  SparseMatrix matrix() const;
  std::vector<GridCoord> coords() const;
  // The values (read-only), for the coarse space and the operator.
  const Stencil& stencil() const { return s_; }
  // Threads for the sweeps (null: the caller's alone); must outlive the object's use.
  void set_pool(ThreadPool* pool) { pool_ = pool; }
  ThreadPool* pool() const { return pool_; }

  // The line sweeps, on one layer of K right-hand sides interleaved (slot q, lane c at q*K + c;
  // K = 1, 2 or 4): layer_size() * K doubles each.
  // x = T_r^-1 (scale .* v) (scale per slot, null: v itself); x may alias v. The scaling and
  // copy ride along the sweeps: these are memory-bound, so every pass saved counts.
  template <int K = 1>
  void solve_rows(const double* v, double* x, const double* scale = nullptr) const;
  // x = T_c^-1 v; with add_to, also add_to += x (x must not alias add_to).
  template <int K = 1>
  void solve_cols(const double* v, double* x, double* add_to = nullptr) const;
  // y = T_c x - W t.
  template <int K = 1>
  void mul_cols(const double* x, const double* t, double* y) const;
  // y = v - (T_c x - W t) (the Schur residual after a correction x with t = T_r^-1 W x);
  // y may alias v; with add_to, also add_to += x.
  template <int K = 1>
  void residual_cols(const double* v, const double* x, const double* t, double* y,
                     double* add_to = nullptr) const;
  // W(r(i,j), c(i,j)) per slot (one layer): the negated cell conductance, 0 where either node is fixed.
  const Eigen::VectorXd& coupling() const { return s_.w; }

 private:
  // Thomas factors of one layer's lines: pivots^-1 and the scaled super-diagonal.
  struct Factor {
    Eigen::VectorXd inv_pivot, upper;
  };
  void factorize_layer(const Eigen::VectorXd& diag, const Eigen::VectorXd& off, bool rows,
                       Factor& f, int64_t& bad_slot) const;
  int64_t unknown_of(int64_t slot) const;
  int64_t m_ = 0, n_ = 0, size_ = 0;
  std::vector<int64_t> slot_;  // unknown -> slot; empty when the unknowns are the free slots
  Stencil s_;
  Factor f_r_, f_c_;
  ThreadPool* pool_ = nullptr;
};

}  // namespace xbar::solvers
