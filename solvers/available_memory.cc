#include "solvers/available_memory.h"

#include <fstream>
#include <limits>
#include <string>

namespace xbar::solvers {

double available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024.0;
  return std::numeric_limits<double>::infinity();
}

}  // namespace xbar::solvers
