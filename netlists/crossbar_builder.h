// Crossbar spec + cell conductances -> Circuit, with the bookkeeping that maps an input
// vector onto the row sources and the column currents onto the virtual-ground sources.
//
//   CrossbarCircuit x = build_crossbar(spec, g_s, devices::make_cell_model("linear"));
//   Eigen::MatrixXd s = x.source_values(v);   // one column of source values per input
//   ... solve x.circuit ...; I_j = sum of the currents of x.sense_sources[j]
//
// Layout of x.circuit: grid nodes r(i,j), c(i,j) (see circuit.h); elements in blocks:
// MN cells (element i*N + j is cell (i, j)), then row segments, column segments, row
// drivers (source + optional driver resistor per driven end) and column sense ends (optional
// sense resistor + 0 V virtual-ground source per sensed end).
//
// Every driven row end is an ideal source V_i; with r_driver_ohm > 0 it sits at a node
// "dl{i}" / "dr{i}" behind the driver resistor, otherwise directly on r(i,0) / r(i,N-1).
// Every sensed column end is a 0 V source from the sense node to ground (an ammeter, as a
// TIA's virtual ground is): its SPICE current i(vsnsb_j) is the current into the virtual
// ground, positive for positive row voltages on positive conductances, as DESIGN.md's sign
// convention requires. With r_sense_ohm > 0 the sense node is "sb{j}" / "st{j}" behind the
// sense resistor, otherwise the column node itself.
//
// Cells with an access transistor (the 1t1r model, devices/one_t_one_r_cell.h) are expanded:
// the grid gets its third layer of internal nodes m(i,j) (circuit.h), element i*N + j is then
// the memory element alone (a linear cell of conductance G[i,j] from r(i,j) to m(i,j)), and
// after the column segments come MN access transistors "macc_{i}_{j}" (drain m(i,j), source
// and bulk c(i,j), gate on the cell's gate line, value W/L). The gate lines are ideal sources
// at v_gate from ground, added after the sense ends: per row i a node "gr{i}" with source
// "vgrow_{i}", or per column j a node "gc{j}" with source "vgcol_{j}". Every cell gets its
// transistor, also one with G = 0: its drain node then hangs on the transistor alone (gmin
// keeps it defined), as in ngspice.
//
// Cells that are transistors themselves (the flash model: CellModel::gate_lines() non-null,
// devices/flash_cell.h) stay element i*N + j, from r(i,j) (drain) to c(i,j) (source), with
// Element::gate on their gate line: per row a node "gr{i}" with source "vgrow_{i}", per column
// "gc{j}" with "vgcol_{j}", or one node "gw" with source "vgate" for the whole array. The gate
// nodes are created before the cells (so they follow the grid nodes), their sources come
// after the sense ends, each at its line's voltage (GateLines::voltage()). The per-cell
// matrix is then the cells' V_th (volts, any finite value; CellModel::cell_value()).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <memory>
#include <vector>

#include "devices/cell_model.h"
#include "netlists/circuit.h"
#include "netlists/crossbar_spec.h"

namespace xbar::netlists {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct CrossbarCircuit {
  CrossbarSpec spec;
  Circuit circuit;
  // For the k-th entry of circuit.source_indices(): the row whose input voltage it carries,
  // or -1 for a source of fixed value, the element's own value (0 V for a virtual ground,
  // v_gate for a gate line).
  std::vector<int32_t> source_row;
  // For column j: positions (in circuit.source_indices()) of its virtual-ground sources; the
  // second is -1 unless the column is sensed at both ends.
  std::vector<std::array<int32_t, 2>> sense_sources;

  int64_t rows() const { return spec.rows; }
  int64_t cols() const { return spec.cols; }
  // Source values for K inputs: v is K x M (one input per row of v); returns S x K.
  Eigen::MatrixXd source_values(const RowMatrixXd& v) const;
  // The part of the source values that does not depend on the input (S entries): the value
  // of every fixed source (source_row -1), 0 for the row sources.
  Eigen::VectorXd fixed_source_values() const;
};

// g_s is M x N: the per-cell value of the model (CellModel::cell_value(): siemens, each finite
// and >= 0, for the resistive cells; finite volts of V_th for flash). spec.validate() is
// called first. Throws xbar::InputError when g_s does not match spec.rows x spec.cols or holds
// a bad value, or when a flash cell's gate-line voltages do not fit the array (v-gate-lines).
CrossbarCircuit build_crossbar(const CrossbarSpec& spec, const RowMatrixXd& g_s,
                               std::shared_ptr<const devices::CellModel> cell);

// Writes the K x M row voltages into the circuit's source values (for a SPICE deck, which
// holds one operating point). v must have M entries.
void set_row_voltages(CrossbarCircuit& x, const Eigen::VectorXd& v);

}  // namespace xbar::netlists
