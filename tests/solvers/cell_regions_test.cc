// The region report: flash cells classified from the node voltages of a solution, cells
// without regions marked kNoRegion, batches appended in order with their counts added.
#include <doctest/doctest.h>

#include "devices/flash_cell.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "solvers/cell_regions.h"

using namespace xbar;
using netlists::RowMatrixXd;

TEST_CASE("cell regions come from each cell's drain, gate and source voltages") {
  netlists::CrossbarSpec spec;
  spec.rows = 1;
  spec.cols = 3;
  devices::CellParams p;
  p.v_gate_v = 1.8;
  const auto cell = devices::make_cell_model("flash", p);
  RowMatrixXd vth(1, 3);
  vth << 3.0, 0.0, 1.0;  // far below threshold (V_P = -0.8 V); V_P = 1.2 V; V_P = 0.53 V
  const auto x = netlists::build_crossbar(spec, vth, cell);
  const netlists::Circuit& c = x.circuit;
  Eigen::MatrixXd nodes = Eigen::MatrixXd::Zero(c.num_nodes(), 2);
  for (int32_t j = 0; j < 3; ++j) {
    nodes(c.row_node(0, j), 0) = 0.1;
    nodes(c.row_node(0, j), 1) = 1.0;
  }
  nodes(c.find_node("gr0"), 0) = nodes(c.find_node("gr0"), 1) = 1.8;
  const solvers::CellRegions r = solvers::cell_regions(c, nodes);
  using R = devices::FlashRegion;
  CHECK(r.names == cell->region_names());
  CHECK(r.region(0, 0) == uint8_t(R::kSubthreshold));
  CHECK(r.region(0, 1) == uint8_t(R::kLinear));
  CHECK(r.region(0, 2) == uint8_t(R::kLinear));      // V_P = 0.53 V > 0.1 V on the drain
  CHECK(r.region(1, 2) == uint8_t(R::kSaturation));  // 1 V on the drain
  CHECK(r.counts == std::vector<int64_t>{2, 0, 3, 1});
  // Appending a second batch keeps the order and adds the counts.
  solvers::CellRegions all;
  solvers::append_regions(all, r);
  solvers::append_regions(all, solvers::cell_regions(c, nodes.col(1)));
  CHECK(all.region.rows() == 3);
  CHECK(all.region.row(2) == r.region.row(1));
  CHECK(all.counts == std::vector<int64_t>{3, 0, 4, 2});  // + (subthreshold, linear, saturation)
}

TEST_CASE("two-terminal cells have no region") {
  netlists::CrossbarSpec spec;
  spec.rows = spec.cols = 2;
  const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(2, 2, 1e-5), devices::make_cell_model("sinh"));
  const solvers::CellRegions r = solvers::cell_regions(x.circuit, Eigen::MatrixXd::Zero(x.circuit.num_nodes(), 1));
  CHECK(r.names.empty());
  CHECK((r.region.array() == solvers::kNoRegion).all());
}
