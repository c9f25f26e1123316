#include "engine/sweep/sweep_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "engine/io/atomic_file.h"
#include "engine/sweep/sweep_commands.h"
#include "support/format.h"
#include "support/input_error.h"
#include "xbar_version.h"

namespace xbar::engine::sweep::internal {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// At most this many differences are listed when a DIR holds another sweep.
constexpr size_t kMaxDifferencesShown = 6;

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

// Estimated cost of a point for the largest-first order: rows x cols, or the largest size
// squared for `size`; 0 when unknown (an array from a file).
double point_cost(const SweepPoint& p) {
  double rows = 0, cols = 0, size = 0;
  for (const auto& k : p.keys) {
    try {
      if (k.key == "rows") rows = std::stod(k.value);
      if (k.key == "cols") cols = std::stod(k.value);
      if (k.key == "sizes") {
        std::stringstream ss(k.value);
        std::string item;
        while (std::getline(ss, item, ',')) size = std::max(size, std::stod(item));
      }
    } catch (const std::exception&) {
    }
  }
  if (size > 0) return size * size;
  return rows * cols;
}

std::string values_text(const json& v) {
  std::string s;
  for (size_t k = 0; k < v.size(); ++k) {
    if (k == kMaxDifferencesShown) {
      s += ", ... (" + std::to_string(v.size()) + " values)";
      break;
    }
    s += (k ? ", " : "") + v[k].get<std::string>();
  }
  return s;
}

// key -> list of values, from a definition_json().
std::map<std::string, json> flat_keys(const json& def) {
  std::map<std::string, json> m;
  for (const auto& [k, v] : def.at("fixed").items()) m[k] = json::array({v});
  for (const auto& axis : def.at("axes"))
    for (const auto& [k, v] : axis.items()) m[k] = v;
  return m;
}

std::string describe_difference(const json& was, const json& now) {
  std::vector<std::string> d;
  if (was.value("command", "") != now.value("command", ""))
    d.push_back("command: DIR has " + was.value("command", "?") + ", the INI says " + now.value("command", "?"));
  if (was.at("sweep_seed") != now.at("sweep_seed"))
    d.push_back("sweep-seed / seed rule: DIR has " + was.at("sweep_seed").dump() + ", the INI gives " + now.at("sweep_seed").dump());
  const auto a = flat_keys(was), b = flat_keys(now);
  for (const auto& [k, v] : a) {
    if (!b.count(k)) d.push_back("key " + k + ": in DIR (" + values_text(v) + "), not in the INI");
    else if (b.at(k) != v) d.push_back("key " + k + ": DIR has " + values_text(v) + "; the INI has " + values_text(b.at(k)));
  }
  for (const auto& [k, v] : b)
    if (!a.count(k)) d.push_back("key " + k + ": in the INI (" + values_text(v) + "), not in DIR");
  if (d.empty()) d.push_back("the axes (zip groups or their order) differ");
  std::string s;
  for (size_t k = 0; k < d.size() && k < kMaxDifferencesShown; ++k) s += "\n  " + d[k];
  return s;
}

json tolerances_json(const std::vector<SweepTolerance>& ts) {
  json a = json::array();
  for (const auto& t : ts)
    a.push_back({{"metric", t.metric}, {"worse_when", t.direction == "increase" ? "higher" : "lower"},
                 {"amount", t.amount}, {"relative", t.relative},
                 {"meaning", std::string("a row is worse when ") + t.metric + (t.direction == "increase" ? " rose" : " fell") +
                                 " by more than " + format_number(t.amount) + (t.relative ? "% of its previous value" : "")},
                 {"from", t.where}});
  return a;
}

}  // namespace

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DirLock::DirLock(const std::string& dir) {
  const std::string path = dir + "/.sweep.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError("cannot open lock file '" + path + "'");
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_text(path);
    ::close(fd_);
    throw InputError("output directory '" + dir + "' is in use by another xbar sweep" +
                     (holder.empty() ? "" : " (" + holder + ")") + "; wait for it or use another --out");
  }
  const std::string me = "pid " + std::to_string(getpid());
  if (ftruncate(fd_, 0) == 0 && ::write(fd_, me.data(), me.size()) < 0) {
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::string attempts_path(const std::string& dir, const std::string& id) { return dir + "/attempts/" + id; }

int read_attempts(const std::string& dir, const std::string& id) {
  std::ifstream in(attempts_path(dir, id));
  int n = 0;
  return in >> n ? n : 0;
}

Plan prepare_dir(const SweepOptions& o, SweepDefinition def, int ranks) {
  Plan p;
  p.definition = def.definition_json();
  p.fingerprint = hex64(fnv1a64(p.definition.dump()));
  p.columns = sweep_csv_columns(def);
  const std::string dir = o.out_dir, manifest_path = dir + "/sweep.json";
  json manifest;
  if (fs::exists(manifest_path)) {
    try {
      manifest = json::parse(read_text(manifest_path));
    } catch (const std::exception& e) {
      throw InputError(manifest_path + ": not a readable sweep manifest (" + e.what() + "); use another --out");
    }
    if (manifest.value("record", "") != "sweep" || !manifest.contains("definition"))
      throw InputError(manifest_path + ": not written by xbar sweep; use another --out");
    if (manifest.value("fingerprint", "") != p.fingerprint)
      throw InputError("output directory '" + dir + "' holds a different sweep than " + o.config_path +
                       " (fingerprint " + manifest.value("fingerprint", "?") + " vs " + p.fingerprint + "):" +
                       describe_difference(manifest.at("definition"), p.definition) +
                       "\nrestore the INI to resume that sweep, or give a new --out for this one");
  } else if (fs::exists(dir + "/points") || fs::exists(dir + "/sweep.csv")) {
    throw InputError("output directory '" + dir + "' holds sweep.csv or points/ but no sweep.json: not a sweep this "
                     "xbar can resume; use another --out");
  } else {
    manifest = {{"tool", "xbar"},
                {"record", "sweep"},
                {"created_utc", utc_now()},
                {"created_by_version", XBAR_VERSION},
                {"runs", json::array()}};
  }
  const SweepCommand& cmd = *find_sweep_command(def.command);
  json metrics = json::array();
  for (const auto& m : cmd.metrics) metrics.push_back({{"column", m.column}, {"from", cmd.result_file + "#" + m.pointer}});
  manifest["config_file"] = def.path;
  manifest["command"] = def.command;
  manifest["definition"] = p.definition;
  manifest["fingerprint"] = p.fingerprint;
  manifest["points"] = def.points();
  manifest["swept_keys"] = def.swept_keys();
  manifest["columns"] = p.columns;
  manifest["timing_columns"] = kTimingColumns;
  manifest["metrics"] = metrics;
  manifest["seed_rule"] = to_string(def.seed_source);
  manifest["threads_per_point"] = def.threads;
  manifest["tolerances"] = tolerances_json(def.tolerances);
  manifest["runs"].push_back({{"started_utc", utc_now()}, {"version", XBAR_VERSION}, {"ranks", ranks},
                              {"retry_failed", o.retry_failed}});
  io::write_file_atomically(manifest_path, [&](std::ostream& os) { os << manifest.dump(2) << "\n"; });

  // Temporaries of a killed run's atomic writes (never a partial file under the real name).
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("sweep.csv.tmp.", 0) == 0 || name.rfind("sweep.json.tmp.", 0) == 0) fs::remove(e.path(), ec);
  }

  std::vector<std::pair<double, int64_t>> todo;
  for (int64_t i = 0; i < def.points(); ++i) {
    const std::string rec_path = dir + "/points/" + def.id(i) + "/point.json";
    bool done = false;
    if (fs::exists(rec_path)) {
      try {
        PointRecord r = PointRecord::from_json(json::parse(read_text(rec_path)));
        if (r.fingerprint == p.fingerprint && r.index == i && !(o.retry_failed && !r.ok())) {
          p.done.push_back(std::move(r));
          done = true;
        }
      } catch (const std::exception&) {
        // An unreadable record (cannot happen with atomic writes, unless edited): run again.
      }
    }
    if (done) continue;
    if (o.retry_failed) {
      std::error_code rm;
      fs::remove(attempts_path(dir, def.id(i)), rm);
    } else if (read_attempts(dir, def.id(i)) >= kMaxAttempts) {
      p.given_up.push_back(i);
      continue;
    }
    todo.push_back({point_cost(def.point(i)), i});
  }
  std::stable_sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& t : todo) p.pending.push_back(t.second);
  p.def = std::move(def);
  return p;
}

void close_run(const std::string& dir, int64_t points_run, int64_t points_failed) {
  const std::string manifest_path = dir + "/sweep.json";
  json m = json::parse(read_text(manifest_path));
  m["runs"].back()["finished_utc"] = utc_now();
  m["runs"].back()["points_run"] = points_run;
  m["runs"].back()["points_failed"] = points_failed;
  io::write_file_atomically(manifest_path, [&](std::ostream& os) { os << m.dump(2) << "\n"; });
}

}  // namespace xbar::engine::sweep::internal
