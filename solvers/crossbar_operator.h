// CrossbarOperator: the canonical crossbar's nodal system written straight from its spec and
// conductances in grid slots (line_system.h), with no Circuit, no MnaSystem and no node names.
//
//   std::string why;
//   if (CrossbarOperator::applicable(spec, *cell, &why)) {
//     CrossbarOperator op(spec, g_s);            // O(MN): the stencil and the small maps
//     pcg.set_stencil(op.take_stencil());        // PcgBackend in grid mode
//     op.rhs(v, b);                              // row voltages -> right-hand side (2MN slots)
//     op.currents(x, v, i);                      // solution (2MN slots) -> column currents
//   }
//
// At 4096^2 the generic path (build_crossbar + MnaSystem + the assembled matrix) took ~14 s and
// ~6 GiB before the first CG step; this builds the same system in well under a second, in
// 5 layers of M*N doubles (bench/README.md). The system is the one MnaSystem assembles for
// netlists::build_crossbar() of the same spec (DESIGN.md's canonical crossbar):
//   - row node r(i,j): cell g(i,j) to c(i,j), segments 1/R_row to its row neighbours; a driven
//     end is fixed at V_i (ideal driver) or joined through 1/R_driver to V_i;
//   - column node c(i,j): cell, segments 1/R_col to its column neighbours; a sensed end is
//     fixed at 0 V (ideal virtual ground) or joined through 1/R_sense to 0 V;
// fixed nodes are fixed slots (unit diagonal, no couplings, zero in every vector) and their
// couplings move to the right-hand side. Everything that depends on the inputs is linear in
// the row voltages v:
//     b = B v,   column currents I = C x + D v,
// with B (a few entries per row, at the driven ends), C (a few per column, at the sensed
// ends) and D (a cell joining a fixed driven node to a fixed sensed node) kept as short lists.
// The exact effective matrix is then T^T = C A^-1 B + D (crossbar_solver.h).
//
// Contract: applicable() must hold (the constructor asserts it); g_s is M x N, checked like
// build_crossbar() does (finite, >= 0: InputError naming the entry).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/cell_model.h"
#include "netlists/crossbar_builder.h"
#include "solvers/line_system.h"
#include "solvers/thread_pool.h"

namespace xbar::solvers {

class CrossbarOperator {
 public:
  // A sparse linear map as lists: item k has entries [ptr[k], ptr[k+1]) of (index, coef).
  struct Lists {
    std::vector<int64_t> ptr{0}, index;
    std::vector<double> coef;
    void add(int64_t i, double c) {
      index.push_back(i);
      coef.push_back(c);
    }
    void close() { ptr.push_back(int64_t(index.size())); }
  };

  // True when the spec with this cell model is the canonical linear crossbar this class
  // writes: a linear cell without access transistor, wire segments > 0 ohm on both layers, at
  // least two rows and two columns, and no end held by two sources at once. Otherwise false,
  // with *why saying what (the generic path then builds the circuit).
  static bool applicable(const netlists::CrossbarSpec& spec, const devices::CellModel& cell,
                         std::string* why);
  // The same question for an already built circuit: true when x.circuit is exactly what
  // build_crossbar(x.spec, G, linear cell) gives for some G, which is then copied into *g_s.
  static bool matches_circuit(const netlists::CrossbarCircuit& x, netlists::RowMatrixXd* g_s,
                              std::string* why);

  // pool: threads for writing the stencil (null: the caller alone).
  // Unknowns (free grid nodes) of the spec's system: 2MN less the ideally driven and sensed ends.
  static int64_t count_unknowns(const netlists::CrossbarSpec& spec);

  CrossbarOperator(const netlists::CrossbarSpec& spec, const netlists::RowMatrixXd& g_s,
                   ThreadPool* pool = nullptr);

  int64_t rows() const { return m_; }
  int64_t cols() const { return n_; }
  int64_t unknowns() const { return unknowns_; }
  int64_t matrix_nonzeros() const { return nonzeros_; }
  // The stencil, moved out (once) for PcgBackend::set_stencil().
  LineSystem::Stencil take_stencil();

  // b (2MN slots) = B v for row voltages v (M values).
  void rhs(const double* v, double* b) const;
  // i (N values, stride `stride`) = C x + D v.
  void currents(const double* x, const double* v, double* i, int64_t stride = 1) const;
  // B by row voltage (index = slot), C by column (index = slot), D by column (index = row).
  const Lists& rhs_map() const { return b_; }
  const Lists& current_map_x() const { return c_; }
  const Lists& current_map_v() const { return d_; }

 private:
  int64_t m_ = 0, n_ = 0, unknowns_ = 0, nonzeros_ = 0;
  LineSystem::Stencil stencil_;
  Lists b_, c_, d_;
};

}  // namespace xbar::solvers
