#include "engine/commands/preflight.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "devices/registry.h"
#include "engine/commands/command_support.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::engine::commands {

namespace {

// Bytes of one double: every array of the runs is float64.
constexpr double kDouble = 8;
// An Element of netlists::Circuit is 32 bytes; a crossbar circuit has about three per cell (the
// cell, a row segment and a column segment).
constexpr double kElementBytes = 32;
constexpr double kElementsPerCell = 3;
// The fewest vectors of 2MN unknowns any back end holds at once: right-hand side, solution,
// and conjugate gradients' residual and direction (a direct factor holds at least as much).
constexpr double kSolverVectors = 4;

// "1.5 GiB", "512 MiB", "2.3e+03 TiB": sizes in messages.
std::string bytes_text(double bytes) {
  const char* const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

// What a subcommand writes into --out (netlist: --out is the file itself).
std::vector<std::string> output_files(const RunConfig& cfg) {
  const std::string c = cfg.command;
  if (c == "netlist") return {cfg.out};
  const std::string d = cfg.out + "/";
  if (c == "solve" && !cfg.deck_path.empty())
    return {d + "node_voltages.npy", d + "source_currents.npy", d + "result.json"};
  if (c == "solve") return {d + "currents.npy", d + "voltages.npy", d + "result.json"};
  if (c == "check") return {d + "check.json"};
  if (c == "program") return {d + "g_programmed.npy", d + "stuck_mask.npy", d + "result.json"};
  if (c == "calibrate")
    return {d + "t_effective.npy", d + "g_compensated.npy", d + "unreachable.npy", d + "calibration.csv",
            d + "calibration.json", d + "result.json"};
  if (c == "size") return {d + "size.csv", d + "result.json"};
  return {};
}

// Bytes of physical memory (MemTotal), or of the cgroup's limit or this process's address-space
// or data limit (ulimit -v, -d) when one is smaller.
double machine_memory_bytes() {
  double total = std::numeric_limits<double>::infinity();
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    double kb = 0;
    while (in >> key >> kb >> unit)
      if (key == "MemTotal:") {
        total = kb * 1024.0;
        break;
      }
  }
  std::ifstream cg("/sys/fs/cgroup/memory.max");  // cgroup v2; "max" when unlimited
  double limit = 0;
  if (cg >> limit && limit > 0) total = std::min(total, limit);
  if (!std::isfinite(total)) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) total = double(pages) * double(page);
  }
  for (const int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit r {};
    if (::getrlimit(resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY) total = std::min(total, double(r.rlim_cur));
  }
  return total;
}

void check_memory(const RunConfig& cfg, double m, double n, double k) {
  const std::vector<MemoryTerm> terms = estimate_memory(cfg, m, n, k);
  double total = 0;
  const MemoryTerm* largest = nullptr;
  for (const MemoryTerm& t : terms) {
    total += t.bytes;
    if (!largest || t.bytes > largest->bytes) largest = &t;
  }
  const double bound = memory_bound_bytes(cfg.max_memory_bytes);
  if (!(total > bound) || !largest) return;
  std::string parts;
  for (const MemoryTerm& t : terms)
    if (t.bytes >= 0.01 * total) parts += (parts.empty() ? "" : "; ") + t.what + " = " + bytes_text(t.bytes);
  throw InputError("key " + largest->key + ": this " + cfg.command + " needs at least " + bytes_text(total) +
                   " of memory (" + parts + "), more than --max-memory = " + bytes_text(bound) +
                   (cfg.max_memory_bytes > 0 ? "" : " (auto: this machine's memory, or this process's limit)") +
                   "; " + largest->advice + ", or raise --max-memory where more memory is available");
}

// The largest array size of a `size` sweep, as (M, N).
std::pair<double, double> largest_size(const RunConfig& cfg) {
  double s = 0;
  for (const int64_t v : cfg.size.sizes) s = std::max(s, double(v));
  switch (cfg.size.shape) {
    case calib::SizeShape::kCols: return {double(cfg.spec.rows), s};
    case calib::SizeShape::kRows: return {s, double(cfg.spec.cols)};
    default: return {s, s};
  }
}

}  // namespace

std::vector<MemoryTerm> estimate_memory(const RunConfig& cfg, double m, double n, double k) {
  const std::string size_key = cfg.command == "size" ? "sizes" : cfg.g_path.empty() ? "rows" : "g";
  const std::string array_advice = cfg.command == "size" ? "smaller sizes (--sizes)"
                                   : cfg.g_path.empty() ? "a smaller array (--rows, --cols)"
                                                        : "a smaller conductance matrix (--g)";
  const double mn = m * n;
  std::vector<MemoryTerm> t;
  const std::string c = cfg.command;
  if (c == "netlist") {
    t.push_back({kDouble * mn, size_key, "conductances, 8 x M x N bytes", array_advice});
    t.push_back({kElementBytes * kElementsPerCell * mn, size_key, "circuit elements, 96 x M x N bytes", array_advice});
    return t;
  }
  if (c == "program") {
    t.push_back({4 * kDouble * mn, size_key, "target, programmed conductances and stuck mask, 32 x M x N bytes",
                 array_advice});
    return t;
  }
  t.push_back({2 * kDouble * mn, size_key, "conductances, 16 x M x N bytes", array_advice});
  t.push_back({kSolverVectors * kDouble * 2 * mn, size_key, "solver vectors of 2MN unknowns, 64 x M x N bytes",
               array_advice});
  if (c == "solve" || c == "check") {
    const std::string k_key = cfg.v_path.empty() ? "v-read" : "v";
    const std::string k_advice = cfg.v_path.empty() ? array_advice : "fewer input vectors in --v";
    t.push_back({2 * kDouble * k * (m + n), k_key, "inputs and currents, 16 x K x (M + N) bytes", k_advice});
    // Every node voltage of every input is held twice: by the solver's solution and by the
    // array written (measured: a 256 x 256 solve of 2000 inputs with --save-voltages peaks at
    // 4.37 GB, 32 x K x M x N = 4.19 GB); check holds both back ends' solutions.
    if (c == "check" || cfg.save_voltages)
      t.push_back({2 * kDouble * 2 * k * mn, c == "check" ? k_key : "save-voltages",
                   c == "check" ? "node voltages of both back ends, 32 x K x M x N bytes"
                                : "saved voltages, solved and written, 32 x K x M x N bytes",
                   c == "check" ? k_advice : "fewer input vectors in --v, or no --save-voltages"});
    return t;
  }
  // calibrate, size: the effective matrix, the map and its flags next to G.
  t.push_back({3 * kDouble * mn, size_key, "effective matrix, map and unreachable flags, 24 x M x N bytes",
               array_advice});
  const double heldout = double(cfg.eval.heldout), calib_inputs = double(cfg.eval.calib_inputs);
  t.push_back({kDouble * heldout * (m + 4 * n), "heldout",
               "held-out inputs and currents (ideal, uncompensated, compensated, calibrated), 8 x heldout x (M + 4N) bytes",
               "fewer held-out inputs (--heldout)"});
  t.push_back({kDouble * calib_inputs * (m + 2 * n), "calib-inputs",
               "calibration inputs and currents, 8 x calib-inputs x (M + 2N) bytes",
               "fewer calibration inputs (--calib-inputs)"});
  return t;
}

void require_input_file(const std::string& path, const std::string& key) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    throw InputError(path + ": cannot open for reading (key " + key + "): " + std::strerror(errno));
  if (S_ISDIR(info.st_mode))
    throw InputError(path + ": cannot open for reading (key " + key + "): it is a directory (expected a file)");
  if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode) || S_ISSOCK(info.st_mode))
    throw InputError(path + ": cannot open for reading (key " + key +
                     "): it is a device, not a file (expected a regular file or a pipe)");
  if (::access(path.c_str(), R_OK) != 0)
    throw InputError(path + ": cannot open for reading (key " + key + "): " + std::strerror(errno));
}

void require_input_directory(const std::string& path, const std::string& key) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    throw InputError(path + ": cannot open (key " + key + "): " + std::strerror(errno));
  if (!S_ISDIR(info.st_mode)) throw InputError(path + ": cannot open (key " + key + "): not a directory");
}

double parse_memory_size(const std::string& text) {
  if (text == "auto") return 0;
  const std::string bad = "key max-memory = '" + text +
                          "': expected auto (this machine's memory) or a size in bytes > 0, e.g. 8G, 512M, 2e9";
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw InputError(bad);
  }
  std::string suffix = text.substr(used);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  if (suffix.size() == 2 && (suffix[1] == 'i' || suffix[1] == 'I')) suffix.pop_back();
  double scale = 1;
  if (suffix.size() == 1) {
    const std::string units = "KMGT";
    const size_t u = units.find(char(std::toupper(static_cast<unsigned char>(suffix[0]))));
    if (u == std::string::npos) throw InputError(bad);
    scale = std::pow(1024.0, double(u + 1));
  } else if (!suffix.empty()) {
    throw InputError(bad);
  }
  v *= scale;
  if (!std::isfinite(v) || !(v > 0)) throw InputError(bad);
  return v;
}

double memory_bound_bytes(double bytes) {
  if (bytes > 0) return bytes;
  // Read once: it does not change while the process runs, and a sweep asks once per point.
  static const double machine = machine_memory_bytes();
  return machine;
}

void preflight(const RunConfig& cfg) {
  const std::string& c = cfg.command;
  if (cfg.out.empty()) throw InputError("key out: " + c + " needs --out " + (c == "netlist" ? "FILE.cir" : "DIR"));
  for (const std::string& f : output_files(cfg)) io::require_output_file_path(f);
  if (c == "check") {
    if (!(cfg.tol > 0)) throw InputError("key tol = " + format_number(cfg.tol) + ": must be > 0");
    if (cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
      throw InputError("key backend = ngspice: check compares a native back end (native, cholmod "
                       "or klu) against ngspice");
  }
  if ((c == "calibrate" || c == "size") && cfg.solve.solver.backend == solvers::BackendChoice::kNgspice)
    throw InputError("key backend = ngspice: " + c + " needs a native back end (the effective "
                     "matrix comes from one factorization, the nonlinear maps from many Newton solves); "
                     "check a map against ngspice with `xbar check --g`");
  if (!cfg.deck_path.empty()) {
    require_input_file(cfg.deck_path, "deck");
    return;  // the deck is the whole input; its reader bounds it
  }
  devices::make_cell_model(cfg.cell, cfg.cell_params);
  netlists::CrossbarSpec spec = cfg.spec;
  // The array's shape comes from its matrix file: conductances (--g) or, for flash cells,
  // thresholds (--vth).
  const bool from_vth = cfg.g_path.empty() && !cfg.vth_path.empty();
  const std::string& matrix_path = from_vth ? cfg.vth_path : cfg.g_path;
  const std::string matrix_key = from_vth ? "vth" : "g";
  const std::string matrix_what = from_vth ? "threshold matrix" : "conductance matrix";
  if (!matrix_path.empty()) {
    require_input_file(matrix_path, matrix_key);
    const io::NpyInfo g = io::read_npy_info(matrix_path);
    if (g.shape.size() != 2)
      throw InputError(matrix_path + ": " + matrix_what + " --" + matrix_key + ": expected shape (M, N), got " +
                       io::shape_to_string(g.shape));
    if (g.shape[0] < 1 || g.shape[1] < 1)
      throw InputError(matrix_path + ": " + matrix_what + " has shape " + io::shape_to_string(g.shape) +
                       ", expected at least 1 row and 1 column");
    if (cfg.rows_given && g.shape[0] != cfg.spec.rows)
      throw InputError("key rows = " + std::to_string(cfg.spec.rows) + " disagrees with --" + matrix_key + " '" +
                       matrix_path + "', which has M = " + std::to_string(g.shape[0]) + " rows");
    if (cfg.cols_given && g.shape[1] != cfg.spec.cols)
      throw InputError("key cols = " + std::to_string(cfg.spec.cols) + " disagrees with --" + matrix_key + " '" +
                       matrix_path + "', which has N = " + std::to_string(g.shape[1]) + " columns");
    spec.rows = g.shape[0];
    spec.cols = g.shape[1];
  } else if (c != "size") {
    if (!(cfg.g_off_s >= 0) || !std::isfinite(cfg.g_off_s))
      throw InputError("key g-off = " + format_number(cfg.g_off_s) + ": must be finite and >= 0 S");
    if (!(cfg.g_on_s >= cfg.g_off_s) || !std::isfinite(cfg.g_on_s))
      throw InputError("key g-on = " + format_number(cfg.g_on_s) + ": must be finite and >= g-off (" +
                       format_number(cfg.g_off_s) + " S)");
  }
  detail::check_conductance_bounds(cfg);
  double k = 1;
  if (c == "program") {
    if (spec.rows < 1 || spec.cols < 1)
      throw InputError("keys rows x cols = " + std::to_string(spec.rows) + " x " + std::to_string(spec.cols) +
                       ": must be >= 1");
    if (!cfg.level_table_path.empty()) require_input_file(cfg.level_table_path, "level-table");
    if (!cfg.stuck_mask_path.empty()) {
      require_input_file(cfg.stuck_mask_path, "stuck-mask");
      io::read_npy_info(cfg.stuck_mask_path);
    }
    devices::ProgrammingOptions opt = cfg.programming;
    opt.seed = cfg.seed;
    opt.levels.table_s.clear();  // the table is read by the run; its values are checked there
    opt.validate();
  } else {
    if (c == "size") {
      const auto [m, n] = largest_size(cfg);
      spec.rows = int64_t(m);
      spec.cols = int64_t(n);
    }
    spec.validate();
    if (!cfg.v_path.empty()) {
      require_input_file(cfg.v_path, "v");
      const io::NpyInfo v = io::read_npy_info(cfg.v_path);
      const bool vector = v.shape.size() == 1 && v.shape[0] == spec.rows;
      const bool batch = v.shape.size() == 2 && v.shape[1] == spec.rows;
      if (!vector && !batch)
        throw InputError(cfg.v_path + ": row voltages --v: expected shape (M,) = (" + std::to_string(spec.rows) +
                         ",) or (K, M) = (any, " + std::to_string(spec.rows) + "), got " + io::shape_to_string(v.shape));
      if (batch && v.shape[0] < 1) throw InputError(cfg.v_path + ": holds no input vectors (K = 0)");
      k = batch ? double(v.shape[0]) : 1;
    } else if (!std::isfinite(cfg.v_read_v)) {
      throw InputError("key v-read = " + format_number(cfg.v_read_v) + ": must be finite (volts)");
    }
  }
  check_memory(cfg, double(spec.rows), double(spec.cols), k);
}

}  // namespace xbar::engine::commands
