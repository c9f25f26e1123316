// The map cache (engine/nn/map_cache.h): a stored map comes back bit for bit, a key that
// differs in anything the map depends on misses, a damaged entry is a miss with a warning
// and never a wrong map, and a network's tiles built from the cache compute what the tiles
// with freshly computed maps compute. Referees: calib::compensate run afresh, and the
// network without a cache.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>

#include "calib/compensation.h"
#include "engine/nn/hardware_inference.h"
#include "engine/nn/map_cache.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "support/utf8.h"
#include "tests/engine/nn/nn_test_networks.h"

using namespace xbar::engine::nn;
using xbar::netlists::RowMatrixXd;

namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("xbar_map_cache_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

xbar::netlists::CrossbarSpec spec_of(int64_t m, int64_t n, double r) {
  xbar::netlists::CrossbarSpec s;
  s.rows = m;
  s.cols = n;
  s.r_row_ohm = s.r_col_ohm = r;
  return s;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// One 8 x 6 map (random targets of `seed`, 5 ohm) computed and stored in a fresh cache.
struct StoredEntry {
  fs::path dir;
  MapCache cache;
  xbar::calib::CompensationOptions o = xbar::calib::per_column_compensation();
  xbar::calib::Compensation c;
  std::string key;
  fs::path file;
  std::string good;  // the entry's bytes
  StoredEntry(const std::string& name, uint64_t seed) : dir(fresh_dir(name)), cache(dir.string()) {
    const auto spec = spec_of(8, 6, 5.0);
    const RowMatrixXd g = xbar::support::uniform_matrix(8, 6, 1e-6, 1e-4, seed);
    const xbar::solvers::SolverOptions solver;
    c = xbar::calib::compensate(spec, g, o, solver);
    key = MapCache::key(spec, g, o, solver);
    cache.store(key, c);
    file = cache.path_of(key);
    good = read_all(file);
  }
  ~StoredEntry() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("map cache: a stored map comes back bit for bit; anything the map depends on changes the key") {
  const fs::path dir = fresh_dir("roundtrip");
  const MapCache cache(dir.string());
  const auto spec = spec_of(12, 10, 5.0);
  const RowMatrixXd g = xbar::support::uniform_matrix(12, 10, 1e-6, 1e-4, 7);
  const xbar::calib::CompensationOptions o = xbar::calib::per_column_compensation();
  const xbar::solvers::SolverOptions solver;
  const xbar::calib::Compensation c = xbar::calib::compensate(spec, g, o, solver);
  REQUIRE(c.converged);
  const std::string key = MapCache::key(spec, g, o, solver);
  CHECK_FALSE(cache.load(key).has_value());  // empty directory: a miss
  cache.store(key, c);
  std::string warning;
  const auto hit = cache.load(key, &warning);
  REQUIRE(hit.has_value());
  CHECK(warning.empty());
  CHECK(hit->g_s == c.g_s);  // exact: the bytes written are the bytes read
  CHECK(hit->status == c.status);
  CHECK(hit->column_scales == c.column_scales);
  CHECK(hit->scale == c.scale);
  CHECK(hit->iterations == c.iterations);
  CHECK(hit->converged == c.converged);
  CHECK(hit->residual_rel == c.residual_rel);
  CHECK(hit->residual_history == c.residual_history);
  CHECK(hit->message == c.message);
  CHECK(hit->needs_below_min == c.needs_below_min);

  // Each of these is another map: its key differs (so does, with overwhelming odds, its file).
  RowMatrixXd g2 = g;
  g2(3, 4) = std::nextafter(g2(3, 4), 1.0);  // one target, one ulp
  auto spec_r = spec_of(12, 10, 5.0);
  spec_r.r_col_ohm = 5.5;
  auto spec_d = spec;
  spec_d.r_driver_ohm = 1;
  auto o_tol = o;
  o_tol.tol = 1e-7;
  auto o_auto = o;
  o_auto.scale_per_column = false;
  auto o_window = o;
  o_window.range.g_max_s = 2e-4;
  const std::vector<std::string> others = {
      MapCache::key(spec, g2, o, solver),      MapCache::key(spec_r, g, o, solver),
      MapCache::key(spec_d, g, o, solver),     MapCache::key(spec, g, o_tol, solver),
      MapCache::key(spec, g, o_auto, solver),  MapCache::key(spec, g, o_window, solver)};
  for (const std::string& k : others) {
    CHECK(k != key);
    CHECK_FALSE(cache.load(k).has_value());
  }
  // Read-time settings are not part of the map: the wires' capacitance leaves the key alone.
  auto spec_c = spec;
  spec_c.c_row_f = 1e-15;
  CHECK(MapCache::key(spec_c, g, o, solver) == key);

  // Another key's entry under this key's file name (what a hash collision would look like):
  // compared byte for byte, a miss, without a warning (it is a valid entry of another map).
  fs::copy_file(cache.path_of(key), cache.path_of(others[0]), fs::copy_options::overwrite_existing);
  warning.clear();
  CHECK_FALSE(cache.load(others[0], &warning).has_value());
  CHECK(warning.empty());
  fs::remove_all(dir);
}

TEST_CASE("map cache: a damaged entry is a miss with a warning naming the file, and is replaced") {
  const StoredEntry e("damaged", 3);
  const MapCache& cache = e.cache;
  const auto& [key, file, good] = std::tie(e.key, e.file, e.good);
  const auto& c = e.c;
  REQUIRE(good.size() > key.size() + 64);

  struct Case {
    std::string name, bytes, says;
  };
  std::string flipped = good;
  flipped[good.size() - 40] ^= 0x10;  // a byte of the value: the checksum no longer matches
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() - 9), "truncated"},
      {"one byte of the map changed", flipped, "checksum"},
      {"not an entry", "#!/bin/sh\necho hello\n", "not an xbar map entry"},
      {"bytes after the end", good + "x", "after its end"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    write_all(file, k.bytes);
    std::string warning;
    CHECK_FALSE(cache.load(key, &warning).has_value());
    CHECK(warning.find(file.string()) != std::string::npos);
    CHECK(warning.find(k.says) != std::string::npos);
  }
  cache.store(key, c);  // what a tile does after such a miss
  CHECK(read_all(file) == good);
  REQUIRE(cache.load(key).has_value());
}

TEST_CASE("map cache: hostile bytes under an entry's name are a miss or a map with every invariant, never a crash") {
  const StoredEntry e("hostile", 5);
  const MapCache& cache = e.cache;
  const auto& [key, file, good] = std::tie(e.key, e.file, e.good);
  const auto& o = e.o;
  // The entry's layout (map_cache.h): magic, key length, key, value length, value, checksum.
  const size_t value_at = 8 + 8 + key.size() + 8, value_len = good.size() - value_at - 8;
  auto fnv1a = [](const std::string& b) {  // the checksum, written out again here
    uint64_t h = 1469598103934665603ull;
    for (unsigned char ch : b) h = (h ^ ch) * 1099511628211ull;
    return h;
  };
  auto seal = [&](std::string value) {  // a complete entry around `value`, checksum and all
    std::string e = good.substr(0, value_at - 8);
    const uint64_t n = value.size(), sum = fnv1a(value);
    e.append(reinterpret_cast<const char*>(&n), 8);
    e += value;
    e.append(reinterpret_cast<const char*>(&sum), 8);
    return e;
  };
  const std::string value = good.substr(value_at, value_len);
  REQUIRE(seal(value) == good);
  std::mt19937_64 rng(20261206);
  const double specials[] = {NAN, INFINITY, -1.0, 0.0, 2.0, 1e300, -0.0, 5e-5};
  int loaded = 0, missed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes;
    bool sealed = true;  // the checksum matches the (changed) value
    const int kind = int(rng() % 6);
    if (kind == 0) {  // one byte of the value changed, checksum recomputed
      std::string v = value;
      v[rng() % v.size()] = char(rng());
      bytes = seal(v);
    } else if (kind == 1) {  // an 8-byte field of the value replaced by a special number or count
      std::string v = value;
      const size_t at = rng() % (v.size() - 7);
      if (rng() % 2) {
        const double d = specials[rng() % 8];
        std::memcpy(&v[at], &d, 8);
      } else {
        const uint64_t n = rng() % 3 == 0 ? ~uint64_t(0) - rng() % 4 : rng() % 100000;
        std::memcpy(&v[at], &n, 8);
      }
      bytes = seal(v);
    } else if (kind == 2) {  // bytes inserted or removed inside the value
      std::string v = value;
      const size_t at = rng() % v.size();
      if (rng() % 2) v.insert(at, std::string(1 + rng() % 16, char(rng())));
      else v.erase(at, 1 + rng() % 16);
      bytes = seal(v);
    } else if (kind == 3) {  // the entry cut anywhere
      bytes = good.substr(0, rng() % good.size());
      sealed = false;
    } else if (kind == 4) {  // one byte anywhere, checksum not recomputed
      bytes = good;
      const size_t at = rng() % bytes.size();
      const char was = bytes[at];
      while (bytes[at] == was) bytes[at] = char(rng());
      sealed = false;
    } else {  // noise
      bytes.resize(rng() % 2048);
      for (char& b : bytes) b = char(rng());
      sealed = false;
    }
    write_all(file, bytes);
    std::string warning;
    const auto hit = cache.load(key, &warning);
    CAPTURE(trial);
    CAPTURE(kind);
    if (!hit) {
      ++missed;
      continue;
    }
    ++loaded;
    CHECK(sealed);  // an entry whose checksum does not match is never taken
    REQUIRE(hit->g_s.rows() == 8);
    REQUIRE(hit->g_s.cols() == 6);
    CHECK(hit->g_s.minCoeff() >= o.range.g_min_s);
    CHECK(hit->g_s.maxCoeff() <= o.range.g_max_s);
    CHECK(hit->status.maxCoeff() <= 2);
    REQUIRE(hit->column_scales.size() == 6);
    for (double sj : hit->column_scales) CHECK((sj > 0 && sj <= 1));
    CHECK((hit->scale > 0 && hit->scale <= 1));
    CHECK(hit->iterations >= 0);
    CHECK_FALSE(xbar::first_invalid_utf8(hit->message));  // it goes into accuracy.json
    CHECK_FALSE(xbar::first_invalid_utf8(hit->scale_fallback));
  }
  CHECK(missed > 0);
  CHECK(loaded > 0);  // harmless changes (a message's byte, a residual within range) still load
}

TEST_CASE("map cache: the directory is checked before any work") {
  const fs::path dir = fresh_dir("not_a_dir");
  fs::create_directories(dir);
  const fs::path file = dir / "plain_file";
  write_all(file, "x");
  CHECK_THROWS_WITH_AS(MapCache(file.string()), doctest::Contains("key map-cache"), xbar::InputError);
  CHECK_THROWS_AS(MapCache(""), xbar::InputError);
  HardwareOptions o;
  o.map_cache = file.string();
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("not a directory"), xbar::InputError);
  o.map_cache = (dir / "new").string();
  o.cell = "sinh";
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("only linear cells"), xbar::InputError);
  CHECK_FALSE(fs::exists(dir / "new"));  // validation creates nothing
  fs::remove_all(dir);
}

TEST_CASE("map cache: a network built from cached maps computes what one with fresh maps computes") {
  const fs::path dir = fresh_dir("network");
  const Network n = xbar::test::dense_net(24, 6, 51);
  HardwareOptions o;
  o.mapping.tile_rows = 12;  // two row tiles of 12 x 12 (six differential pairs each)
  o.mapping.tile_cols = 12;
  o.wires.r_row_ohm = o.wires.r_col_ohm = 10;
  o.threads = 2;
  const RowMatrixXd x = xbar::support::uniform_matrix(16, 24, 0, 1, 10);

  HardwareNetwork fresh(n, o, HardwareMode::kCompensated);
  o.map_cache = dir.string();
  HardwareNetwork cold(n, o, HardwareMode::kCompensated);  // computes and stores
  HardwareNetwork warm(n, o, HardwareMode::kCompensated);  // loads
  const auto& tf = fresh.layers()[0].tiles;
  const auto& tc = cold.layers()[0].tiles;
  const auto& tw = warm.layers()[0].tiles;
  REQUIRE(tf.size() == 2);
  for (size_t k = 0; k < tf.size(); ++k) {
    CAPTURE(k);
    CHECK_FALSE(tc[k].map_from_cache);
    CHECK(tc[k].comp_iterations > 0);
    CHECK(tw[k].map_from_cache);
    CHECK(tw[k].comp_iterations == 0);
    CHECK(tw[k].g_programmed == tf[k].g_programmed);
    CHECK(tw[k].gain_s == tf[k].gain_s);
    CHECK(tw[k].t_signed == tf[k].t_signed);
  }
  fresh.calibrate(x);
  warm.calibrate(x);
  CHECK(warm.forward(x, 0) == fresh.forward(x, 0));
  CHECK(warm.summary_json(false)["layers"][0]["compensation"]["maps_from_cache"] == 2);

  // Other wires: other maps, computed (and added), not taken from the cache.
  o.wires.r_row_ohm = 5;
  HardwareNetwork other(n, o, HardwareMode::kCompensated);
  for (const TileState& t : other.layers()[0].tiles) CHECK_FALSE(t.map_from_cache);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 4);
  fs::remove_all(dir);
}
