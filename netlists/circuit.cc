#include "netlists/circuit.h"

#include "support/contract.h"

#include <charconv>
#include <cstdio>

namespace xbar::netlists {

// A 2048^2 crossbar of 1T1R cells holds about 4 * 4.2 million elements: keep them at 32 bytes.
static_assert(sizeof(Element) <= 32, "Element grew beyond 32 bytes");

namespace {

// Parses "r{i}_{j}" / "c{i}_{j}" (and "m{i}_{j}" when the circuit has cell nodes) into a
// grid node id, or returns -2.
int32_t parse_grid_name(const std::string& name, int32_t rows, int32_t cols, bool cell_nodes) {
  if (rows == 0 || name.size() < 4) return -2;
  if (name[0] != 'r' && name[0] != 'c' && !(cell_nodes && name[0] == 'm')) return -2;
  const char* p = name.data() + 1;
  const char* end = name.data() + name.size();
  int32_t i = 0, j = 0;
  auto r1 = std::from_chars(p, end, i);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '_' || r1.ptr == p) return -2;
  auto r2 = std::from_chars(r1.ptr + 1, end, j);
  if (r2.ec != std::errc() || r2.ptr != end || r2.ptr == r1.ptr + 1) return -2;
  // Reject non-canonical spellings such as "r01_2" so that names and ids stay one-to-one.
  if (std::to_string(i) + "_" + std::to_string(j) != name.substr(1)) return -2;
  if (i < 0 || j < 0 || i >= rows || j >= cols) return -2;
  const int64_t base = (name[0] == 'r' ? 0 : name[0] == 'c' ? 1 : 2) * int64_t(rows) * cols;
  return int32_t(base + int64_t(i) * cols + j);
}

}  // namespace

void Circuit::set_grid(int32_t rows, int32_t cols, bool cell_nodes) {
  XBAR_EXPECTS(num_nodes_ == 0, "set_grid() must come before add_node()");
  grid_rows_ = rows;
  grid_cols_ = cols;
  cell_nodes_ = cell_nodes;
  num_nodes_ = int32_t((cell_nodes ? 3 : 2) * int64_t(rows) * cols);
}

int32_t Circuit::add_node(const std::string& name) {
  XBAR_EXPECTS(find_node(name) == -2, "add_node(): name already exists");
  const int32_t id = num_nodes_++;
  extra_node_names_.push_back(name);
  extra_node_ids_.emplace(name, id);
  return id;
}

int32_t Circuit::find_node(const std::string& name) const {
  if (name == "0" || name == "gnd") return kGround;
  const int32_t g = parse_grid_name(name, grid_rows_, grid_cols_, cell_nodes_);
  if (g >= 0) return g;
  auto it = extra_node_ids_.find(name);
  return it == extra_node_ids_.end() ? -2 : it->second;
}

int32_t Circuit::node(const std::string& name) {
  const int32_t id = find_node(name);
  return id == -2 ? add_node(name) : id;
}

std::string Circuit::node_name(int32_t id) const {
  if (id == kGround) return "0";
  const int64_t mn = int64_t(grid_rows_) * grid_cols_;
  const int64_t layers = cell_nodes_ ? 3 : 2;
  if (id < layers * mn) {
    const int64_t layer = id / mn, k = id % mn;
    return "rcm"[layer] + std::to_string(k / grid_cols_) + "_" + std::to_string(k % grid_cols_);
  }
  return extra_node_names_[size_t(id - layers * mn)];
}

void Circuit::rename_node(int32_t id, const std::string& name) {
  const int64_t first_named = (cell_nodes_ ? 3 : 2) * int64_t(grid_rows_) * grid_cols_;
  XBAR_EXPECTS(id >= first_named && id < num_nodes_, "rename_node(): not a named node");
  XBAR_EXPECTS(find_node(name) == -2, "rename_node(): name already exists");
  std::string& old = extra_node_names_[size_t(id - first_named)];
  extra_node_ids_.erase(old);
  extra_node_ids_.emplace(name, id);
  old = name;
}

void Circuit::rename_element(size_t index, const std::string& name) {
  XBAR_EXPECTS(index < elements_.size() && elements_[index].role == Role::kNamed,
               "rename_element(): not an explicitly named element");
  element_names_[size_t(elements_[index].i)] = name;
}

size_t Circuit::add_element(ElementKind kind, int32_t pos, int32_t neg, double value,
                            const std::string& name, uint16_t model) {
  Element e;
  e.kind = kind;
  e.role = Role::kNamed;
  e.model = model;
  e.i = int32_t(element_names_.size());
  e.pos = pos;
  e.neg = neg;
  e.value = value;
  element_names_.push_back(name);
  elements_.push_back(e);
  return elements_.size() - 1;
}

size_t Circuit::add_element(ElementKind kind, Role role, int32_t i, int32_t j, int32_t pos,
                            int32_t neg, double value, uint16_t model) {
  Element e;
  e.kind = kind;
  e.role = role;
  e.model = model;
  e.i = i;
  e.j = j;
  e.pos = pos;
  e.neg = neg;
  e.value = value;
  elements_.push_back(e);
  return elements_.size() - 1;
}

size_t Circuit::add_transistor(int32_t drain, int32_t gate, int32_t source, double w_over_l,
                              const std::string& name, uint16_t model) {
  const size_t k = add_element(ElementKind::kTransistor, drain, source, w_over_l, name, model);
  elements_[k].gate = gate;
  return k;
}

size_t Circuit::add_transistor(Role role, int32_t i, int32_t j, int32_t drain, int32_t gate,
                              int32_t source, double w_over_l, uint16_t model) {
  const size_t k =
      add_element(ElementKind::kTransistor, role, i, j, drain, source, w_over_l, model);
  elements_[k].gate = gate;
  return k;
}

std::string Circuit::element_name(size_t index) const {
  const Element& e = elements_[index];
  const std::string i = std::to_string(e.i), j = std::to_string(e.j);
  switch (e.role) {
    case Role::kNamed: return element_names_[size_t(e.i)];
    case Role::kCell: return "rcell_" + i + "_" + j;
    case Role::kRowWire: return "rrow_" + i + "_" + j;
    case Role::kColWire: return "rcol_" + i + "_" + j;
    case Role::kDriverLeft: return "rdrvl_" + i;
    case Role::kDriverRight: return "rdrvr_" + i;
    case Role::kSourceLeft: return "vrowl_" + i;
    case Role::kSourceRight: return "vrowr_" + i;
    case Role::kSenseBottom: return "rsnsb_" + j;
    case Role::kSenseTop: return "rsnst_" + j;
    case Role::kVgndBottom: return "vsnsb_" + j;
    case Role::kVgndTop: return "vsnst_" + j;
    case Role::kAccess: return "macc_" + i + "_" + j;
    case Role::kGateRow: return "vgrow_" + i;
    case Role::kGateCol: return "vgcol_" + j;
    case Role::kGateGlobal: return "vgate";
  }
  return "?";
}

uint16_t Circuit::add_cell_model(std::shared_ptr<const devices::CellModel> model) {
  for (size_t k = 0; k < cell_models_.size(); ++k)
    if (cell_models_[k] == model) return uint16_t(k);
  cell_models_.push_back(std::move(model));
  return uint16_t(cell_models_.size() - 1);
}

uint16_t Circuit::add_transistor_model(std::shared_ptr<const devices::Mos1Transistor> model) {
  for (size_t k = 0; k < transistor_models_.size(); ++k)
    if (transistor_models_[k] == model) return uint16_t(k);
  transistor_models_.push_back(std::move(model));
  return uint16_t(transistor_models_.size() - 1);
}

std::vector<size_t> Circuit::source_indices() const {
  std::vector<size_t> out;
  for (size_t k = 0; k < elements_.size(); ++k)
    if (elements_[k].kind == ElementKind::kVoltageSource ||
        elements_[k].kind == ElementKind::kCurrentSource)
      out.push_back(k);
  return out;
}

}  // namespace xbar::netlists
