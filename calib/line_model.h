// The decoupled-lines model of a linear crossbar: a cheap approximation of the effective
// matrix T(G) and of its inverse, used to precondition the exact compensation iteration.
//
// For the input "1 V on row i, 0 V elsewhere" the model keeps the three effects that
// dominate T_ij: the voltage drop along row line i, which carries the currents of every cell
// on that row; the rise of column node c(i, j), through which cell (i, j)'s current reaches
// the sense end(s); and the part of that current lost on the way into the other cells of
// column j, whose rows sit near 0 V. Column j is therefore a ladder of wire segments with the
// other cells as shunts to 0 V: it gives the driving-point resistance Z_j(i) of node c(i, j)
// and the fraction phi_j(i) of the injected current that reaches the sense amplifier(s). With
// an array of 3 mS of cells per column on 60 ohm of wire, phi is about 0.9: a first-order
// effect, not a detail. The model drops only what is second order in the coupling: the
// currents that leak into other rows and come back through their cells into other columns.
//
//   forward  T^L(G):   g_eff = G / (1 + G Z), row i's ladder solved with shunts g_eff to
//                      0 V, T^L_ij = phi_ij g_eff_ij r_ij              (one tridiagonal per row)
//   inverse  G(T*; G0): cell currents prescribed, I_ij = T*_ij / phi_ij, row i's ladder solved
//                      with them as sinks, G_ij = I_ij / (r_ij - I_ij Z_ij)  (closed form per row),
//                      with Z and phi taken from the conductances G0 (the current iterate).
//
// Both are O(MN). The model is only a preconditioner: the compensation iteration
// (compensation.h) corrects it with the exact T at every step, so ideal drivers, senses or
// wires (0 ohm) may be approximated by 1e-9 ohm here without touching the result.
#pragma once

#include "netlists/crossbar_builder.h"

namespace xbar::calib {

using netlists::RowMatrixXd;

class LineModel {
 public:
  // Z and phi of every column node for one set of conductances: the O(MN) part of forward()
  // and inverse() that depends on the conductances only (a compensation iteration evaluates
  // the model several times at one iterate: once forward, then one inverse per scale pass).
  struct ColumnFactors {
    RowMatrixXd z, phi;
  };
  explicit LineModel(const netlists::CrossbarSpec& spec);
  ColumnFactors factors(const RowMatrixXd& g_s) const;
  RowMatrixXd forward(const RowMatrixXd& g_s) const { return forward(g_s, factors(g_s)); }
  // f: factors(g_s) of the same conductances.
  RowMatrixXd forward(const RowMatrixXd& g_s, const ColumnFactors& f) const;
  // Cells that cannot carry their prescribed current (the line voltage runs out) get +inf.
  RowMatrixXd inverse(const RowMatrixXd& t_s, const RowMatrixXd& g0_s) const { return inverse(t_s, factors(g0_s)); }
  // f0: factors(g0_s).
  RowMatrixXd inverse(const RowMatrixXd& t_s, const ColumnFactors& f0) const;

 private:
  // Row ladder with end conductances: solves (L + diag(shunt)) r = b for one row.
  void solve_row(const double* shunt, const double* sink, double* r) const;
  int64_t m_, n_;
  double g_seg_;             // row segment conductance
  double g_left_, g_right_;  // driver conductance at each end (0 = not driven)
  double g_col_seg_;          // column segment conductance
  double g_bottom_, g_top_;  // sense conductance at each end (0 = not sensed)
  // Z (driving-point resistance) and phi (fraction reaching the senses) of every column node,
  // the other cells of the column acting as shunts.
  void column_factors(const RowMatrixXd& g, RowMatrixXd& z, RowMatrixXd& phi) const;
};

}  // namespace xbar::calib
