// Numbers in messages: the shortest text that reads back as the same double ("2.5",
// "-1e-09", "nan"), so an error shows exactly the value it rejected. std::to_string would
// print "-0.000000" for -1e-9.
#pragma once

#include <charconv>
#include <cstdio>
#include <string>

namespace xbar {

inline std::string format_number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Three significant digits ("0.0123", "4.56e+03"): timings and iteration figures in progress
// lines, where the shortest exact text would be noise.
inline std::string format_3g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace xbar
