#include "solvers/cell_regions.h"

#include "support/contract.h"

namespace xbar::solvers {

CellRegions cell_regions(const netlists::Circuit& circuit, const Eigen::MatrixXd& nodes) {
  XBAR_EXPECTS(nodes.rows() == circuit.num_nodes(), "cell_regions(): one row of node voltages per circuit node");
  const auto& el = circuit.elements();
  const auto& models = circuit.cell_models();
  std::vector<size_t> cells;
  for (size_t k = 0; k < el.size(); ++k)
    if (el[k].kind == netlists::ElementKind::kCell) cells.push_back(k);
  CellRegions r;
  r.region.resize(nodes.cols(), Eigen::Index(cells.size()));
  for (const auto& m : models)
    if (m && !m->region_names().empty()) {
      r.names = m->region_names();
      break;
    }
  r.counts.assign(r.names.size(), 0);
  auto voltage = [&](int32_t node, Eigen::Index k) { return node == netlists::kGround ? 0.0 : nodes(node, k); };
  for (Eigen::Index k = 0; k < nodes.cols(); ++k)
    for (size_t c = 0; c < cells.size(); ++c) {
      const netlists::Element& e = el[cells[c]];
      const int q = models[e.model]->region(e.value, voltage(e.pos, k), voltage(e.gate, k), voltage(e.neg, k));
      const bool known = q >= 0 && size_t(q) < r.names.size();
      r.region(k, Eigen::Index(c)) = known ? uint8_t(q) : kNoRegion;
      if (known) ++r.counts[size_t(q)];
    }
  return r;
}

void append_regions(CellRegions& into, const CellRegions& more) {
  if (into.region.size() == 0 && into.names.empty()) {
    into = more;
    return;
  }
  XBAR_EXPECTS(into.region.cols() == more.region.cols(), "append_regions(): different cell counts");
  const Eigen::Index k0 = into.region.rows();
  into.region.conservativeResize(k0 + more.region.rows(), Eigen::NoChange);
  into.region.bottomRows(more.region.rows()) = more.region;
  for (size_t q = 0; q < into.counts.size() && q < more.counts.size(); ++q) into.counts[q] += more.counts[q];
}

}  // namespace xbar::solvers
