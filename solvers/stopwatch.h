// Wall-clock seconds since a time point: the one timer every solver stage reports with.
#pragma once

#include <chrono>

namespace xbar::solvers::internal {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace xbar::solvers::internal
