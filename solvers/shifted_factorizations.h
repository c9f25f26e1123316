// ShiftedFactorizations: the matrices A + sigma D of an implicit time integrator, each
// factorized once and kept, all from one symbolic analysis.
//
//   ShiftedFactorizations f(mna.matrix(), d, mna.grid_coords(), mna.spd(), options);
//   Eigen::MatrixXd x = f.solve(1 / (k * h), b);   // factorizes A + D / (k h) the first time
//   Eigen::MatrixXd y = f.solve(0, b);             // A alone: the DC solve
//
// A is a nodal matrix (MnaSystem::matrix(): every unknown has a diagonal entry), D a
// nonnegative diagonal (the capacitance at each unknown, farads), sigma >= 0 a shift (1/s).
// Since D sits on A's diagonal, every A + sigma D has A's pattern. Back ends:
//  - CHOLMOD (SPD systems): one symbolic analysis, cloned for every shift
//    (CholmodBackend::clone_analysis()), one numeric factorization per shift;
//  - KLU (other systems): analyzed and factorized per shift (its pivot order depends on the
//    values);
//  - PCG (SPD crossbar grids, pcg_backend.h): per shift the line factors and the coarse grid,
//    O(unknowns) and milliseconds where CHOLMOD takes a tenth of a second at 256^2; each
//    solve is CG to options.pcg.tol, 2-5 iterations on shifted crossbar systems (the shift
//    only adds to the lines' diagonals; measured at 256^2, bench/README.md).
// The factorizations are kept by the exact value of sigma, the least recently used one dropped
// beyond max_cached: an integrator whose steps come from a small set (a fixed step, or a
// ladder of powers of two, transient.h) factorizes each of them once. When D is zero every
// shift is the same matrix A and is factorized once.
//
// Every solve is checked (as CircuitSolver::solve_linear checks DC solves): every entry finite
// and, for the direct back ends, a normwise backward error ||M x - b|| / (||M|| ||x|| + ||b||)
// below 1e-10, else xbar::NumericalError naming the unknown (PCG stops at its own tolerance).
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "solvers/linear_backend.h"

namespace xbar::solvers {

class CholmodBackend;

class ShiftedFactorizations {
 public:
  // a: n x n with every diagonal entry in its pattern; d: n capacitances (>= 0); coords: the
  // unknowns' grid coordinates (may be empty; MnaSystem::grid_coords()); kind: kCholmod and
  // kPcg need A symmetric positive definite, kPcg also a crossbar grid
  // (LineSystem::applicable(), else InputError from its analysis). max_cached >= 1.
  ShiftedFactorizations(const SparseMatrix& a, const Eigen::VectorXd& d,
                        const std::vector<GridCoord>& coords, LinearBackendKind kind,
                        const LinearBackendOptions& options, size_t max_cached = 8,
                        std::function<std::string(int64_t)> unknown_names = {});
  ~ShiftedFactorizations();

  // X = (A + sigma D)^-1 B (n x K), factorizing A + sigma D first unless it is cached.
  Eigen::MatrixXd solve(double sigma, const Eigen::MatrixXd& b);

  std::string backend_name() const { return to_string(kind_); }
  const std::string& ordering_used() const { return ordering_; }
  int64_t factorizations() const { return factorizations_; }
  int64_t solves() const { return solves_; }          // right-hand sides solved
  double analyze_s() const { return analyze_s_; }
  double factorize_s() const { return factorize_s_; }  // all factorizations together
  double solve_s() const { return solve_s_; }          // substitutions and their checks
  double factor_nonzeros() const { return nnz_factor_; }  // of one factorization
  double max_backward_error() const { return max_berr_; }
  int64_t cg_iterations() const { return cg_iterations_; }  // PCG: over every solve

 private:
  struct Entry {
    double sigma = 0;
    std::unique_ptr<SparseMatrix> matrix;  // PCG only: A + sigma D, which it keeps using
    std::unique_ptr<LinearBackend> backend;
  };
  // The cached factorization of A + sigma D, made (and the oldest dropped) when missing.
  LinearBackend& factorization(double sigma);
  void check(double sigma, const Eigen::MatrixXd& x, const Eigen::MatrixXd& b);

  const SparseMatrix& a_;
  Eigen::VectorXd d_;
  std::vector<GridCoord> coords_;
  LinearBackendKind kind_ = LinearBackendKind::kCholmod;
  bool d_zero_ = true;
  LinearBackendOptions options_;
  size_t max_cached_ = 8;
  std::function<std::string(int64_t)> namer_;
  SparseMatrix m_;                        // A + sigma D for the factorization under way
  std::vector<int64_t> diag_slot_;        // A's diagonal entries in valuePtr()
  std::unique_ptr<CholmodBackend> analysis_;  // CHOLMOD's analysis, cloned per shift
  std::list<Entry> cache_;                // most recently used first
  double norm_a_ = 0, max_d_ = 0;          // infinity norm of A, largest capacitance
  std::string ordering_;
  int64_t factorizations_ = 0, solves_ = 0, cg_iterations_ = 0;
  double analyze_s_ = 0, factorize_s_ = 0, solve_s_ = 0, nnz_factor_ = 0, max_berr_ = 0;
};

}  // namespace xbar::solvers
