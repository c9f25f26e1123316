#include "tests/fuzz/fuzz_targets.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "devices/conductance_levels.h"
#include "support/input_error.h"
#include "support/utf8.h"
#include "engine/cli/cli_ini.h"
#include "engine/io/npy.h"
#include "netlists/spice_reader.h"
#if XBAR_HAVE_SWEEP_GRID
#include "engine/sweep/sweep_grid.h"
#endif

namespace xbar::fuzz {
namespace {

// A broken postcondition: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] void fuzz_fail(const std::string& what) {
  std::fprintf(stderr, "xbar fuzz: postcondition broken: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const std::string& what) {
  if (!ok) fuzz_fail(what);
}

// ---- SPICE ----

void check_circuit(const netlists::Circuit& c) {
  const auto& elements = c.elements();
  require(!elements.empty(), "read_spice returned a circuit without elements");
  std::set<std::string> names;
  std::vector<int> terminals(size_t(c.num_nodes()), 0);
  for (size_t k = 0; k < elements.size(); ++k) {
    const netlists::Element& e = elements[k];
    const std::string name = c.element_name(k);
    require(!name.empty(), "element without a name");
    require(names.insert(name).second, "duplicate element name '" + name + "' accepted");
    require(e.kind == netlists::ElementKind::kResistor ||
                e.kind == netlists::ElementKind::kVoltageSource ||
                e.kind == netlists::ElementKind::kCurrentSource,
            "element kind outside R, V, I");
    require(std::isfinite(e.value), "non-finite value accepted for '" + name + "'");
    if (e.kind == netlists::ElementKind::kResistor)
      require(e.value > 0, "resistance <= 0 accepted for '" + name + "'");
    require(e.pos != e.neg, "element '" + name + "' with both terminals on one node");
    for (const int32_t n : {e.pos, e.neg}) {
      require(n >= netlists::kGround && n < c.num_nodes(), "node id out of range in '" + name + "'");
      if (n >= 0) ++terminals[size_t(n)];
    }
  }
  for (size_t n = 0; n < terminals.size(); ++n) {
    require(terminals[n] >= 2, "dangling node '" + c.node_name(int32_t(n)) + "' accepted");
    require(!first_invalid_utf8(c.node_name(int32_t(n))), "a node name that is not UTF-8");
  }
  for (const std::string& name : names) require(!first_invalid_utf8(name), "an element name that is not UTF-8");
}

// Plain decimal numbers (digits, one '.', an exponent) must read exactly as strtod reads them.
void check_number_against_strtod(const std::string& text) {
  const std::optional<double> got = netlists::internal::parse_spice_number(text);
  if (text.empty() || text.size() > 64) return;
  if (text.find_first_not_of("0123456789.eE+-") != std::string::npos) return;
  char* end = nullptr;
  const double ref = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return;  // strtod stops early: not a plain number
  // Hex floats, "inf" and "nan" cannot pass the character filter above.
  require(got.has_value(), "parse_spice_number refused '" + text + "', which strtod reads");
  // Underflow: the SPICE parser flushes results below the normal range to 0 (documented).
  if (std::abs(ref) < 2.2250738585072014e-308) {
    require(std::abs(*got) < 2.2250738585072014e-308, "underflow of '" + text + "' not near 0");
    return;
  }
  require(*got == ref, "parse_spice_number('" + text + "') != strtod");
}

// ---- .npy ----

// A file on tmpfs when there is one, named after this process (readers that take a path).
std::string scratch_path(const std::string& suffix) {
  return std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/xbar_fuzz_" +
         std::to_string(::getpid()) + suffix;
}

void check_npy(const engine::io::NpyArray& a) {
  require(a.dtype == "<f8" || a.dtype == "<f4", "dtype '" + a.dtype + "' accepted");
  for (const int64_t e : a.shape) require(e >= 0, "negative extent accepted");
  require(int64_t(a.data.size()) == engine::io::element_count(a.shape), "data size != shape");
}

// Written back as float64 and read again: the same shape and bit for bit the same values.
void check_npy_round_trip(const engine::io::NpyArray& a) {
  // tmpfs when there is one: write_file_atomically fsyncs, which costs milliseconds on a disk.
  static const std::string path = scratch_path(".npy");
  engine::io::write_npy(path, a.data.data(), a.shape, engine::io::NonFinite::kAllow);
  const engine::io::NpyArray b = engine::io::read_npy(path);
  std::remove(path.c_str());
  require(b.shape == a.shape && b.dtype == "<f8", "round trip changed the shape or dtype");
  require(b.data.size() == a.data.size() &&
              (a.data.empty() ||
               std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(double)) == 0),
          "round trip changed the values");
}

// ---- INI ----

namespace po = boost::program_options;

// One key of each value type the real command line (engine/cli/*_keys.cc) declares, with and
// without defaults, plus `config` and `help`, which a file may not set.
const po::options_description& ini_description() {
  static const po::options_description desc = [] {
    po::options_description d("fuzz");
    d.add_options()
        ("help", "help")
        ("config", po::value<std::string>(), "INI file")
        ("out", po::value<std::string>(), "output")
        ("quiet", po::bool_switch(), "quiet")
        ("rows", po::value<int64_t>()->default_value(64), "M")
        ("seed", po::value<int64_t>()->default_value(1), "seed")
        ("r-row", po::value<double>()->default_value(2.5), "ohm")
        ("r-col", po::value<double>(), "ohm")
        ("v-read", po::value<double>()->default_value(0.2), "V")
        ("max-iterations", po::value<int>()->default_value(100), "Newton")
        ("rhs-block", po::value<int>(), "block")
        ("refine", po::value<bool>()->default_value(true), "bool")
        ("compensate", po::value<bool>(), "bool")
        ("backend", po::value<std::string>()->default_value("auto"), "string")
        ("drive", po::value<std::string>(), "string");
    return d;
  }();
  return desc;
}

}  // namespace

void spice_reader_one(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_number_against_strtod(text);
  std::istringstream in(text);
  try {
    check_circuit(netlists::read_spice(in, "fuzz.cir"));
  } catch (const InputError& e) {
    require(std::string(e.what()).rfind("fuzz.cir:", 0) == 0,
            std::string("message does not start with 'fuzz.cir:<line>': ") + e.what());
  }
}

void npy_reader_one(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size), std::ios::binary);
  engine::io::NpyArray a;
  try {
    a = engine::io::read_npy(in, "fuzz.npy");
  } catch (const InputError& e) {
    require(std::string(e.what()).rfind("fuzz.npy: ", 0) == 0,
            std::string("message does not start with 'fuzz.npy: ': ") + e.what());
    return;
  }
  check_npy(a);
  check_npy_round_trip(a);
}

void ini_one(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const po::options_description& desc = ini_description();
  po::variables_map vm;
  try {
    engine::cli::store_ini(in, "fuzz.ini", desc, vm);
    po::notify(vm);
  } catch (const InputError& e) {
    require(std::string(e.what()).rfind("fuzz.ini:", 0) == 0,
            std::string("message does not start with 'fuzz.ini:<line>': ") + e.what());
    return;
  }
  for (const auto& [key, value] : vm) {
    require(desc.find_nothrow(key, false) != nullptr, "unknown key '" + key + "' stored");
    require(key != "config" && key != "help", "key '" + key + "' accepted from a file");
    if (value.value().type() == typeid(std::string))
      require(!first_invalid_utf8(value.as<std::string>()), "a value that is not UTF-8 was stored");
  }
}

void level_table_one(const uint8_t* data, size_t size) {
  static const std::string path = scratch_path("_levels.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  std::vector<double> levels;
  try {
    levels = devices::read_level_table(path);
  } catch (const InputError& e) {
    require(std::string(e.what()).rfind(path, 0) == 0,
            std::string("message does not start with the file name: ") + e.what());
    return;
  }
  require(!levels.empty(), "an empty level table was accepted");
  for (size_t k = 0; k < levels.size(); ++k) {
    require(std::isfinite(levels[k]) && levels[k] >= 0, "a level that is not finite and >= 0");
    if (k > 0) require(levels[k] > levels[k - 1], "levels not strictly ascending");
  }
}

#if XBAR_HAVE_SWEEP_GRID
void sweep_grid_one(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  // The subcommand keys a point may set, as the CLI's check would accept them (a fixed set:
  // the parser's own logic is under test, not the CLI's key tables).
  static const std::set<std::string> kKeys = {"rows", "cols", "r-row", "r-col", "seed", "v-read",
                                              "sizes", "backend", "cell", "nl-k", "g", "tol"};
  const engine::sweep::SweepKeyCheck check = [](const std::string& command, const std::string& key) {
    if (command != "solve" && command != "check" && command != "calibrate" && command != "size")
      return std::string("command '" + command + "' is not a subcommand");
    return kKeys.count(key) ? std::string() : "unknown key '" + key + "'";
  };
  engine::sweep::SweepDefinition def;
  try {
    def = engine::sweep::parse_sweep_ini(in, "fuzz.ini", check);
  } catch (const InputError& e) {
    require(std::string(e.what()).rfind("fuzz.ini", 0) == 0,
            std::string("message does not start with 'fuzz.ini': ") + e.what());
    return;
  }
  int64_t product = 1;
  for (const auto& axis : def.axes) {
    require(axis.length >= 1, "an axis without values");
    product *= axis.length;
  }
  require(def.points() == product, "points() is not the product of the axis lengths");
  for (const int64_t i : {int64_t(0), def.points() - 1}) {
    const engine::sweep::SweepPoint p = def.point(i);
    require(p.index == i && p.id == def.id(i), "point " + std::to_string(i) + " has the wrong index/id");
    for (const auto& k : p.keys) require(kKeys.count(k.key) > 0, "point key '" + k.key + "' not checked");
  }
  // sweep.json and the points' result.json carry these: they must be writable as JSON (an
  // exception escaping here is a crash).
  (void)def.definition_json().dump();
}
#else
void sweep_grid_one(const uint8_t*, size_t) {}  // the sweep-grid parser is not in this tree yet
#endif

}  // namespace xbar::fuzz
