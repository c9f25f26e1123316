#include "engine/nn/map_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>

#include "engine/io/atomic_file.h"
#include "solvers/stopwatch.h"
#include "support/contract.h"
#include "support/input_error.h"
#include "support/utf8.h"
#include "xbar_version.h"

namespace xbar::engine::nn {

namespace {

constexpr char kMagic[8] = {'X', 'B', 'A', 'R', 'M', 'A', 'P', '1'};
// A value beyond this many bytes per cell (plus its texts) is not one this file wrote.
constexpr uint64_t kMaxTextBytes = uint64_t(1) << 20;

uint64_t fnv1a(const char* p, size_t n, uint64_t h = 1469598103934665603ull) {
  for (size_t k = 0; k < n; ++k) {
    h ^= uint8_t(p[k]);
    h *= 1099511628211ull;
  }
  return h;
}

// Appends fixed-width little-endian-as-stored fields (the cache is read back by the build that
// wrote it: its version is in the key).
struct Writer {
  std::string b;
  void raw(const void* p, size_t n) {
    if (n > 0) b.append(static_cast<const char*>(p), n);  // an empty vector's data() may be null
  }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void text(const std::string& s) {
    u64(s.size());
    b += s;
  }
  void f64s(const double* p, size_t n) {
    u64(n);
    raw(p, n * sizeof(double));
  }
  void i32s(const std::vector<int32_t>& v) {
    u64(v.size());
    raw(v.data(), v.size() * sizeof(int32_t));
  }
};

// Reads them back; any field past the end, or a count beyond `max_count`, fails the read.
struct Reader {
  const std::string& b;
  size_t at = 0;
  bool ok = true;
  bool raw(void* p, size_t n) {
    if (!ok || n > b.size() - at) return ok = false;
    if (n == 0) return true;  // p may be an empty vector's null data()
    std::memcpy(p, b.data() + at, n);
    at += n;
    return true;
  }
  uint64_t u64() {
    uint64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  int64_t i64() {
    int64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  double f64() {
    double v = 0;
    raw(&v, sizeof v);
    return v;
  }
  std::string text() {
    const uint64_t n = u64();
    if (!ok || n > kMaxTextBytes || n > b.size() - at) {
      ok = false;
      return {};
    }
    std::string s = b.substr(at, n);
    at += n;
    return s;
  }
  std::vector<double> f64s(uint64_t max_count) {
    const uint64_t n = u64();
    if (!ok || n > max_count) {
      ok = false;
      return {};
    }
    std::vector<double> v(n);
    raw(v.data(), n * sizeof(double));
    return v;
  }
};

// The key's head, what load() checks a stored map against: the array's size and the device
// window. key() writes it first, read_head() reads it back; the rest of the key is only compared.
struct KeyHead {
  int64_t rows = 0, cols = 0;
  double g_min = 0, g_max = 0;
};

void write_head(Writer& w, const KeyHead& h) {
  w.text(std::string("xbar linear compensation map; version ") + XBAR_VERSION);
  w.i64(h.rows);
  w.i64(h.cols);
  w.f64(h.g_min);
  w.f64(h.g_max);
}

KeyHead read_head(const std::string& key) {
  Reader r{key};
  r.text();
  KeyHead h;
  h.rows = r.i64();
  h.cols = r.i64();
  h.g_min = r.f64();
  h.g_max = r.f64();
  return h;
}

}  // namespace

MapCache::MapCache(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throw InputError("key map-cache: expected a directory name");
  try {
    io::ensure_directory(dir_);
  } catch (const InputError& e) {
    throw InputError("key map-cache = '" + dir_ + "': " + e.what());
  }
  if (::access(dir_.c_str(), W_OK | X_OK) != 0)
    throw InputError("key map-cache = '" + dir_ + "': the directory is not writable (" + std::strerror(errno) + ")");
}

std::string MapCache::key(const netlists::CrossbarSpec& spec, const netlists::RowMatrixXd& g,
                          const calib::CompensationOptions& o, const solvers::SolverOptions& solver) {
  Writer w;
  write_head(w, {g.rows(), g.cols(), o.range.g_min_s, o.range.g_max_s});
  w.f64(spec.row_segment_ohm());
  w.f64(spec.col_segment_ohm());
  w.f64(spec.r_driver_ohm);
  w.f64(spec.r_sense_ohm);
  w.text(netlists::to_string(spec.drive));
  w.text(netlists::to_string(spec.sense));
  w.f64(o.tol);
  w.i64(o.max_iterations);
  w.i64(o.anderson_depth);
  w.f64(o.scale);
  w.i64(o.scale_auto);
  w.i64(o.scale_per_column);
  w.i32s(o.scale_groups);
  w.i32s(o.lift_groups);
  w.text(solvers::to_string(o.effective));
  w.i64(o.per_column_fallback);
  w.text(solvers::to_string(solver.backend));
  w.text(solvers::to_string(solver.linear.ordering));
  w.f64(solver.linear.pcg.tol);
  w.i64(solver.linear.pcg.max_iterations);
  w.i64(solver.linear.pcg.fallback_to_cholmod);
  w.f64(solver.linear.pcg.coarse.spacing);
  w.f64s(g.data(), size_t(g.size()));
  return w.b;
}

std::string MapCache::path_of(const std::string& key) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.xbarmap", static_cast<unsigned long long>(fnv1a(key.data(), key.size())));
  return dir_ + "/" + name;
}

std::optional<calib::Compensation> MapCache::load(const std::string& key, std::string* warning) const {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = path_of(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;  // no entry
  auto damaged = [&](const std::string& why) -> std::optional<calib::Compensation> {
    if (warning) *warning = "map cache: '" + path + "' " + why + "; the map is computed again and replaces it";
    return std::nullopt;
  };
  // Header: magic, key length, then the key itself; another key under this name is a miss.
  char magic[8];
  uint64_t key_len = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return damaged("is not an xbar map entry");
  if (!in.read(reinterpret_cast<char*>(&key_len), 8)) return damaged("is truncated");
  if (key_len != key.size()) return std::nullopt;  // another array or options (a hash collision)
  std::string stored(key.size(), '\0');
  if (!in.read(stored.data(), std::streamsize(key.size()))) return damaged("is truncated");
  if (stored != key) return std::nullopt;
  // Value: its length, its bytes, their checksum.
  uint64_t value_len = 0, checksum = 0;
  if (!in.read(reinterpret_cast<char*>(&value_len), 8)) return damaged("is truncated");
  const KeyHead head = read_head(key);
  const int64_t rows = head.rows, cols = head.cols;
  const double g_min = head.g_min, g_max = head.g_max;
  const uint64_t cells = uint64_t(rows) * uint64_t(cols);
  const uint64_t max_value = cells * 9 + uint64_t(cols) * 8 + 16 * kMaxTextBytes;
  if (value_len > max_value) return damaged("holds a value longer than any map of its size");
  std::string value(value_len, '\0');
  if (!in.read(value.data(), std::streamsize(value_len)) || !in.read(reinterpret_cast<char*>(&checksum), 8))
    return damaged("is truncated");
  if (in.peek() != std::char_traits<char>::eof()) return damaged("has bytes after its end");
  if (checksum != fnv1a(value.data(), value.size())) return damaged("fails its checksum");

  Reader r{value};
  calib::Compensation c;
  std::vector<double> g = r.f64s(cells);
  if (!r.ok || g.size() != cells) return damaged("holds a map of the wrong size");
  c.g_s = Eigen::Map<const netlists::RowMatrixXd>(g.data(), rows, cols);
  c.status.resize(rows, cols);
  r.raw(c.status.data(), size_t(cells));
  c.column_scales = r.f64s(uint64_t(cols));
  c.scale_trials = r.f64s(1 << 16);
  c.residual_history = r.f64s(1 << 16);
  c.needs_above_max = r.i64();
  c.needs_below_min = r.i64();
  c.scale = r.f64();
  c.lifted_cells = r.i64();
  c.max_lift_s = r.f64();
  const int64_t iterations = r.i64();
  c.iterations = int(std::clamp<int64_t>(iterations, -1, 1 << 30));
  c.linear_solves = r.i64();
  c.converged = r.i64() != 0;
  c.residual_rel = r.f64();
  c.message = r.text();
  c.scale_fallback = r.text();
  if (!r.ok || r.at != value.size()) return damaged("does not hold a complete map");
  // What every map satisfies (compensation.h): cells inside the window, a known status per
  // cell, gains in (0, 1], counts within the array.
  const int64_t ncells = int64_t(cells);
  bool sane = c.column_scales.size() == size_t(cols) && std::isfinite(c.scale) && c.scale > 0 && c.scale <= 1 &&
              c.needs_above_max >= 0 && c.needs_below_min >= 0 && c.needs_above_max <= ncells &&
              c.needs_below_min <= ncells - c.needs_above_max &&
              c.lifted_cells >= 0 && c.lifted_cells <= ncells && std::isfinite(c.max_lift_s) && c.max_lift_s >= 0 &&
              c.iterations >= 0 && c.linear_solves >= 0 && std::isfinite(c.residual_rel) && c.residual_rel >= 0;
  for (int64_t k = 0; sane && k < ncells; ++k)
    sane = c.g_s.data()[k] >= g_min && c.g_s.data()[k] <= g_max && c.status.data()[k] <= 2;
  for (double sj : c.column_scales) sane = sane && std::isfinite(sj) && sj > 0 && sj <= 1;
  if (!sane) return damaged("holds values no map has (a cell outside the window, a gain outside (0, 1])");
  // The texts go into accuracy.json, which holds UTF-8 only.
  if (first_invalid_utf8(c.message) || first_invalid_utf8(c.scale_fallback))
    return damaged("holds a message that is not UTF-8");
  c.seconds = solvers::internal::seconds_since(t0);
  return c;
}

calib::Compensation MapCache::compensate(const netlists::CrossbarSpec& spec, const netlists::RowMatrixXd& g,
                                        const calib::CompensationOptions& options,
                                        const solvers::SolverOptions& solver, bool* loaded) const {
  const std::string k = key(spec, g, options, solver);
  std::string warning;
  std::optional<calib::Compensation> hit = load(k, &warning);
  if (!warning.empty()) std::cerr << "xbar: warning: " + warning + "\n";
  if (loaded) *loaded = hit.has_value();
  if (hit) {
    hit->iterations = 0;
    return std::move(*hit);
  }
  calib::Compensation c = calib::compensate(spec, g, options, solver);
  try {
    store(k, c);
  } catch (const InputError& e) {  // a full disk loses the entry, not the evaluation
    std::cerr << "xbar: warning: map cache: " + std::string(e.what()) + " (the map is used, not stored)\n";
  }
  return c;
}

void MapCache::store(const std::string& key, const calib::Compensation& c) const {
  XBAR_EXPECTS(c.status.size() == c.g_s.size() && c.status.rows() == c.g_s.rows(),
               "MapCache::store: a map's status has one entry per cell");
  Writer w;
  w.f64s(c.g_s.data(), size_t(c.g_s.size()));
  w.raw(c.status.data(), size_t(c.status.size()));
  w.f64s(c.column_scales.data(), c.column_scales.size());
  w.f64s(c.scale_trials.data(), c.scale_trials.size());
  w.f64s(c.residual_history.data(), c.residual_history.size());
  w.i64(c.needs_above_max);
  w.i64(c.needs_below_min);
  w.f64(c.scale);
  w.i64(c.lifted_cells);
  w.f64(c.max_lift_s);
  w.i64(c.iterations);
  w.i64(c.linear_solves);
  w.i64(c.converged);
  w.f64(c.residual_rel);
  w.text(c.message);
  w.text(c.scale_fallback);
  const uint64_t key_len = key.size(), value_len = w.b.size(), checksum = fnv1a(w.b.data(), w.b.size());
  io::write_file_atomically(path_of(key), [&](std::ostream& os) {
    os.write(kMagic, 8);
    os.write(reinterpret_cast<const char*>(&key_len), 8);
    os.write(key.data(), std::streamsize(key.size()));
    os.write(reinterpret_cast<const char*>(&value_len), 8);
    os.write(w.b.data(), std::streamsize(w.b.size()));
    os.write(reinterpret_cast<const char*>(&checksum), 8);
  });
}

}  // namespace xbar::engine::nn
