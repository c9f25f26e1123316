#include "devices/stuck_at.h"

#include <cmath>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"
#include "devices/random_stream.h"

namespace xbar::devices {

namespace {

std::string shape_text(int64_t rows, int64_t cols) {
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

void require_rate(const char* key, double v) {
  if (!std::isfinite(v) || v < 0 || v > 1)
    throw InputError(std::string("key ") + key + " = " + format_number(v) +
                     ": must be a probability in [0, 1]");
}

}  // namespace

void StuckAtOptions::validate() const {
  require_rate("stuck-on-rate", stuck_on_rate);
  require_rate("stuck-off-rate", stuck_off_rate);
  if (stuck_on_rate + stuck_off_rate > 1)
    throw InputError("keys stuck-on-rate = " + format_number(stuck_on_rate) +
                     " and stuck-off-rate = " + format_number(stuck_off_rate) +
                     ": their sum must be <= 1 (each cell is healthy, stuck-on or stuck-off)");
  if (uses_mask() && (stuck_on_rate > 0 || stuck_off_rate > 0))
    throw InputError("keys stuck-mask" + (mask_source.empty() ? "" : " = " + mask_source) +
                     " and stuck-on-rate/stuck-off-rate both set: give the defects either as a "
                     "map or as rates, not both");
  for (Eigen::Index k = 0; k < mask.size(); ++k)
    if (mask.data()[k] > static_cast<uint8_t>(CellState::kStuckOff))
      throw InputError("key stuck-mask " + mask_source + ": element (" +
                       std::to_string(k / mask.cols()) + ", " + std::to_string(k % mask.cols()) +
                       ") = " + std::to_string(int(mask.data()[k])) +
                       ": must be 0 (healthy), 1 (stuck-on) or 2 (stuck-off)");
}

StuckMask stuck_mask_from_values(const RowMatrix& values, const std::string& source) {
  StuckMask mask(values.rows(), values.cols());
  for (Eigen::Index i = 0; i < values.rows(); ++i) {
    for (Eigen::Index j = 0; j < values.cols(); ++j) {
      const double v = values(i, j);
      if (!(v == 0 || v == 1 || v == 2))
        throw InputError("key stuck-mask " + source + ": element (" + std::to_string(i) + ", " +
                         std::to_string(j) + ") = " + format_number(v) +
                         ": must be 0 (healthy), 1 (stuck-on) or 2 (stuck-off)");
      mask(i, j) = static_cast<uint8_t>(v);
    }
  }
  return mask;
}

StuckMask place_stuck_cells(int64_t rows, int64_t cols, const StuckAtOptions& options,
                            uint64_t seed) {
  options.validate();
  XBAR_EXPECTS(rows >= 0 && cols >= 0, "place_stuck_cells: negative shape");
  if (options.uses_mask()) {
    if (options.mask.rows() != rows || options.mask.cols() != cols)
      throw InputError("key stuck-mask " + options.mask_source + ": shape " +
                       shape_text(options.mask.rows(), options.mask.cols()) +
                       " does not match the array " + shape_text(rows, cols));
    return options.mask;
  }
  StuckMask mask = StuckMask::Zero(rows, cols);
  if (!options.enabled()) return mask;  // no draws: nothing to place
  RandomStream rng(stage_seed(seed, SeedStage::kStuckAt));
  const double p_on = options.stuck_on_rate;
  const double p_any = options.stuck_on_rate + options.stuck_off_rate;
  for (Eigen::Index k = 0; k < mask.size(); ++k) {
    const double u = rng.uniform();
    if (u < p_on)
      mask.data()[k] = static_cast<uint8_t>(CellState::kStuckOn);
    else if (u < p_any)
      mask.data()[k] = static_cast<uint8_t>(CellState::kStuckOff);
  }
  return mask;
}

StuckCounts count_stuck_cells(const StuckMask& mask) {
  StuckCounts c;
  for (Eigen::Index k = 0; k < mask.size(); ++k) {
    c.stuck_on += mask.data()[k] == static_cast<uint8_t>(CellState::kStuckOn);
    c.stuck_off += mask.data()[k] == static_cast<uint8_t>(CellState::kStuckOff);
  }
  return c;
}

StuckCounts apply_stuck_cells(RowMatrix& g_s, const StuckMask& mask,
                              const ConductanceRange& range) {
  range.validate();
  XBAR_EXPECTS(mask.rows() == g_s.rows() && mask.cols() == g_s.cols(),
               "apply_stuck_cells: mask shape differs from the array (place_stuck_cells first)");
  for (Eigen::Index k = 0; k < mask.size(); ++k) {
    if (mask.data()[k] == static_cast<uint8_t>(CellState::kStuckOn)) g_s.data()[k] = range.g_max_s;
    if (mask.data()[k] == static_cast<uint8_t>(CellState::kStuckOff)) g_s.data()[k] = range.g_min_s;
  }
  return count_stuck_cells(mask);
}

}  // namespace xbar::devices
