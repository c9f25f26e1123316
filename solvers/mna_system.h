// MnaSystem: modified nodal analysis of a linear Circuit, assembled once per topology.
//
//   solvers::MnaSystem mna(circuit);          // throws for a bad or singular topology
//   SparseMatrix a = mna.matrix();            // (F + B) x (F + B)
//   Eigen::MatrixXd b = mna.rhs(s);           // s: S x K source values -> right-hand sides
//   ... x = A^-1 b (any LinearBackend) ...
//   Eigen::MatrixXd v = mna.node_voltages(x, s);     // every circuit node, volts
//   Eigen::MatrixXd i = mna.source_currents(x, s);   // every source, amperes (SPICE sign)
//
// How the unknowns are chosen (this keeps the crossbar symmetric positive definite):
//  1. Zero-ohm resistors are ideal shorts: their nodes are merged (union-find).
//  2. Ground is fixed at 0 V. A voltage source with one fixed terminal fixes the other
//     (breadth-first from ground); such nodes are Dirichlet values and leave the matrix, their
//     coupling conductances go to the right-hand side. The crossbar's row drivers and
//     virtual grounds are all of this kind, so its matrix is the SPD conductance matrix over
//     the 2MN grid nodes.
//  3. Any other ("floating") voltage source gets a branch-current unknown, classic MNA; the
//     matrix is then symmetric indefinite and needs KLU.
// The source currents of fixed sources come from Kirchhoff's current law at the node they fix
// (summed over the tree of sources hanging below it).
//
// Nonlinear elements (Newton, solvers/newton.h) sit in the pattern as structural zeros and
// are stamped by nonlinear_residual(): two-terminal nonlinear cells (symmetric stamps) and
// transistors, including cells that are transistors themselves (CellModel::gate_lines(): the
// flash cell, drain on pos, source on neg, gate on Element::gate), all counted by
// num_transistors() (drain, gate, source: the drain current depends on all three voltages, so
// their stamps are not symmetric and symmetric() is false; the pattern stays symmetric, the
// values do not, and the matrix needs KLU).
//
// Contract: the values of the sources are not baked in; rhs(), node_voltages() and
// source_currents() take them (S x K, in the order of Circuit::source_indices()), so one
// factorization serves any number of inputs. Errors name the element or node. A singular
// circuit throws xbar::NumericalError "singular circuit: ..." (exit 4, README): a loop of
// voltage sources (fixed or floating) and an island of nodes with no DC path to ground or a
// source. xbar::InputError: a shorted source, a resistance below netlists::kMinResistanceOhm,
// a cell with an access transistor that was not expanded by the crossbar builder, and a
// transistor with W/L <= 0 or an unknown model.
#pragma once

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <cstdint>
#include <string>
#include <vector>

#include "netlists/circuit.h"

namespace xbar::solvers {

using SparseMatrix = Eigen::SparseMatrix<double, Eigen::ColMajor, int64_t>;

// Where a free unknown sits in a crossbar grid: used by the geometric nested-dissection
// ordering. layer 0 = row (word-line) node, 1 = column (bit-line) node.
struct GridCoord {
  int32_t i = 0;
  int32_t j = 0;
  int32_t layer = 0;
};

class MnaSystem {
 public:
  explicit MnaSystem(const netlists::Circuit& circuit);

  int64_t num_free_nodes() const { return num_free_; }
  int64_t num_branches() const { return int64_t(branch_sources_.size()); }
  int64_t size() const { return num_free_ + num_branches(); }
  int64_t num_sources() const { return int64_t(source_elements_.size()); }
  // True when the Jacobian's values are symmetric: no transistors.
  bool symmetric() const { return transistors_.empty(); }
  // True when there are no branch unknowns and no transistors: the matrix (and, for monotone
  // cells, every Newton Jacobian) is then symmetric positive definite and CHOLMOD applies.
  bool spd() const { return branch_sources_.empty() && symmetric(); }

  // Full matrix (both triangles), column-major.
  const SparseMatrix& matrix() const { return a_; }
  // Right-hand sides for source values s (S x K): (F + B) x K.
  Eigen::MatrixXd rhs(const Eigen::MatrixXd& s) const { return rhs_map_ * s; }
  const SparseMatrix& rhs_map() const { return rhs_map_; }

  // Every circuit node's voltage (num_nodes x K) from the solution x and the sources s.
  Eigen::MatrixXd node_voltages(const Eigen::MatrixXd& x, const Eigen::MatrixXd& s) const;
  // Current of every source (S x K): for a voltage source the SPICE convention (current
  // entering the + terminal and flowing through the source to -), for a current source its
  // value. Linear: currents = current_map_x() * x + current_map_s() * s.
  Eigen::MatrixXd source_currents(const Eigen::MatrixXd& x, const Eigen::MatrixXd& s) const {
    return q_x_ * x + q_s_ * s;
  }
  const SparseMatrix& current_map_x() const { return q_x_; }
  const SparseMatrix& current_map_s() const { return q_s_; }

  // Grid coordinates of every unknown, or empty when some unknown is not a plain grid node
  // (merged nodes, named nodes, branch currents): then no geometric ordering applies.
  const std::vector<GridCoord>& grid_coords() const { return coords_; }
  // The free unknown holding circuit node `node`'s voltage, or -1 when that voltage is fixed
  // (ground, held by voltage sources, or joined to such a node by zero-ohm wires).
  int64_t unknown_of_node(int32_t node) const {
    return node == netlists::kGround ? -1 : free_of_group_[size_t(group_of_node_[size_t(node)])];
  }
  // Human-readable name of unknown k ("node r3_7", "branch of v1") for error messages.
  std::string unknown_name(int64_t k) const;

  // Nonlinear cells and transistors (Newton). matrix(), rhs() and the current maps above hold
  // the linear part only; the nonlinear elements sit in matrix()'s pattern as explicit zeros.
  bool linear() const { return nonlinear_.empty() && transistors_.empty(); }
  int64_t num_nonlinear() const { return int64_t(nonlinear_.size() + transistors_.size()); }
  int64_t num_transistors() const { return int64_t(transistors_.size()); }
  // For one input (x: unknowns, s: source values) adds every nonlinear element's current to
  // the KCL residual f (current leaving each free node), its derivatives to jac_values (a
  // copy of matrix().valuePtr(), may be null; a cell adds dI/dV, a transistor dI/dV_d,
  // dI/dV_g, dI/dV_s into the drain and source rows) and, if given, its share to the source
  // currents (same convention as source_currents()). Returns the largest element current
  // (amperes), the scale for Newton's current tolerance. Throws NumericalError naming an
  // element whose model returns a non-finite value.
  double nonlinear_residual(const Eigen::Ref<const Eigen::VectorXd>& x, const Eigen::Ref<const Eigen::VectorXd>& s,
                            Eigen::Ref<Eigen::VectorXd> f, double* jac_values,
                            Eigen::VectorXd* source_currents) const;
  // Adds the small-signal conductances at "zero bias" to jac_values (as nonlinear_residual
  // does): every cell at 0 V, every transistor at V_ds = 0 with its gate-source voltage taken
  // at x = 0 under the sources s (free nodes at 0 V, so the gate lines' voltages count), i.e.
  // its channel on-conductance. Newton's first linear solve with this matrix treats every
  // nonlinear element as the linear resistor it is near zero bias.
  void add_zero_bias_jacobian(const Eigen::VectorXd& s, double* jac_values) const;
  // Free nodes that Newton eliminates from every Jacobian before factorizing it (static
  // condensation, newton.h), ascending: each is stamped only by linear conductances and by
  // transistor channels (drain or source, never a gate), is joined to at most two other
  // unknowns, and no two of them are joined to each other. In a 1T1R array these are the
  // internal cell nodes m(i,j). Every stamp on such a node is a conductance (dI/dV_d >= gmin,
  // -dI/dV_s >= 0), so its Jacobian column is diagonally dominant with a positive diagonal at
  // every bias: eliminating it first is the pivot partial pivoting would choose.
  const std::vector<int64_t>& internal_nodes() const { return internal_; }

 private:
  const netlists::Circuit& circuit_;
  int64_t num_free_ = 0;
  std::vector<size_t> source_elements_;   // Circuit::source_indices()
  std::vector<size_t> branch_sources_;    // element index of each floating V source
  std::vector<int32_t> group_of_node_;    // node -> group (ground's group = num_nodes)
  std::vector<int64_t> free_of_group_;    // group -> free unknown, or -1 when fixed
  std::vector<int32_t> rep_node_of_free_; // free unknown -> a node of its group
  std::vector<int32_t> fixed_id_;         // group -> index into pot_, or -1 when free
  // Potential of each fixed group as a signed sum of source values (source position, sign).
  std::vector<std::vector<std::pair<int32_t, double>>> pot_;
  struct NonlinearCell {
    size_t element = 0;
    int64_t a = -1, b = -1;              // free unknowns of pos / neg, -1 when fixed
    int32_t fixed_a = -1, fixed_b = -1;  // their fixed groups (index into pot_), -1 = ground/free
    int64_t slot_aa = -1, slot_bb = -1, slot_ab = -1, slot_ba = -1;  // into a_.valuePtr()
  };
  double terminal_voltage(int64_t free, int32_t fixed, const Eigen::Ref<const Eigen::VectorXd>& x,
                          const Eigen::Ref<const Eigen::VectorXd>& s) const;
  // Adds current_a, leaving the fixed group through a nonlinear element, to the currents of the
  // sources it flows through on its way to ground (no-op for a free terminal, fixed_group < 0).
  void book_outflow(int32_t fixed_group, double current_a, Eigen::VectorXd& source_currents) const;
  std::vector<NonlinearCell> nonlinear_;
  // Current and derivatives of a three-terminal element: a transistor, or a cell whose model
  // has a gate (flash).
  devices::MosEval three_terminal_eval(const netlists::Element& e, double vd, double vg, double vs) const;
  // Transistors and three-terminal cells alike.
  struct Transistor {
    size_t element = 0;
    int64_t d = -1, g = -1, s = -1;                   // free unknowns, -1 when fixed
    int32_t fixed_d = -1, fixed_g = -1, fixed_s = -1;  // their fixed groups, -1 = ground/free
    // Into a_.valuePtr(): rows d and s (KCL), columns d, g, s; -1 where a terminal is fixed.
    int64_t slot_dd = -1, slot_dg = -1, slot_ds = -1, slot_sd = -1, slot_sg = -1, slot_ss = -1;
  };
  std::vector<Transistor> transistors_;
  std::vector<int64_t> internal_;
  // Per fixed group: the (source position, sign) pairs its outflow adds to.
  std::vector<std::vector<std::pair<int32_t, double>>> outflow_sources_;
  SparseMatrix a_, rhs_map_, q_x_, q_s_;
  std::vector<GridCoord> coords_;
};

}  // namespace xbar::solvers
