#include "devices/conductance_levels.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <utility>

#include "support/contract.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

namespace {

std::string trim(const std::string& s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  auto b = std::find_if(s.begin(), s.end(), not_space);
  auto e = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return b < e ? std::string(b, e) : std::string();
}

// Parses the whole of `text` as a double (locale-independent); false if anything is left over.
bool parse_double(const std::string& text, double& value) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;  // from_chars rejects a leading '+'
  const auto r = std::from_chars(first, last, value);
  return r.ec == std::errc() && r.ptr == last && first != last;
}

std::string where(const std::string& path, int64_t line) {
  return path + ":" + std::to_string(line);
}

}  // namespace

void LevelOptions::validate() const {
  if (levels < 0 || levels == 1 || levels > kMaxLevels)
    throw InputError("key levels = " + std::to_string(levels) +
                     ": must be 0 (continuous) or 2 .. " + std::to_string(kMaxLevels) +
                     " (a single level cannot span the device range)");
  if (!table_s.empty() && levels != 0)
    throw InputError("keys levels = " + std::to_string(levels) + " and level-table" +
                     (table_source.empty() ? "" : " = " + table_source) +
                     " both set: give either uniform levels or a level table, not both");
  if (int64_t(table_s.size()) > kMaxLevels)
    throw InputError("key level-table " + table_source + ": " + std::to_string(table_s.size()) +
                     " levels, at most " + std::to_string(kMaxLevels) + " allowed");
  for (size_t k = 0; k < table_s.size(); ++k) {
    if (!std::isfinite(table_s[k]) || table_s[k] < 0)
      throw InputError("key level-table " + table_source + ": level " + format_number(table_s[k]) +
                       ": must be finite and >= 0 S");
    if (k > 0 && !(table_s[k] > table_s[k - 1]))
      throw InputError("key level-table " + table_source +
                       ": levels must be sorted ascending and "
                       "distinct (read_level_table sorts them), found " +
                       format_number(table_s[k - 1]) + " before " + format_number(table_s[k]));
  }
}

std::vector<double> read_level_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the level table for reading");
  std::vector<std::pair<double, int64_t>> rows;  // (value, line)
  bool first_data_row = true;
  std::string raw;
  int64_t line = 0;
  while (std::getline(in, raw)) {
    ++line;
    const std::string text = trim(raw.substr(0, raw.find('#')));  // also drops a '\r'
    if (text.empty()) continue;
    // Fields: a trailing empty field ("1e-6,") is tolerated; more than one value is not.
    std::vector<std::string> fields;
    size_t start = 0;
    for (;;) {
      const size_t comma = text.find(',', start);
      fields.push_back(
          trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    while (fields.size() > 1 && fields.back().empty()) fields.pop_back();
    double probe = 0;
    const bool header_like =
        (std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '"' || text[0] == '\'') &&
        !parse_double(fields[0], probe);  // "inf" / "nan" are data, rejected below
    if (first_data_row && header_like) {  // a header row: skipped whatever its field count
      first_data_row = false;
      continue;
    }
    first_data_row = false;
    if (fields.size() != 1)
      throw InputError(where(path, line) + ": " + std::to_string(fields.size()) +
                       " fields: expected one conductance in siemens per row");
    double v = 0;
    if (!parse_double(fields[0], v))
      throw InputError(where(path, line) + ": '" + fields[0] +
                       "' is not a number: expected one conductance in siemens per row");
    if (!std::isfinite(v))
      throw InputError(where(path, line) + ": conductance " + format_number(v) +
                       ": must be finite");
    if (v < 0)
      throw InputError(where(path, line) + ": conductance " + format_number(v) +
                       ": must be >= 0 S");
    rows.emplace_back(v, line);
  }
  if (in.bad()) throw InputError(path + ": read error");
  if (rows.empty()) throw InputError(path + ": no conductance levels (expected one per row)");
  if (int64_t(rows.size()) > kMaxLevels)
    throw InputError(path + ": " + std::to_string(rows.size()) + " levels, at most " +
                     std::to_string(kMaxLevels) + " allowed");
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> levels;
  levels.reserve(rows.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k > 0 && rows[k].first == rows[k - 1].first) {
      const auto [a, b] = std::minmax(rows[k - 1].second, rows[k].second);
      throw InputError(where(path, b) + ": level " + format_number(rows[k].first) +
                       " S duplicates line " + std::to_string(a) + ": levels must be distinct");
    }
    levels.push_back(rows[k].first);
  }
  return levels;
}

ConductanceLevels ConductanceLevels::uniform(int64_t count, const ConductanceRange& range) {
  XBAR_EXPECTS(count >= 2, "ConductanceLevels::uniform: count must be >= 2 (validate first)");
  ConductanceLevels lv;
  lv.levels_s_.resize(size_t(count));
  const double span = range.g_max_s - range.g_min_s;
  for (int64_t k = 0; k < count; ++k)
    lv.levels_s_[size_t(k)] = range.g_min_s + span * double(k) / double(count - 1);
  lv.levels_s_.back() = range.g_max_s;  // exactly, whatever the rounding of the product
  return lv;
}

ConductanceLevels ConductanceLevels::from_table(std::vector<double> levels_s) {
  XBAR_EXPECTS(!levels_s.empty(), "ConductanceLevels::from_table: empty table");
  for (size_t k = 1; k < levels_s.size(); ++k)
    XBAR_EXPECTS(levels_s[k] > levels_s[k - 1],
                 "ConductanceLevels::from_table: levels must be sorted and distinct");
  ConductanceLevels lv;
  lv.levels_s_ = std::move(levels_s);
  return lv;
}

int64_t ConductanceLevels::nearest_index(double g_s) const {
  XBAR_EXPECTS(!continuous(), "ConductanceLevels::nearest_index on continuous levels");
  const auto it = std::lower_bound(levels_s_.begin(), levels_s_.end(), g_s);
  if (it == levels_s_.begin()) return 0;
  if (it == levels_s_.end()) return count() - 1;
  const int64_t hi = it - levels_s_.begin();
  // Halfway goes to the lower level.
  return (g_s - levels_s_[size_t(hi - 1)] <= levels_s_[size_t(hi)] - g_s) ? hi - 1 : hi;
}

std::vector<int64_t> ConductanceLevels::snap_in_place(RowMatrix& g_s,
                                                      const StuckMask* pinned) const {
  XBAR_EXPECTS(pinned == nullptr || (pinned->rows() == g_s.rows() && pinned->cols() == g_s.cols()),
               "ConductanceLevels::snap_in_place: pinned mask shape differs from the array");
  if (continuous()) return {};
  std::vector<int64_t> occupancy(levels_s_.size(), 0);
  for (Eigen::Index i = 0; i < g_s.rows(); ++i) {
    for (Eigen::Index j = 0; j < g_s.cols(); ++j) {
      if (is_pinned(pinned, i, j)) continue;
      const int64_t idx = nearest_index(g_s(i, j));
      g_s(i, j) = levels_s_[size_t(idx)];
      ++occupancy[size_t(idx)];
    }
  }
  return occupancy;
}

ConductanceLevels make_levels(const LevelOptions& options, const ConductanceRange& range) {
  range.validate();
  options.validate();
  if (!options.table_s.empty()) {
    for (double g : options.table_s)
      if (g < range.g_min_s || g > range.g_max_s)
        throw InputError("key level-table " + options.table_source + ": level " + format_number(g) +
                         " S lies outside the device range [g-min, g-max] = [" +
                         format_number(range.g_min_s) + ", " + format_number(range.g_max_s) +
                         "] S");
    return ConductanceLevels::from_table(options.table_s);
  }
  if (options.levels == 0) return ConductanceLevels();
  return ConductanceLevels::uniform(options.levels, range);
}

}  // namespace xbar::devices
