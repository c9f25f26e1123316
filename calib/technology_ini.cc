#include "calib/technology_ini.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "support/format.h"
#include "support/input_error.h"
#include "support/text.h"
#include "support/utf8.h"

namespace xbar::calib {

namespace {

// The whole text must be one finite number (strtod's syntax, nothing after it).
bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(out);
}

}  // namespace

Technology read_technology_ini(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw InputError("technology file '" + path + "': no such file");
  if (std::filesystem::is_directory(path, ec))
    throw InputError("technology file '" + path + "': is a directory, expected an INI file");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > uint64_t(kMaxTechnologyFileBytes))
    throw InputError("technology file '" + path + "': " + std::to_string(size) + " bytes, more than " +
                     std::to_string(kMaxTechnologyFileBytes) + ": not a technology file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("technology file '" + path + "': cannot be read (" + std::strerror(errno) + ")");

  Technology tech;
  std::map<std::string, int> seen;  // key -> line
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    const std::string where = path + ":" + std::to_string(line);
    if (const auto bad = first_invalid_utf8(raw))
      throw InputError(where + ": " + describe_invalid_utf8(raw, *bad));
    const std::string first = trim(raw);
    if (first.empty() || first[0] == '#' || first[0] == ';') continue;
    const std::string text = trim_ini(raw);
    if (text.front() == '[') {
      if (text.back() != ']') throw InputError(where + ": section '" + text + "' has no closing ']'");
      continue;
    }
    const size_t eq = text.find('=');
    if (eq == std::string::npos)
      throw InputError(where + ": expected `key = value`, got '" + text + "'");
    const std::string key = trim(text.substr(0, eq)), value = trim(text.substr(eq + 1));
    const TechnologyKey* k = nullptr;
    for (const TechnologyKey& tk : technology_keys())
      if (key == tk.key) k = &tk;
    if (!k) {
      std::string known;
      for (const TechnologyKey& tk : technology_keys()) known += std::string(known.empty() ? "" : ", ") + tk.key;
      throw InputError(where + ": unknown key '" + key + "' (a technology file has exactly these: " + known + ")");
    }
    if (seen.count(key))
      throw InputError(where + ": key " + key + " given twice (first on line " + std::to_string(seen[key]) + ")");
    seen[key] = line;
    double v = 0;
    if (!parse_number(value, v))
      throw InputError(where + ": key " + key + " = '" + value + "': expected one finite number in " + k->unit);
    tech.*(k->field) = v;
  }
  std::string missing;
  for (const TechnologyKey& tk : technology_keys())
    if (!seen.count(tk.key)) missing += std::string(missing.empty() ? "" : ", ") + tk.key;
  if (!missing.empty())
    throw InputError("technology file '" + path + "': missing key(s) " + missing +
                     " (every figure must be given; the template calib/technology.ini has them all)");
  try {
    tech.validate();
  } catch (const InputError& e) {
    // Name the line the offending key came from.
    const std::string msg = e.what();
    for (const auto& [key, l] : seen)
      if (msg.rfind("key " + key + " ", 0) == 0) throw InputError(path + ":" + std::to_string(l) + ": " + msg);
    throw InputError("technology file '" + path + "': " + msg);
  }
  return tech;
}

}  // namespace xbar::calib
