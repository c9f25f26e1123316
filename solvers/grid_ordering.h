// Geometric nested dissection for crossbar grids.
//
//   std::vector<int64_t> perm = grid_nested_dissection(coords);   // perm[k] = unknown
//
// The crossbar's unknowns sit on an M x N grid in two layers: row nodes joined along rows,
// column nodes joined along columns, and each row node joined to the column node at the same
// (i, j) by its cell. Removing the row nodes of one column index j0 separates the left part
// from the right part (column wires never cross j0; the column nodes at j0 are only attached
// through their own column and the removed row nodes), and removing the column nodes of one
// row index i0 separates top from bottom. So each separator is one layer of one grid line:
// half the size of a separator that takes both layers, which shrinks the dense separator
// blocks of the factor by four. Recursing on the longer side gives the classic O(n log n)
// fill of nested dissection on a 2D grid at the cost of a few partitioning passes, where
// METIS spends seconds to find the same kind of cut (DESIGN.md: 11.8 s at 1024^2).
#pragma once

#include <cstdint>
#include <vector>

#include "solvers/mna_system.h"

namespace xbar::solvers {

// Returns the elimination order: perm[k] is the unknown eliminated k-th (separators last).
std::vector<int64_t> grid_nested_dissection(const std::vector<GridCoord>& coords);

}  // namespace xbar::solvers
