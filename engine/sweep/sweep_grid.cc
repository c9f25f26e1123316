#include "engine/sweep/sweep_grid.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "support/format.h"
#include "support/input_error.h"
#include "support/text.h"
#include "support/utf8.h"
#include "devices/random_stream.h"
#include "engine/sweep/sweep_commands.h"

namespace xbar::engine::sweep {

namespace {

// A range of more values than this is almost certainly a typo (a step of 1e-6 for 1e-3); the
// grid as a whole is capped at kMaxPoints for the same reason.
constexpr int64_t kMaxRangeValues = 100000;
constexpr int64_t kMaxPoints = 10000000;
// start:step:stop includes stop when (stop - start) / step is within this many steps of an
// integer: 0.5:0.1:0.8 has (0.8 - 0.5) / 0.1 = 2.9999999999999996 steps.
constexpr double kRangeStepSlack = 1e-9;
// Range values are printed with this many significant digits, which removes the rounding of
// start + k * step (0.1 + 2 * 0.1 = 0.30000000000000004 prints as 0.3) and is still exact for any
// decimal the user can sensibly write.
constexpr int kRangeDigits = 15;
// Point seeds stay below 2^53: every JSON and CSV reader (Python's float, JavaScript) holds them
// exactly.
constexpr uint64_t kSeedMask = (uint64_t(1) << 53) - 1;
constexpr int64_t kMaxThreads = 1024;

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    out = std::stod(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size() && std::isfinite(out);
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  size_t used = 0;
  try {
    out = std::stoll(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

// Starts like a number: a digit, or a sign or a dot followed by a digit or dot (".5", "-0.5").
bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) return true;
  if ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s.size() > 1)
    return std::isdigit(static_cast<unsigned char>(s[1])) || (s[0] != '.' && s[1] == '.');
  return false;
}

std::string range_value_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", kRangeDigits, v);
  double back = 0;
  parse_double(buf, back);
  if (back == 0) back = 0;  // no "-0"
  return format_number(back);
}

// Splits a value at commas outside double quotes; quotes stay on the items.
std::vector<std::string> split_items(const std::string& value, const std::string& where, const std::string& key) {
  std::vector<std::string> items;
  std::string cur;
  bool quoted = false;
  for (char ch : value) {
    if (ch == '"') quoted = !quoted;
    if (ch == ',' && !quoted) {
      items.push_back(trim(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (quoted) throw InputError(where + "key " + key + " = '" + value + "': unterminated '\"'");
  items.push_back(trim(cur));
  return items;
}

struct RawLine {
  std::string key, value;
  int line = 0;
};

}  // namespace

std::string to_string(SeedSource s) {
  switch (s) {
    case SeedSource::kFixed: return "the seed key of the sweep INI (the same for every point)";
    case SeedSource::kSwept: return "the seed key of the sweep INI (an axis of the grid)";
    case SeedSource::kDerived: break;
  }
  return "derived: derive_seed(sweep-seed, fnv1a64(the point's swept key=value lines, sorted by key)) mod 2^53";
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::string> expand_sweep_value(const std::string& key, const std::string& item,
                                            const std::string& where) {
  const std::string what = where + "key " + key + " = '" + item + "': ";
  if (item.empty()) throw InputError(what + "empty item in the list (expected values separated by commas)");
  if (item.front() == '"') {
    if (item.size() < 2 || item.back() != '"' || item.find('"', 1) != item.size() - 1)
      throw InputError(what + "a quoted value must be one \"...\" item");
    const std::string inner = item.substr(1, item.size() - 2);
    if (inner.empty()) throw InputError(what + "empty quoted value");
    return {inner};
  }
  if (!looks_numeric(item)) return {item};
  if (item.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    size_t b = 0;
    for (size_t p; (p = item.find(':', b)) != std::string::npos; b = p + 1) parts.push_back(trim(item.substr(b, p - b)));
    parts.push_back(trim(item.substr(b)));
    double a = 0, s = 0, e = 0;
    if (parts.size() != 3 || !parse_double(parts[0], a) || !parse_double(parts[1], s) || !parse_double(parts[2], e))
      throw InputError(what + "bad range: expected start:step:stop with three finite numbers, e.g. 0.5:0.5:3");
    if (s == 0) throw InputError(what + "bad range: the step must not be 0");
    if (e != a && (e - a) / s < 0)
      throw InputError(what + "bad range: the step " + parts[1] + " goes away from stop " + parts[2] +
                       " (use a " + (s > 0 ? "negative" : "positive") + " step)");
    const double steps = (e - a) / s;
    if (steps + 1 > double(kMaxRangeValues))
      throw InputError(what + "bad range: more than " + std::to_string(kMaxRangeValues) + " values");
    const int64_t n = int64_t(std::floor(steps + kRangeStepSlack)) + 1;
    std::vector<std::string> out;
    for (int64_t k = 0; k < n; ++k) out.push_back(range_value_text(a + double(k) * s));
    return out;
  }
  const size_t dots = item.find("..");
  if (dots != std::string::npos) {
    int64_t a = 0, e = 0;
    if (!parse_int(trim(item.substr(0, dots)), a) || !parse_int(trim(item.substr(dots + 2)), e))
      throw InputError(what + "bad integer range: expected a..b with integers a <= b, e.g. 1..5");
    if (e < a) throw InputError(what + "bad integer range: " + std::to_string(a) + " > " + std::to_string(e) + " (expected a <= b)");
    if (e - a + 1 > kMaxRangeValues)
      throw InputError(what + "bad integer range: more than " + std::to_string(kMaxRangeValues) + " values");
    std::vector<std::string> out;
    for (int64_t v = a; v <= e; ++v) out.push_back(std::to_string(v));
    return out;
  }
  return {item};
}

int64_t SweepDefinition::points() const {
  int64_t n = 1;
  for (const auto& a : axes) n *= a.length;
  return n;
}

std::string SweepDefinition::id(int64_t index) const {
  const std::string s = std::to_string(index);
  const size_t width = std::max<size_t>(5, std::to_string(std::max<int64_t>(points() - 1, 0)).size());
  return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

SweepPoint SweepDefinition::point(int64_t index) const {
  SweepPoint p;
  p.index = index;
  p.id = id(index);
  // Mixed radix, the last axis fastest.
  std::vector<int64_t> pick(keys.size(), 0);
  int64_t rest = index;
  for (size_t a = axes.size(); a-- > 0;) {
    const int64_t k = rest % axes[a].length;
    rest /= axes[a].length;
    for (size_t key : axes[a].keys) pick[key] = k;
  }
  for (const auto& a : axes)
    for (size_t key : a.keys)
      if (keys[key].key != "seed")
        p.swept.push_back({keys[key].key, keys[key].values[size_t(pick[key])], path + ":" + std::to_string(keys[key].line)});
  bool has_seed = false;
  for (size_t k = 0; k < keys.size(); ++k) {
    const SweepKey& sk = keys[k];
    p.keys.push_back({sk.key, sk.values[size_t(pick[k])], path + ":" + std::to_string(sk.line)});
    if (sk.key == "seed") {
      has_seed = true;
      int64_t s = 0;
      parse_int(p.keys.back().value, s);  // validated by the parser
      p.seed = uint64_t(s);
    }
  }
  if (!has_seed) {
    std::vector<std::string> lines;
    for (const auto& k : p.swept) lines.push_back(k.key + "=" + k.value + "\n");
    std::sort(lines.begin(), lines.end());
    std::string canonical;
    for (const auto& l : lines) canonical += l;
    p.seed = devices::derive_seed(sweep_seed, fnv1a64(canonical)) & kSeedMask;
    p.keys.push_back({"seed", std::to_string(p.seed), "derived from sweep-seed " + std::to_string(sweep_seed) + " and the point"});
  }
  return p;
}

std::vector<std::string> SweepDefinition::swept_keys() const {
  std::vector<std::string> out;
  for (const auto& a : axes)
    for (size_t key : a.keys)
      if (keys[key].key != "seed") out.push_back(keys[key].key);
  return out;
}

nlohmann::json SweepDefinition::definition_json() const {
  nlohmann::json fixed = nlohmann::json::object(), ax = nlohmann::json::array();
  for (const auto& k : keys)
    if (k.values.size() == 1) fixed[k.key] = k.values[0];
  for (const auto& a : axes) {
    nlohmann::json one = nlohmann::json::object();
    for (size_t key : a.keys) one[keys[key].key] = keys[key].values;
    ax.push_back(one);
  }
  return {{"command", command},
          {"sweep_seed", seed_source == SeedSource::kDerived ? nlohmann::json(sweep_seed) : nlohmann::json(nullptr)},
          {"threads", threads},
          {"fixed", fixed},
          {"axes", ax}};
}

SweepDefinition parse_sweep_ini(std::istream& in, const std::string& path, const SweepKeyCheck& check) {
  SweepDefinition d;
  d.path = path;
  auto at = [&](int line) { return path + ":" + std::to_string(line) + ": "; };
  std::vector<RawLine> lines;
  std::map<std::string, int> seen;
  std::vector<RawLine> zips;
  RawLine command, sweep_seed, sweep_threads;
  std::string raw;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    // Comments as in the CLI's INI reader (engine/cli/cli_ini.cc): support/text.h.
    const std::string line = trim_ini(raw);
    // Values end up in sweep.json and every point's result.json, which must be UTF-8
    // (support/utf8.h; found by tests/fuzz, sweep_grid: nlohmann refused to write them).
    if (const auto bad = first_invalid_utf8(line)) throw InputError(at(line_no) + describe_invalid_utf8(line, *bad));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') throw InputError(at(line_no) + "section header '" + line + "' lacks ']'");
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw InputError(at(line_no) + "expected `key = value`, got '" + line + "'");
    RawLine r{trim(line.substr(0, eq)), trim(line.substr(eq + 1)), line_no};
    if (r.key.empty()) throw InputError(at(line_no) + "missing key before '='");
    if (r.value.empty()) throw InputError(at(line_no) + "key '" + r.key + "' has no value after '=' (an empty list)");
    if (r.key == "zip") {
      zips.push_back(r);
      continue;
    }
    const auto [it, fresh] = seen.emplace(r.key, line_no);
    if (!fresh)
      throw InputError(at(line_no) + "key '" + r.key + "' given twice (first at line " + std::to_string(it->second) +
                       "); put every value of a key in one list: key = a, b, c");
    if (r.key == "command") {
      command = r;
    } else if (r.key == "sweep-seed") {
      sweep_seed = r;
    } else if (r.key == "sweep-threads") {
      sweep_threads = r;
    } else {
      lines.push_back(r);
    }
  }
  if (command.line == 0)
    throw InputError(path + ": no `command = ...` line: say which subcommand every point runs (" + sweep_command_names() + ")");
  if (command.value.find(',') != std::string::npos)
    throw InputError(at(command.line) + "command = '" + command.value + "': one subcommand per sweep (expected one of " +
                     sweep_command_names() + ")");
  d.command = command.value;
  if (!find_sweep_command(d.command))
    throw InputError(at(command.line) + "command = '" + d.command + "': not a subcommand a sweep can run (expected one of " +
                     sweep_command_names() + ")");
  if (sweep_seed.line) {
    int64_t s = 0;
    if (!parse_int(sweep_seed.value, s) || s < 0)
      throw InputError(at(sweep_seed.line) + "key sweep-seed = '" + sweep_seed.value + "': expected an integer >= 0");
    d.sweep_seed = uint64_t(s);
  }
  if (sweep_threads.line) {
    int64_t t = 0;
    if (!parse_int(sweep_threads.value, t) || t < 1 || t > kMaxThreads)
      throw InputError(at(sweep_threads.line) + "key sweep-threads = '" + sweep_threads.value +
                       "': expected one integer in [1, " + std::to_string(kMaxThreads) + "]");
    d.threads = int(t);
  }

  const SweepCommand& cmd = *find_sweep_command(d.command);
  for (const RawLine& r : lines) {
    for (const char* prefix : {"max-increase.", "max-decrease."}) {
      const std::string pre = prefix;
      if (r.key.compare(0, pre.size(), pre) != 0) continue;
      SweepTolerance t;
      t.metric = r.key.substr(pre.size());
      t.direction = pre == "max-increase." ? "increase" : "decrease";
      t.where = path + ":" + std::to_string(r.line);
      bool known = false;
      std::string names;
      for (const auto& m : cmd.metrics) {
        known = known || m.column == t.metric;
        names += (names.empty() ? "" : ", ") + m.column;
      }
      if (!known)
        throw InputError(at(r.line) + "key " + r.key + ": '" + t.metric + "' is not a metric of " + d.command +
                         " (its metrics: " + names + ")");
      std::string v = r.value;
      if (!v.empty() && v.back() == '%') {
        t.relative = true;
        v = trim(v.substr(0, v.size() - 1));
      }
      if (!parse_double(v, t.amount) || t.amount < 0)
        throw InputError(at(r.line) + "key " + r.key + " = '" + r.value + "': expected a number >= 0, or a percentage (e.g. 0.05 or 2%)");
      d.tolerances.push_back(t);
      break;
    }
    if (r.key.rfind("max-increase.", 0) == 0 || r.key.rfind("max-decrease.", 0) == 0) continue;
    if (r.key == "out" || r.key == "config" || r.key == "help" || r.key == "quiet")
      throw InputError(at(r.line) + "key '" + r.key + "' is set by xbar sweep itself (every point writes under "
                       "DIR/points/ID/, quietly); remove it from the sweep INI");
    const std::string bad = check ? check(d.command, r.key) : "";
    if (!bad.empty()) throw InputError(at(r.line) + bad);
    SweepKey k;
    k.key = r.key;
    k.text = r.value;
    k.line = r.line;
    for (const std::string& item : split_items(r.value, at(r.line), r.key))
      for (auto& v : expand_sweep_value(r.key, item, at(r.line))) k.values.push_back(std::move(v));
    if (k.key == "seed")
      for (const auto& v : k.values) {
        int64_t s = 0;
        if (!parse_int(v, s) || s < 0)
          throw InputError(at(r.line) + "key seed = '" + r.value + "': '" + v + "' is not an integer >= 0");
      }
    d.keys.push_back(std::move(k));
  }

  // Axes: zip groups and the remaining list keys, in order of first appearance.
  std::map<std::string, size_t> index;
  for (size_t k = 0; k < d.keys.size(); ++k) index[d.keys[k].key] = k;
  std::vector<int> zipped(d.keys.size(), 0);  // line of the zip holding the key, 0 = none
  std::vector<std::pair<int, SweepAxis>> axes;
  for (const RawLine& z : zips) {
    SweepAxis a;
    std::set<std::string> in_group;
    for (const std::string& item : split_items(z.value, at(z.line), "zip")) {
      if (item.empty()) throw InputError(at(z.line) + "zip = '" + z.value + "': empty key name in the list");
      const auto it = index.find(item);
      if (it == index.end()) {
        const bool own = item == "command" || item == "sweep-seed" || item == "sweep-threads";
        throw InputError(at(z.line) + "zip = '" + z.value + "': '" + item + "' " +
                         (own ? "is a key of the sweep itself and cannot be zipped"
                              : "is not a key of this sweep INI (a zip names list keys given on their own lines)"));
      }
      if (!in_group.insert(item).second) throw InputError(at(z.line) + "zip = '" + z.value + "': '" + item + "' named twice");
      if (zipped[it->second])
        throw InputError(at(z.line) + "zip = '" + z.value + "': '" + item + "' is already zipped at line " +
                         std::to_string(zipped[it->second]) + " (a key belongs to one zip group)");
      zipped[it->second] = z.line;
      a.keys.push_back(it->second);
    }
    if (a.keys.size() < 2) throw InputError(at(z.line) + "zip = '" + z.value + "': a zip group needs at least two keys");
    const SweepKey& first = d.keys[a.keys[0]];
    for (size_t k : a.keys) {
      const SweepKey& other = d.keys[k];
      if (other.values.size() != first.values.size())
        throw InputError(at(z.line) + "zip = '" + z.value + "': " + first.key + " has " + std::to_string(first.values.size()) +
                         " value(s) (line " + std::to_string(first.line) + ") but " + other.key + " has " +
                         std::to_string(other.values.size()) + " (line " + std::to_string(other.line) +
                         "); zipped keys vary together and need lists of the same length");
    }
    a.length = int64_t(first.values.size());
    int first_line = z.line;
    for (size_t k : a.keys) first_line = std::min(first_line, d.keys[k].line);
    axes.push_back({first_line, a});
  }
  for (size_t k = 0; k < d.keys.size(); ++k)
    if (!zipped[k] && d.keys[k].values.size() > 1) {
      SweepAxis a;
      a.keys = {k};
      a.length = int64_t(d.keys[k].values.size());
      axes.push_back({d.keys[k].line, a});
    }
  std::stable_sort(axes.begin(), axes.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  int64_t n = 1;
  for (auto& [line, a] : axes) {
    if (n > kMaxPoints / a.length)
      throw InputError(path + ": the grid has more than " + std::to_string(kMaxPoints) + " points; split the sweep");
    n *= a.length;
    d.axes.push_back(a);
  }

  const bool seed_key = index.count("seed") > 0;
  if (seed_key && sweep_seed.line)
    throw InputError(at(sweep_seed.line) + "sweep-seed and seed (line " + std::to_string(d.keys[index["seed"]].line) +
                     ") both given: with `seed` every point runs with that seed and sweep-seed would be unused; "
                     "keep one of them");
  if (seed_key) d.seed_source = d.keys[index["seed"]].values.size() > 1 ? SeedSource::kSwept : SeedSource::kFixed;
  return d;
}

SweepDefinition read_sweep_ini(const std::string& path, const SweepKeyCheck& check) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open sweep config file '" + path + "'");
  return parse_sweep_ini(in, path, check);
}

}  // namespace xbar::engine::sweep
