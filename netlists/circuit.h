// Circuit: the element graph that every netlist becomes and every solver consumes.
//
//   netlists::Circuit c;
//   int32_t a = c.add_node("in");                       // named node
//   c.add_element(ElementKind::kVoltageSource, a, kGround, 1.0, "v1");
//   c.add_element(ElementKind::kResistor, a, kGround, 1e3, "r1");
//
// Nodes are dense int32 ids; ground is kGround (-1) and is never a node. A crossbar built by
// crossbar_builder.h declares its 2MN grid nodes implicitly (set_grid): ids [0, MN) are the
// row nodes r(i,j) = i*N + j, ids [MN, 2MN) the column nodes c(i,j) = MN + i*N + j, named
// "r{i}_{j}" and "c{i}_{j}" on demand, so a 2048x2048 array does not hold 8 million
// strings. An array of 1T1R cells also has a third layer, the internal cell nodes m(i,j) =
// 2MN + i*N + j between memory element and access transistor, named "m{i}_{j}"
// (set_grid(rows, cols, true)). Elements likewise carry a compact role tag from which their
// SPICE name is made.
//
// Units: resistor value in ohms, cell value is the cell's per-cell value (its conductance
// parameter in siemens, or what CellModel::cell_value() names: a Flash cell's V_th in volts),
// voltage source in volts, current source in amperes (SPICE sign: flows from pos through the
// source to neg). A resistor of value 0 is an ideal short (the SPICE writer emits it as a
// 0 V source, the nodal solver merges its nodes). A transistor (three terminals: pos = drain,
// neg = source, gate = gate; bulk tied to the source) has its W/L as value and its model in
// transistor_models().
// Names are lowercase (SPICE is case-insensitive; ngspice lowercases everything).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/cell_model.h"
#include "devices/mos1_transistor.h"

namespace xbar::netlists {

inline constexpr int32_t kGround = -1;

// The smallest nonzero resistance accepted anywhere (ohms). Below it 1/R leaves the range in
// which nodal equations stay well conditioned next to ~1 uS cells (and at 1e-308 it overflows);
// an ideal wire is written as 0 ohm, which the solver treats as a short.
inline constexpr double kMinResistanceOhm = 1e-12;

enum class ElementKind : uint8_t { kResistor, kCell, kVoltageSource, kCurrentSource, kTransistor };

// What an element is in a crossbar; it only decides the element's generated name.
// kNamed: the name is stored explicitly (e.g. read from a deck).
enum class Role : uint8_t {
  kNamed,
  kCell,         // cell (i, j):                         rcell_{i}_{j}
  kRowWire,      // segment r(i,j) - r(i,j+1):            rrow_{i}_{j}
  kColWire,      // segment c(i,j) - c(i+1,j):            rcol_{i}_{j}
  kDriverLeft,   // driver resistance of row i, left end: rdrvl_{i}
  kDriverRight,  //                             right end: rdrvr_{i}
  kSourceLeft,   // row-i voltage source, left end:       vrowl_{i}
  kSourceRight,  //                       right end:      vrowr_{i}
  kSenseBottom,  // sense resistance of column j, bottom: rsnsb_{j}
  kSenseTop,     //                                top:    rsnst_{j}
  kVgndBottom,   // virtual-ground (0 V) source, bottom:  vsnsb_{j}
  kVgndTop,      //                               top:     vsnst_{j}
  kAccess,       // access transistor of cell (i, j):     macc_{i}_{j}
  kGateRow,      // gate-line source of row i:            vgrow_{i}
  kGateCol,      // gate-line source of column j:         vgcol_{j}
  kGateGlobal,   // the one gate-line source of the array: vgate
};

struct Element {
  ElementKind kind = ElementKind::kResistor;
  Role role = Role::kNamed;
  uint16_t model = 0;  // kCell: index into cell_models(); kTransistor: into transistor_models()
  int32_t i = 0;       // role index (row), or for kNamed the index into the name table
  int32_t j = 0;       // role index (column)
  int32_t pos = kGround;   // kTransistor: drain
  int32_t neg = kGround;   // kTransistor: source (and bulk)
  // kTransistor, and kCell of a three-terminal cell model (CellModel::gate_lines()): the gate;
  // unused otherwise (fills padding: 32 bytes)
  int32_t gate = kGround;
  double value = 0.0;  // ohm | siemens | volt | ampere | W/L, see the file comment
};

class Circuit {
 public:
  // Declares the implicit 2*rows*cols grid nodes, plus rows*cols internal cell nodes m(i,j)
  // when cell_nodes is true; must be called before any add_node().
  void set_grid(int32_t rows, int32_t cols, bool cell_nodes = false);
  int32_t grid_rows() const { return grid_rows_; }
  int32_t grid_cols() const { return grid_cols_; }
  bool has_cell_nodes() const { return cell_nodes_; }
  int32_t row_node(int32_t i, int32_t j) const { return i * grid_cols_ + j; }
  int32_t col_node(int32_t i, int32_t j) const {
    return grid_rows_ * grid_cols_ + i * grid_cols_ + j;
  }
  // Internal node of cell (i, j); only with set_grid(rows, cols, true).
  int32_t cell_node(int32_t i, int32_t j) const {
    return 2 * grid_rows_ * grid_cols_ + i * grid_cols_ + j;
  }

  // Adds a named node and returns its id; the name must be new (asserts otherwise).
  int32_t add_node(const std::string& name);
  // Id of an existing node, or of a new one with that name. "0" and "gnd" are kGround.
  int32_t node(const std::string& name);
  // Id of the node with this name, kGround for "0"/"gnd", or -2 when there is none.
  int32_t find_node(const std::string& name) const;
  int32_t num_nodes() const { return num_nodes_; }
  std::string node_name(int32_t id) const;  // "0" for kGround
  // Gives a node added by add_node() a new name, which must be new (asserts otherwise); grid
  // nodes keep theirs. The ngspice back end renames the nodes whose names ngspice would not
  // give back as vectors ("1" comes back as "V(1)").
  void rename_node(int32_t id, const std::string& name);

  // Adds an element with an explicit name (Role::kNamed); returns its index.
  size_t add_element(ElementKind kind, int32_t pos, int32_t neg, double value,
                     const std::string& name, uint16_t model = 0);
  // Adds an element whose name is generated from its role and (i, j).
  size_t add_element(ElementKind kind, Role role, int32_t i, int32_t j, int32_t pos, int32_t neg,
                     double value, uint16_t model = 0);
  // Adds a transistor (drain, gate, source; bulk on the source) of width/length ratio
  // w_over_l whose model is transistor_models()[model]; named explicitly or by role.
  size_t add_transistor(int32_t drain, int32_t gate, int32_t source, double w_over_l,
                        const std::string& name, uint16_t model);
  size_t add_transistor(Role role, int32_t i, int32_t j, int32_t drain, int32_t gate,
                        int32_t source, double w_over_l, uint16_t model);
  const std::vector<Element>& elements() const { return elements_; }
  std::vector<Element>& mutable_elements() { return elements_; }
  std::string element_name(size_t index) const;
  // Gives an element added with an explicit name (Role::kNamed) a new one (asserts otherwise).
  void rename_element(size_t index, const std::string& name);
  void reserve_elements(size_t n) { elements_.reserve(n); }

  uint16_t add_cell_model(std::shared_ptr<const devices::CellModel> model);
  const std::vector<std::shared_ptr<const devices::CellModel>>& cell_models() const {
    return cell_models_;
  }

  uint16_t add_transistor_model(std::shared_ptr<const devices::Mos1Transistor> model);
  const std::vector<std::shared_ptr<const devices::Mos1Transistor>>& transistor_models() const {
    return transistor_models_;
  }

  // Indices of the voltage and current sources, in element order.
  std::vector<size_t> source_indices() const;

 private:
  int32_t grid_rows_ = 0;
  int32_t grid_cols_ = 0;
  bool cell_nodes_ = false;
  int32_t num_nodes_ = 0;
  std::vector<std::string> extra_node_names_;  // names of nodes after the grid
  std::unordered_map<std::string, int32_t> extra_node_ids_;
  std::vector<Element> elements_;
  std::vector<std::string> element_names_;  // for Role::kNamed
  std::vector<std::shared_ptr<const devices::CellModel>> cell_models_;
  std::vector<std::shared_ptr<const devices::Mos1Transistor>> transistor_models_;
};

}  // namespace xbar::netlists
