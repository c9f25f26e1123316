// Small text helpers shared by the INI readers (the CLI's engine/cli/cli_ini.cc and the sweep's
// engine/sweep/sweep_grid.cc) and the CLI's key parsing (engine/cli/calibrate_keys.cc).
//
//   std::string line = xbar::trim_ini(raw);   // "r-row = 2.5  # wires" -> "r-row = 2.5"
#pragma once

#include <string>

namespace xbar {

// s without leading and trailing spaces, tabs and carriage returns.
inline std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// An INI line without its inline comment and trimmed. Comments start at a '#' or ';' that is
// preceded by whitespace (as in Boost's own INI parser); a line starting with one of them is
// left to the caller (it is skipped as a whole-line comment).
inline std::string trim_ini(const std::string& raw) {
  std::string text = raw;
  for (size_t p = 1; p < text.size(); ++p)
    if ((text[p] == '#' || text[p] == ';') && (text[p - 1] == ' ' || text[p - 1] == '\t')) {
      text.resize(p);
      break;
    }
  return trim(text);
}

}  // namespace xbar
