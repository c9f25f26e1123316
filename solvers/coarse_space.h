// CoarseSpace: the two-level part of the PCG preconditioner, a bilinear coarse grid over the
// crossbar that carries the smooth error the wire lines cannot remove.
//
//   CoarseSpace coarse(lines, options);         // grid, Galerkin operator, its factorization
//   coarse.add_correction(r, z, scratch);       // z += P S_c^-1 P^T r on the column layer
//
// Why (bench/README.md, issue 8). CG runs on the Schur complement S = T_c - W T_r^-1 W over
// the column layer (pcg_backend.h), preconditioned by the column lines T_c. For a Fourier mode
// with wave numbers (kx, ky) on a uniform array (row wires G_r = 1/R_row, column wires G_c,
// cells g) the preconditioned operator T_c^-1 S has the eigenvalue
//     1 - g^2 / ((G_r kx^2 + g) (G_c ky^2 + g)),
// close to 1 unless the mode is smooth in BOTH directions, kx^2 < g R_row and ky^2 < g R_col;
// there it is about (G_r kx^2 + G_c ky^2) / g, down to g R N^2 / pi^2 for the smoothest mode:
// the condition number grows like g R N^2 and CG's iterations like sqrt(g R) N (12 at 256^2,
// 89 at 4096^2 measured). The bad modes are exactly those a coarse grid of spacing
// H ~ 1 / sqrt(g R) resolves, so the coarse space is:
//   - a coarse grid of spacing H_j = c / sqrt(g R_row) along the rows and
//     H_i = c / sqrt(g R_col) along the columns (g the mean cell conductance, R the mean
//     segment resistances, c = options.spacing), coarse nodes on fine nodes, both ends included;
//   - two fields per coarse node, one for each layer (the row layer's potential can differ from
//     the column layer's near the driven and sensed ends), each interpolated bilinearly
//     (P = P_i (x) P_j, zero on fixed nodes);
//   - the Galerkin operator A_c = P^T A P of the full two-layer matrix (9-point in each field,
//     the fields coupled through the cells), summed with tensor-product sum factorization in
//     O(MN), factorized by CHOLMOD (AMD ordering);
//   - the correction on the column layer is P S_c^-1 P^T r, with S_c the Schur complement of
//     A_c's row field: solving A_c y = [0; P^T r] and keeping y's column field gives exactly it.
// PcgBackend combines it with the column lines, multiplicatively by default (pcg_backend.h);
// either way the preconditioner is SPD for any SPD S_c. S_c >= P^T S P (the coarse row field is
// a restricted minimisation), so the correction never overshoots. Measured (bench/README.md):
// 6-7 CG iterations from 256^2 to 4096^2, typical and harsh arrays, where the lines alone take
// 11-89 and 38-142.
//
// Contract: the LineSystem passed to the constructor must outlive the object; rebuild with a
// new CoarseSpace after LineSystem::set_values(). solve(), prolong() and add_correction() are
// const and thread-safe (each caller brings its own Scratch; coarse solves take turns).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "solvers/cholmod_backend.h"
#include "solvers/line_system.h"
#include "solvers/linear_backend.h"

namespace xbar::solvers {

class CoarseSpace {
 public:
  CoarseSpace(const LineSystem& lines, const CoarseOptions& options);

  // Per calling thread: coarse vectors and a row buffer.
  struct Scratch {
    Eigen::MatrixXd rhs, sol;
    std::vector<double> row;
  };
  // On the column layer of K right-hand sides interleaved (as LineSystem's sweeps; zero on
  // fixed slots): z += P S_c^-1 P^T r.
  template <int K = 1>
  void add_correction(const double* r, double* z, Scratch& scratch) const {
    solve<K>(r, scratch);
    prolong<K>(scratch, z, 1.0);
  }
  // The two halves: scratch.sol = S_c^-1 P^T r (coarse, K columns), then z = P scratch.sol
  // (weight 0: overwrite) or z += weight * P scratch.sol.
  template <int K = 1>
  void solve(const double* r, Scratch& scratch) const;
  template <int K = 1>
  void prolong(const Scratch& scratch, double* z, double weight) const;

  // Coarse nodes along the columns (i) and along the rows (j); unknowns = 2 * their product.
  int64_t coarse_rows() const { return ai_.nodes; }
  int64_t coarse_cols() const { return aj_.nodes; }
  int64_t unknowns() const { return 2 * ai_.nodes * aj_.nodes; }
  double setup_s() const { return setup_s_; }
  // For tests: the coarse operator A_c (unknown (a * coarse_cols() + b) * 2 + layer) and the
  // prolongation P (rows: the LineSystem's unknowns, in its order; columns: coarse unknowns),
  // so that A_c = P^T A P can be checked against a sparse product.
  const SparseMatrix& matrix() const { return a_c_; }
  SparseMatrix prolongation() const;

 private:
  // Linear interpolation along one axis: fine index t gets weight 1 - frac[t] from coarse node
  // node[t] and frac[t] from node[t] + 1 (frac 0 on a coarse node and past the last).
  struct Axis {
    int64_t fine = 0, nodes = 0;
    std::vector<int32_t> node;
    std::vector<double> frac;
    std::vector<int64_t> start;  // fine index of each coarse node, then fine: interval bounds
  };
  static Axis make_axis(int64_t fine, double spacing);
  void assemble(const LineSystem& lines);
  const LineSystem& lines_;
  Axis ai_, aj_;
  SparseMatrix a_c_;
  // CHOLMOD (supernodal, AMD): a 116k-unknown coarse system factorizes in a fraction of a
  // second where Eigen's simplicial LDL^T took 15 s. Its solve is not thread-safe, and blocks
  // of a batch run on several threads: coarse solves take turns (~1 ms against ~100 ms of
  // line sweeps per iteration at 1024^2).
  std::unique_ptr<CholmodBackend> chol_;
  mutable std::mutex chol_mutex_;
  double setup_s_ = 0;
};

}  // namespace xbar::solvers
