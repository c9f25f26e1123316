// Operating regions of three-terminal cells (the flash cell: subthreshold, moderate inversion,
// linear, saturation; devices/flash_cell.h) from a solved circuit.
//
//   CellRegions r = solvers::cell_regions(crossbar.circuit, solution.node_voltages);
//   r.region(k, i * N + j)       // CellModel::region() of cell (i, j) for input k
//   r.names[r.region(k, c)]      // its name; r.counts[q] cells in region q over all inputs
//
// The crossbar solver fills one when CrossbarSolveOptions::keep_regions is set, so that the
// engine can report in result.json where each cell was read. A cell reads its drain (pos),
// gate and source (neg) voltages from the node voltages and asks its model; cells whose model
// has no regions (two-terminal cells) get kNoRegion.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "netlists/circuit.h"

namespace xbar::solvers {

inline constexpr uint8_t kNoRegion = 255;

struct CellRegions {
  // K x C (inputs x cells, cells in element order: cell (i, j) of a crossbar is column i N + j).
  Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> region;
  std::vector<std::string> names;  // region index -> name (the first cell model's)
  std::vector<int64_t> counts;     // per region index, over all inputs and cells
};

// node_voltages: num_nodes x K, as CircuitSolution / NgspiceSolution hold them. Cells are the
// kCell elements of the circuit, in order.
CellRegions cell_regions(const netlists::Circuit& circuit, const Eigen::MatrixXd& node_voltages);

// Appends the K inputs of `more` below those of `into` (same cells), adding the counts.
void append_regions(CellRegions& into, const CellRegions& more);

}  // namespace xbar::solvers
