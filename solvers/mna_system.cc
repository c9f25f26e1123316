// Slightly longer than the project's ~600-line guide: assembly of the nodal system and the
// nonlinear residual/Jacobian of the same element list stay together, so that the two can
// never disagree on a stamp.
#include "solvers/mna_system.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <unordered_map>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/mos1_transistor.h"

namespace xbar::solvers {

using netlists::Circuit;
using netlists::Element;
using netlists::ElementKind;
using netlists::kGround;
using Triplet = Eigen::Triplet<double, int64_t>;

namespace {

// A device conductance (dI/dV of a cell, or a transistor's) above this is an overflow of its
// model, not a circuit: 1e8 times the largest conductance xbar accepts from a wire
// (1 / netlists::kMinResistanceOhm). A sinh cell at k V = 700 reaches 1e299 S and the
// factorization then failed as if the circuit had a floating island (issue 17); the strongest
// legitimate cells (k V ~ 40) stay below 1e15 S.
constexpr double kMaxDeviceConductanceS = 1e20;

bool overflowing(double g_s) { return !(std::abs(g_s) <= kMaxDeviceConductanceS); }

struct UnionFind {
  std::vector<int32_t> parent;
  explicit UnionFind(int32_t n) : parent(size_t(n)) { std::iota(parent.begin(), parent.end(), 0); }
  int32_t find(int32_t a) {
    while (parent[size_t(a)] != a) a = parent[size_t(a)] = parent[size_t(parent[size_t(a)])];
    return a;
  }
  void unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    // The smaller id becomes the root: deterministic, whatever the element order.
    if (a < b) std::swap(a, b);
    parent[size_t(a)] = b;
  }
};

// One off-diagonal entry of the symmetric matrix: A(a, b) = A(b, a) = value.
struct Edge {
  int64_t a, b;
  double value;
};

// Builds the full (both triangles) compressed column matrix from its diagonal (every unknown
// gets a diagonal slot, zero for branch rows) and its off-diagonal pairs, summing duplicates
// (parallel elements). Counting sort into columns, then a small sort per column: no triplet
// list, which at 2048^2 would cost 1.2 GB and most of the assembly time.
void assemble_symmetric(SparseMatrix& a, const std::vector<double>& diag,
                        const std::vector<Edge>& edges) {
  const int64_t n = int64_t(diag.size());
  a.resize(n, n);
  int64_t* outer = a.outerIndexPtr();  // n + 1 entries, zero after resize()
  for (int64_t c = 0; c < n; ++c) outer[c + 1] = 1;  // the diagonal
  for (const Edge& e : edges) {
    ++outer[e.a + 1];
    ++outer[e.b + 1];
  }
  for (int64_t c = 0; c < n; ++c) outer[c + 1] += outer[c];
  // Fill straight into the matrix's own arrays (fresh memory is slow to touch on large
  // arrays, so no second copy), then sort and merge each column in place.
  a.resizeNonZeros(outer[n]);
  int64_t* rows = a.innerIndexPtr();
  double* vals = a.valuePtr();
  std::vector<int64_t> fill(outer, outer + n);
  for (int64_t c = 0; c < n; ++c) {
    rows[fill[size_t(c)]] = c;
    vals[fill[size_t(c)]++] = diag[size_t(c)];
  }
  for (const Edge& e : edges) {
    rows[fill[size_t(e.a)]] = e.b;
    vals[fill[size_t(e.a)]++] = e.value;
    rows[fill[size_t(e.b)]] = e.a;
    vals[fill[size_t(e.b)]++] = e.value;
  }
  std::vector<int64_t>().swap(fill);
  int64_t out = 0;
  std::vector<std::pair<int64_t, double>> col;
  for (int64_t c = 0; c < n; ++c) {
    col.clear();
    for (int64_t k = outer[c]; k < outer[c + 1]; ++k) col.emplace_back(rows[k], vals[k]);
    std::sort(col.begin(), col.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    outer[c] = out;  // out <= outer[c]: writing behind the read position is safe
    for (size_t k = 0; k < col.size(); ++k) {
      if (k > 0 && col[k].first == col[k - 1].first) {
        vals[out - 1] += col[k].second;
        continue;
      }
      rows[out] = col[k].first;
      vals[out++] = col[k].second;
    }
  }
  outer[n] = out;
  a.resizeNonZeros(out);
}

// Index into a.valuePtr() of entry (row, col), which must be in the pattern.
int64_t value_slot(const SparseMatrix& a, int64_t row, int64_t col) {
  const int64_t* rows = a.innerIndexPtr();
  const int64_t* lo = rows + a.outerIndexPtr()[col];
  const int64_t* hi = rows + a.outerIndexPtr()[col + 1];
  const int64_t* it = std::lower_bound(lo, hi, row);
  return (it != hi && *it == row) ? int64_t(it - rows) : -1;
}

double conductance_of(const Element& e) {
  if (e.kind == ElementKind::kResistor) return 1.0 / e.value;
  return e.value;  // linear cell: its conductance parameter
}

}  // namespace

MnaSystem::MnaSystem(const Circuit& circuit) : circuit_(circuit) {
  const int32_t n_nodes = circuit.num_nodes();
  const int32_t ground = n_nodes;  // ground gets the extra index
  const auto& el = circuit.elements();
  auto idx = [&](int32_t node) { return node == kGround ? ground : node; };


  // 1. Shorts merge nodes into groups; g_ground below is whichever group holds ground.
  UnionFind uf(n_nodes + 1);
  for (size_t k = 0; k < el.size(); ++k) {
    const Element& e = el[k];
    if (e.pos == e.neg)
      throw InputError("element '" + circuit.element_name(k) + "': both terminals on node '" +
                       circuit.node_name(e.pos) + "'");
    if (e.kind == ElementKind::kResistor && e.value == 0) uf.unite(idx(e.pos), idx(e.neg));
  }
  group_of_node_.resize(size_t(n_nodes) + 1);
  for (int32_t v = 0; v <= n_nodes; ++v) group_of_node_[size_t(v)] = uf.find(v);
  const int32_t g_ground = group_of_node_[size_t(ground)];
  auto grp = [&](int32_t node) { return group_of_node_[size_t(idx(node))]; };

  // 2. Fix potentials breadth-first from ground through voltage sources.
  source_elements_ = circuit.source_indices();
  std::vector<int32_t> source_pos(el.size(), -1);
  for (size_t k = 0; k < source_elements_.size(); ++k) source_pos[source_elements_[k]] = int32_t(k);
  std::unordered_map<int32_t, std::vector<size_t>> vsrc_at;  // group -> its V sources
  for (size_t k : source_elements_) {
    const Element& e = el[k];
    if (e.kind != ElementKind::kVoltageSource) continue;
    if (grp(e.pos) == grp(e.neg))
      throw InputError("voltage source '" + circuit.element_name(k) +
                       "' is shorted: both terminals are joined by zero-ohm wires");
    vsrc_at[grp(e.pos)].push_back(k);
    vsrc_at[grp(e.neg)].push_back(k);
  }
  // Per-group state is kept only for fixed groups (a few per row and column), indexed by
  // fixed_id_, so that a 2048^2 array does not carry 8 million empty vectors.
  fixed_id_.assign(size_t(n_nodes) + 1, -1);
  auto fix = [&](int32_t g) {
    fixed_id_[size_t(g)] = int32_t(pot_.size());
    pot_.emplace_back();
  };
  auto fixed = [&](int32_t g) { return fixed_id_[size_t(g)] >= 0; };
  auto pot = [&](int32_t g) -> std::vector<std::pair<int32_t, double>>& {
    return pot_[size_t(fixed_id_[size_t(g)])];
  };
  std::vector<char> tree_source(el.size(), 0);
  std::vector<int32_t> parent_source;  // per fixed group: the source element that fixed it
  std::vector<int32_t> bfs_order;
  fix(g_ground);
  parent_source.push_back(-1);
  std::deque<int32_t> queue{g_ground};
  while (!queue.empty()) {
    const int32_t g = queue.front();
    queue.pop_front();
    bfs_order.push_back(g);
    for (size_t k : vsrc_at[g]) {
      if (tree_source[k]) continue;
      const Element& e = el[k];
      const int32_t other = grp(e.pos) == g ? grp(e.neg) : grp(e.pos);
      if (fixed(other))
        throw NumericalError("singular circuit: voltage source '" + circuit.element_name(k) +
                             "' closes a loop of voltage sources (with ground or other "
                             "sources): its current is undefined");
      tree_source[k] = 1;
      fix(other);
      parent_source.push_back(int32_t(k));
      // v(pos) - v(neg) = value: the new group's potential is its parent's +/- the source.
      pot(other) = pot(g);
      pot(other).push_back({source_pos[k], grp(e.pos) == other ? 1.0 : -1.0});
      queue.push_back(other);
    }
  }

  // 3. Free unknowns, numbered by the first node of each group; floating V sources get branches.
  free_of_group_.assign(size_t(n_nodes) + 1, -1);
  std::vector<int32_t> group_size(size_t(n_nodes) + 1, 0);
  for (int32_t v = 0; v < n_nodes; ++v) ++group_size[size_t(group_of_node_[size_t(v)])];
  for (int32_t v = 0; v < n_nodes; ++v) {
    const int32_t g = group_of_node_[size_t(v)];
    if (fixed(g) || free_of_group_[size_t(g)] >= 0) continue;
    free_of_group_[size_t(g)] = num_free_++;
    rep_node_of_free_.push_back(v);
  }
  for (size_t k : source_elements_)
    if (el[k].kind == ElementKind::kVoltageSource && !tree_source[k]) branch_sources_.push_back(k);
  const int64_t n_unk = size();
  const int64_t n_src = num_sources();

  // Geometric coordinates when every unknown is a single grid node.
  // Layer 2 holds the internal cell nodes m(i,j) of 1T1R arrays.
  const int64_t mn = int64_t(circuit.grid_rows()) * circuit.grid_cols();
  const int64_t grid_nodes = (circuit.has_cell_nodes() ? 3 : 2) * mn;
  bool all_grid = branch_sources_.empty() && grid_nodes > 0;
  for (int64_t f = 0; f < num_free_ && all_grid; ++f) {
    const int32_t v = rep_node_of_free_[size_t(f)];
    all_grid = v < grid_nodes && group_size[size_t(group_of_node_[size_t(v)])] == 1;
  }
  if (all_grid) {
    const int64_t cols = circuit.grid_cols();
    coords_.resize(size_t(num_free_));
    for (int64_t f = 0; f < num_free_; ++f) {
      const int64_t v = rep_node_of_free_[size_t(f)];
      const int64_t k = v % mn;
      coords_[size_t(f)] = {int32_t(k / cols), int32_t(k % cols), int32_t(v / mn)};
    }
  }

  // 4. Stamps. J rows: current leaving each fixed group through conductances and current
  //    sources, as a linear map of (x, s); needed for the fixed sources' currents.
  // Connectivity: every free unknown must reach a fixed node through conductances or
  // floating sources, or the matrix is singular. Rounding can leave such an island a tiny
  // positive pivot, so the factorization would not reliably notice: check it here.
  UnionFind island{int32_t(num_free_)};
  std::vector<char> anchored(size_t(num_free_), 0);
  std::vector<Edge> edges;  // off-diagonal entries, one per symmetric pair
  edges.reserve(el.size());
  std::vector<Triplet> rhs_t;
  std::vector<double> diag(size_t(n_unk), 0.0);
  std::vector<std::vector<std::pair<int64_t, double>>> jx(pot_.size()), js(pot_.size());
  auto add_j_pot = [&](int32_t g, int32_t of_group, double w) {  // J[g] += w * pot(of_group)
    for (const auto& [s, sign] : pot(of_group)) js[size_t(fixed_id_[size_t(g)])].push_back({s, w * sign});
  };
  for (size_t k = 0; k < el.size(); ++k) {
    const Element& e = el[k];
    const int32_t ga = grp(e.pos), gb = grp(e.neg);
    const int64_t a = free_of_group_[size_t(ga)], b = free_of_group_[size_t(gb)];
    // A cell that is a transistor itself (flash) is stamped as one, drain on pos, source on neg.
    const bool gated_cell = e.kind == ElementKind::kCell && circuit.cell_models()[e.model]->gate_lines();
    if ((e.kind == ElementKind::kResistor || e.kind == ElementKind::kCell) && !gated_cell) {
      if (e.kind == ElementKind::kResistor && e.value == 0) continue;  // merged short
      if (e.kind == ElementKind::kCell && circuit.cell_models()[e.model]->access_transistor())
        throw InputError("cell '" + circuit.element_name(k) + "': model '" +
                         circuit.cell_models()[e.model]->name() + "' has an access transistor "
                         "and must be expanded by netlists::build_crossbar() (memory element, "
                         "transistor and gate line) before it can be solved");
      if (ga == gb) continue;  // shorted out by zero-ohm wires: carries no current
      const double g = conductance_of(e);
      if (g == 0) continue;
      if (!std::isfinite(g) || g > 1.0 / netlists::kMinResistanceOhm)
        throw InputError("element '" + circuit.element_name(k) + "': conductance " +
                         format_number(g) + " S (resistance below " +
                         format_number(netlists::kMinResistanceOhm) +
                         " ohm) is not a physical wire; use 0 ohm for an ideal short");
      if (a >= 0 && b >= 0) island.unite(int32_t(a), int32_t(b));
      if (a >= 0 && b < 0) anchored[size_t(a)] = 1;
      if (b >= 0 && a < 0) anchored[size_t(b)] = 1;
      if (e.kind == ElementKind::kCell && !circuit.cell_models()[e.model]->is_linear()) {
        // Nonlinear: only the pattern here (structural zeros); Newton stamps its linearization.
        NonlinearCell c;
        c.element = k;
        c.a = a;
        c.b = b;
        c.fixed_a = a < 0 ? fixed_id_[size_t(ga)] : -1;
        c.fixed_b = b < 0 ? fixed_id_[size_t(gb)] : -1;
        nonlinear_.push_back(c);
        if (a >= 0 && b >= 0) edges.push_back({a, b, 0.0});
        continue;
      }
      if (a >= 0) diag[size_t(a)] += g;
      if (b >= 0) diag[size_t(b)] += g;
      if (a >= 0 && b >= 0) {
        edges.push_back({a, b, -g});
      } else if (a >= 0) {
        for (const auto& [s, sign] : pot(gb)) rhs_t.emplace_back(a, s, g * sign);
      } else if (b >= 0) {
        for (const auto& [s, sign] : pot(ga)) rhs_t.emplace_back(b, s, g * sign);
      }
      // Current leaving a fixed group through this conductance: g (v_self - v_other).
      for (int side = 0; side < 2; ++side) {
        const int32_t gs = side == 0 ? ga : gb, go = side == 0 ? gb : ga;
        if (free_of_group_[size_t(gs)] >= 0 || gs == g_ground) continue;  // ground: not needed
        add_j_pot(gs, gs, g);
        if (free_of_group_[size_t(go)] >= 0)
          jx[size_t(fixed_id_[size_t(gs)])].push_back({free_of_group_[size_t(go)], -g});
        else
          add_j_pot(gs, go, -g);
      }
    } else if (e.kind == ElementKind::kTransistor || gated_cell) {
      const auto& tmodels = circuit.transistor_models();
      if (!gated_cell && (e.model >= tmodels.size() || !tmodels[e.model]))
        throw InputError("transistor '" + circuit.element_name(k) + "' refers to transistor model #" +
                         std::to_string(e.model) + " but the circuit has " +
                         std::to_string(tmodels.size()) + " model(s)");
      if (!gated_cell && (!std::isfinite(e.value) || e.value <= 0))
        throw InputError("transistor '" + circuit.element_name(k) + "': W/L = " +
                         format_number(e.value) + ": must be > 0");
      if (gated_cell && !std::isfinite(e.value))
        throw InputError("cell '" + circuit.element_name(k) + "': " +
                         circuit.cell_models()[e.model]->cell_value().what + " = " +
                         format_number(e.value) + ": must be finite");
      if (ga == gb) continue;  // drain and source joined by zero-ohm wires: no current
      const int32_t gg = grp(e.gate);
      const int64_t g = free_of_group_[size_t(gg)];
      // The channel, with its gmin, joins drain and source at every bias; the gate draws no
      // current, so it anchors nothing (a gate node on gates alone is an island).
      if (a >= 0 && b >= 0) island.unite(int32_t(a), int32_t(b));
      if (a >= 0 && b < 0) anchored[size_t(a)] = 1;
      if (b >= 0 && a < 0) anchored[size_t(b)] = 1;
      Transistor t;
      t.element = k;
      t.d = a;
      t.g = g;
      t.s = b;
      t.fixed_d = a < 0 ? fixed_id_[size_t(ga)] : -1;
      t.fixed_g = g < 0 ? fixed_id_[size_t(gg)] : -1;
      t.fixed_s = b < 0 ? fixed_id_[size_t(gb)] : -1;
      transistors_.push_back(t);
      // Pattern: rows d and s, columns d, g, s (structural zeros; symmetric pattern).
      if (a >= 0 && b >= 0) edges.push_back({a, b, 0.0});
      if (a >= 0 && g >= 0 && g != a) edges.push_back({a, g, 0.0});
      if (b >= 0 && g >= 0 && g != b) edges.push_back({b, g, 0.0});
    } else if (e.kind == ElementKind::kCurrentSource) {
      const int32_t s = source_pos[k];
      // SPICE: the current flows from pos through the source to neg, i.e. it leaves node pos.
      if (a >= 0) rhs_t.emplace_back(a, s, -1.0); else js[size_t(fixed_id_[size_t(ga)])].push_back({s, 1.0});
      if (b >= 0) rhs_t.emplace_back(b, s, 1.0); else js[size_t(fixed_id_[size_t(gb)])].push_back({s, -1.0});
    }
  }
  UnionFind source_loops{int32_t(num_free_)};
  for (size_t bidx = 0; bidx < branch_sources_.size(); ++bidx) {
    const Element& e = el[branch_sources_[bidx]];
    const int64_t row = num_free_ + int64_t(bidx);
    const int64_t a = free_of_group_[size_t(grp(e.pos))], b = free_of_group_[size_t(grp(e.neg))];
    if (source_loops.find(int32_t(a)) == source_loops.find(int32_t(b)))
      throw NumericalError("singular circuit: voltage source '" +
                           circuit.element_name(branch_sources_[bidx]) +
                           "' closes a loop of voltage sources: its current is undefined");
    source_loops.unite(int32_t(a), int32_t(b));
    island.unite(int32_t(a), int32_t(b));
    edges.push_back({a, row, 1.0});
    edges.push_back({b, row, -1.0});
    rhs_t.emplace_back(row, source_pos[branch_sources_[bidx]], 1.0);
  }

  std::vector<char> root_anchored(size_t(num_free_), 0);
  for (int64_t f = 0; f < num_free_; ++f)
    if (anchored[size_t(f)]) root_anchored[size_t(island.find(int32_t(f)))] = 1;
  for (int64_t f = 0; f < num_free_; ++f)
    if (!root_anchored[size_t(island.find(int32_t(f)))]) {
      int64_t size = 0;
      for (int64_t h = 0; h < num_free_; ++h) size += island.find(int32_t(h)) == island.find(int32_t(f));
      throw NumericalError("singular circuit: node '" +
                           circuit.node_name(rep_node_of_free_[size_t(f)]) + "' is in a " +
                           "floating island of " + std::to_string(size) + " node(s) with no DC " +
                           "path to ground or to a voltage source: its voltage is undefined");
    }

  assemble_symmetric(a_, diag, edges);
  std::vector<Edge>().swap(edges);
  for (NonlinearCell& c : nonlinear_) {
    c.slot_aa = c.a >= 0 ? value_slot(a_, c.a, c.a) : -1;
    c.slot_bb = c.b >= 0 ? value_slot(a_, c.b, c.b) : -1;
    c.slot_ab = c.a >= 0 && c.b >= 0 ? value_slot(a_, c.a, c.b) : -1;
    c.slot_ba = c.a >= 0 && c.b >= 0 ? value_slot(a_, c.b, c.a) : -1;
  }
  for (Transistor& t : transistors_) {
    auto slot = [&](int64_t row, int64_t col) {
      return row >= 0 && col >= 0 ? value_slot(a_, row, col) : -1;
    };
    t.slot_dd = slot(t.d, t.d);
    t.slot_dg = slot(t.d, t.g);
    t.slot_ds = slot(t.d, t.s);
    t.slot_sd = slot(t.s, t.d);
    t.slot_sg = slot(t.s, t.g);
    t.slot_ss = slot(t.s, t.s);
  }
  // Internal nodes (internal_nodes()): at a transistor's channel, touched by nothing but
  // linear conductances and channels otherwise, at most two neighbours, none of them already
  // chosen (so that the eliminated block of the Jacobian is diagonal). A crossbar's cell nodes
  // m(i,j) are taken first: the column node at the open end of a 1T1R column qualifies too
  // (one wire, one transistor), and taking it would leave its neighbour m(i,j) in the grid.
  {
    enum : char { kNone, kChannel, kOther };
    std::vector<char> kind(size_t(num_free_), kNone);
    for (const Transistor& t : transistors_)
      for (int64_t f : {t.d, t.s})
        if (f >= 0 && kind[size_t(f)] == kNone) kind[size_t(f)] = kChannel;
    for (const Transistor& t : transistors_)
      if (t.g >= 0) kind[size_t(t.g)] = kOther;
    for (const NonlinearCell& c : nonlinear_)
      for (int64_t f : {c.a, c.b})
        if (f >= 0) kind[size_t(f)] = kOther;
    for (size_t bidx = 0; bidx < branch_sources_.size(); ++bidx) {
      const int64_t row = num_free_ + int64_t(bidx);
      for (int64_t k = a_.outerIndexPtr()[row]; k < a_.outerIndexPtr()[row + 1]; ++k)
        if (a_.innerIndexPtr()[k] < num_free_) kind[size_t(a_.innerIndexPtr()[k])] = kOther;
    }
    auto is_cell_node = [&](int64_t f) {
      const int64_t v = rep_node_of_free_[size_t(f)];
      return circuit.has_cell_nodes() && v >= 2 * mn && v < 3 * mn;
    };
    std::vector<char> chosen(size_t(num_free_), 0);
    for (const bool cell_nodes_pass : {true, false})
      for (int64_t f = 0; f < num_free_; ++f) {
        if (kind[size_t(f)] != kChannel || chosen[size_t(f)] || is_cell_node(f) != cell_nodes_pass)
          continue;
        int neighbours = 0;
        bool free_of_chosen = true;
        for (int64_t k = a_.outerIndexPtr()[f]; k < a_.outerIndexPtr()[f + 1]; ++k) {
          const int64_t r = a_.innerIndexPtr()[k];
          if (r == f) continue;
          ++neighbours;
          free_of_chosen = free_of_chosen && !(r < num_free_ && chosen[size_t(r)]);
        }
        if (neighbours <= 2 && free_of_chosen) chosen[size_t(f)] = 1;
      }
    for (int64_t f = 0; f < num_free_; ++f)
      if (chosen[size_t(f)]) internal_.push_back(f);
  }
  // Which source currents a fixed group's outflow counts toward: every source on its path to
  // ground (the KCL subtree sums below, read the other way round).
  outflow_sources_.assign(pot_.size(), {});
  std::vector<int32_t> group_of_fixed(pot_.size(), -1);
  for (int32_t g : bfs_order) group_of_fixed[size_t(fixed_id_[size_t(g)])] = g;
  for (size_t fg = 0; fg < pot_.size(); ++fg) {
    int32_t g = group_of_fixed[fg];
    while (g >= 0 && parent_source[size_t(fixed_id_[size_t(g)])] >= 0) {
      const int32_t k = parent_source[size_t(fixed_id_[size_t(g)])];
      const Element& e = el[size_t(k)];
      outflow_sources_[fg].push_back({source_pos[size_t(k)], grp(e.pos) == g ? -1.0 : 1.0});
      g = grp(e.pos) == g ? grp(e.neg) : grp(e.pos);
    }
  }
  rhs_map_.resize(n_unk, n_src);
  rhs_map_.setFromTriplets(rhs_t.begin(), rhs_t.end());

  // 5. Source currents. For a fixed source, the current flowing from its parent group into
  //    the group it fixes equals everything leaving that group's subtree (KCL).
  std::vector<Triplet> qx_t, qs_t;
  for (auto it = bfs_order.rbegin(); it != bfs_order.rend(); ++it) {
    const int32_t g = *it, fg = fixed_id_[size_t(g)];
    const int32_t k = parent_source[size_t(fg)];
    if (k < 0) continue;  // ground
    const Element& e = el[size_t(k)];
    const double sign = grp(e.pos) == g ? -1.0 : 1.0;  // + terminal on the fixed child: inflow
    const int32_t s = source_pos[size_t(k)];
    for (const auto& [col, w] : jx[size_t(fg)]) qx_t.emplace_back(s, col, sign * w);
    for (const auto& [col, w] : js[size_t(fg)]) qs_t.emplace_back(s, col, sign * w);
    // Hand this group's outflow, including its subtree, up to the parent group.
    const int32_t parent = grp(e.pos) == g ? grp(e.neg) : grp(e.pos);
    if (free_of_group_[size_t(parent)] < 0 && parent != g_ground) {
      const int32_t fp = fixed_id_[size_t(parent)];
      jx[size_t(fp)].insert(jx[size_t(fp)].end(), jx[size_t(fg)].begin(), jx[size_t(fg)].end());
      js[size_t(fp)].insert(js[size_t(fp)].end(), js[size_t(fg)].begin(), js[size_t(fg)].end());
    }
  }
  for (size_t bidx = 0; bidx < branch_sources_.size(); ++bidx)
    qx_t.emplace_back(source_pos[branch_sources_[bidx]], num_free_ + int64_t(bidx), 1.0);
  for (size_t k : source_elements_)
    if (el[k].kind == ElementKind::kCurrentSource) qs_t.emplace_back(source_pos[k], source_pos[k], 1.0);
  q_x_.resize(n_src, n_unk);
  q_x_.setFromTriplets(qx_t.begin(), qx_t.end());
  q_s_.resize(n_src, n_src);
  q_s_.setFromTriplets(qs_t.begin(), qs_t.end());
}

Eigen::MatrixXd MnaSystem::node_voltages(const Eigen::MatrixXd& x, const Eigen::MatrixXd& s) const {
  const int32_t n_nodes = circuit_.num_nodes();
  Eigen::MatrixXd v(n_nodes, x.cols());
  for (int32_t node = 0; node < n_nodes; ++node) {
    const int32_t g = group_of_node_[size_t(node)];
    const int64_t f = free_of_group_[size_t(g)];
    if (f >= 0) {
      v.row(node) = x.row(f);
    } else {
      v.row(node).setZero();
      for (const auto& [src, sign] : pot_[size_t(fixed_id_[size_t(g)])]) v.row(node) += sign * s.row(src);
    }
  }
  return v;
}

double MnaSystem::terminal_voltage(int64_t free, int32_t fixed, const Eigen::Ref<const Eigen::VectorXd>& x,
                                   const Eigen::Ref<const Eigen::VectorXd>& s) const {
  if (free >= 0) return x(free);
  if (fixed < 0) return 0.0;  // ground
  double v = 0;
  for (const auto& [src, sign] : pot_[size_t(fixed)]) v += sign * s(src);
  return v;
}

void MnaSystem::book_outflow(int32_t fixed_group, double current_a,
                             Eigen::VectorXd& source_currents) const {
  if (fixed_group < 0) return;
  for (const auto& [src, sign] : outflow_sources_[size_t(fixed_group)])
    source_currents(src) += sign * current_a;
}

double MnaSystem::nonlinear_residual(const Eigen::Ref<const Eigen::VectorXd>& x,
                                     const Eigen::Ref<const Eigen::VectorXd>& s, Eigen::Ref<Eigen::VectorXd> f,
                                     double* jac_values, Eigen::VectorXd* source_currents) const {
  const auto& el = circuit_.elements();
  const auto& models = circuit_.cell_models();
  double scale = 0;
  for (const NonlinearCell& c : nonlinear_) {
    const netlists::Element& e = el[c.element];
    const double v = terminal_voltage(c.a, c.fixed_a, x, s) - terminal_voltage(c.b, c.fixed_b, x, s);
    const devices::CellEval ev = models[e.model]->evaluate(e.value, v);
    if (!std::isfinite(ev.i_a) || !std::isfinite(ev.di_dv_s))
      throw NumericalError("cell '" + circuit_.element_name(c.element) + "' at " +
                           format_number(v) + " V gives a non-finite current or conductance");
    if (overflowing(ev.di_dv_s))
      throw NumericalError("cell '" + circuit_.element_name(c.element) + "' at " + format_number(v) +
                           " V has a conductance dI/dV = " + format_number(ev.di_dv_s) + " S, beyond " +
                           format_number(kMaxDeviceConductanceS) +
                           " S: its model overflows at this voltage (lower the nonlinearity or the voltages)");
    scale = std::max(scale, std::abs(ev.i_a));
    // Current i flows from pos (a) to neg (b): it leaves a and enters b.
    if (c.a >= 0) f(c.a) += ev.i_a;
    if (c.b >= 0) f(c.b) -= ev.i_a;
    if (jac_values) {
      if (c.slot_aa >= 0) jac_values[c.slot_aa] += ev.di_dv_s;
      if (c.slot_bb >= 0) jac_values[c.slot_bb] += ev.di_dv_s;
      if (c.slot_ab >= 0) jac_values[c.slot_ab] -= ev.di_dv_s;
      if (c.slot_ba >= 0) jac_values[c.slot_ba] -= ev.di_dv_s;
    }
    if (source_currents) {
      book_outflow(c.fixed_a, ev.i_a, *source_currents);
      book_outflow(c.fixed_b, -ev.i_a, *source_currents);
    }
  }
  for (const Transistor& t : transistors_) {
    const netlists::Element& e = el[t.element];
    const double vd = terminal_voltage(t.d, t.fixed_d, x, s);
    const double vg = terminal_voltage(t.g, t.fixed_g, x, s);
    const double vs = terminal_voltage(t.s, t.fixed_s, x, s);
    const devices::MosEval ev = three_terminal_eval(e, vd, vg, vs);
    if (!std::isfinite(ev.i_a) || !std::isfinite(ev.di_dvd_s) || !std::isfinite(ev.di_dvg_s) ||
        !std::isfinite(ev.di_dvs_s))
      throw NumericalError(std::string(e.kind == ElementKind::kCell ? "cell '" : "transistor '") +
                           circuit_.element_name(t.element) + "' at V_d = " +
                           format_number(vd) + " V, V_g = " + format_number(vg) + " V, V_s = " +
                           format_number(vs) + " V gives a non-finite current or conductance");
    if (overflowing(ev.di_dvd_s) || overflowing(ev.di_dvg_s) || overflowing(ev.di_dvs_s))
      throw NumericalError(std::string(e.kind == ElementKind::kCell ? "cell '" : "transistor '") + circuit_.element_name(t.element) + "' at V_d = " + format_number(vd) +
                           " V, V_g = " + format_number(vg) + " V, V_s = " + format_number(vs) +
                           " V has a conductance beyond " + format_number(kMaxDeviceConductanceS) +
                           " S (dI/dV_d = " + format_number(ev.di_dvd_s) + " S): its model overflows here "
                           "(lower --mos-kp, --mos-wl or the voltages)");
    scale = std::max(scale, std::abs(ev.i_a));
    // The drain current leaves the drain node and enters the source node; the gate takes none.
    if (t.d >= 0) f(t.d) += ev.i_a;
    if (t.s >= 0) f(t.s) -= ev.i_a;
    if (jac_values) {
      if (t.slot_dd >= 0) jac_values[t.slot_dd] += ev.di_dvd_s;
      if (t.slot_dg >= 0) jac_values[t.slot_dg] += ev.di_dvg_s;
      if (t.slot_ds >= 0) jac_values[t.slot_ds] += ev.di_dvs_s;
      if (t.slot_sd >= 0) jac_values[t.slot_sd] -= ev.di_dvd_s;
      if (t.slot_sg >= 0) jac_values[t.slot_sg] -= ev.di_dvg_s;
      if (t.slot_ss >= 0) jac_values[t.slot_ss] -= ev.di_dvs_s;
    }
    if (source_currents) {
      book_outflow(t.fixed_d, ev.i_a, *source_currents);
      book_outflow(t.fixed_s, -ev.i_a, *source_currents);
    }
  }
  return scale;
}

void MnaSystem::add_zero_bias_jacobian(const Eigen::VectorXd& s, double* jac_values) const {
  const auto& el = circuit_.elements();
  const auto& models = circuit_.cell_models();
  for (const NonlinearCell& c : nonlinear_) {
    const netlists::Element& e = el[c.element];
    const double g = models[e.model]->evaluate(e.value, 0.0).di_dv_s;
    if (!std::isfinite(g) || overflowing(g))
      throw NumericalError("cell '" + circuit_.element_name(c.element) + "' at 0 V gives a conductance of " +
                           format_number(g) + " S, not a finite value <= " + format_number(kMaxDeviceConductanceS) +
                           " S: its model overflows");
    if (c.slot_aa >= 0) jac_values[c.slot_aa] += g;
    if (c.slot_bb >= 0) jac_values[c.slot_bb] += g;
    if (c.slot_ab >= 0) jac_values[c.slot_ab] -= g;
    if (c.slot_ba >= 0) jac_values[c.slot_ba] -= g;
  }
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(size());
  for (const Transistor& t : transistors_) {
    const netlists::Element& e = el[t.element];
    const double vg = terminal_voltage(t.g, t.fixed_g, zero, s);
    const double vs = terminal_voltage(t.s, t.fixed_s, zero, s);
    const devices::MosEval ev = three_terminal_eval(e, vs, vg, vs);
    if (overflowing(ev.di_dvd_s) || overflowing(ev.di_dvg_s) || overflowing(ev.di_dvs_s))
      throw NumericalError(std::string(e.kind == ElementKind::kCell ? "cell '" : "transistor '") + circuit_.element_name(t.element) + "' at V_ds = 0, V_g = " +
                           format_number(vg) + " V gives a conductance of " + format_number(ev.di_dvd_s) +
                           " S, not a finite value <= " + format_number(kMaxDeviceConductanceS) +
                           " S: its model overflows (lower --mos-kp, --mos-wl or --v-gate)");
    if (t.slot_dd >= 0) jac_values[t.slot_dd] += ev.di_dvd_s;
    if (t.slot_dg >= 0) jac_values[t.slot_dg] += ev.di_dvg_s;
    if (t.slot_ds >= 0) jac_values[t.slot_ds] += ev.di_dvs_s;
    if (t.slot_sd >= 0) jac_values[t.slot_sd] -= ev.di_dvd_s;
    if (t.slot_sg >= 0) jac_values[t.slot_sg] -= ev.di_dvg_s;
    if (t.slot_ss >= 0) jac_values[t.slot_ss] -= ev.di_dvs_s;
  }
}

devices::MosEval MnaSystem::three_terminal_eval(const netlists::Element& e, double vd, double vg,
                                                double vs) const {
  if (e.kind == ElementKind::kCell) return circuit_.cell_models()[e.model]->evaluate_gated(e.value, vd, vg, vs);
  return circuit_.transistor_models()[e.model]->evaluate(e.value, vd, vg, vs);
}

std::string MnaSystem::unknown_name(int64_t k) const {
  if (k < num_free_) return "node " + circuit_.node_name(rep_node_of_free_[size_t(k)]);
  return "branch current of " + circuit_.element_name(branch_sources_[size_t(k - num_free_)]);
}

}  // namespace xbar::solvers
