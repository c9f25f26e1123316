// CellState and StuckMask: which cells are pinned by a fixed defect.
//
//   devices::StuckMask mask = devices::StuckMask::Zero(rows, cols);   // all healthy
//   mask(3, 7) = static_cast<uint8_t>(devices::CellState::kStuckOn);
//   if (devices::is_pinned(&mask, 3, 7)) ...
//
// The numeric values are also the stuck-mask file format (`--stuck-mask FILE.npy`, M x N:
// 0 = healthy, 1 = stuck-on, 2 = stuck-off), so they never change. Stages after stuck-at
// placement take a `const StuckMask*` (nullptr = every cell healthy) and leave pinned cells
// alone, while still drawing their random numbers for every cell so that a cell's draw does not
// depend on which other cells are stuck.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace xbar::devices {

enum class CellState : uint8_t { kHealthy = 0, kStuckOn = 1, kStuckOff = 2 };

using StuckMask = Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

inline bool is_pinned(const StuckMask* mask, Eigen::Index i, Eigen::Index j) {
  return mask != nullptr && (*mask)(i, j) != static_cast<uint8_t>(CellState::kHealthy);
}

}  // namespace xbar::devices
