#include "solvers/ngspice_backend.h"

#include <dlfcn.h>
#include <ngspice/sharedspice.h>

#include <cctype>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <type_traits>
#include <sstream>
#include <unordered_map>

#include "support/input_error.h"
#include "solvers/stopwatch.h"
#include "netlists/spice_writer.h"

namespace xbar::solvers {

using internal::seconds_since;

using netlists::Circuit;
using netlists::ElementKind;

namespace {

// libngspice is one global simulator per process; this lock and the capture pointer mirror
// that global state (the one exception to "no mutable statics", forced by the library).
std::mutex g_ngspice_mutex;

struct Capture {
  std::string log;
  std::vector<std::string> errors;
  bool exited = false;
};
Capture* g_capture = nullptr;  // guarded by g_ngspice_mutex
// Set once ngspice has asked to exit: libngspice cannot be re-initialized in this process.
bool g_ngspice_dead = false;   // guarded by g_ngspice_mutex

// ngspice reports some failures only as warnings and then returns an answer anyway: a
// singular matrix "solved" by gmin or source stepping is garbage for a linear deck, where
// plain Newton converges in one step. Lines containing these words are failures.
bool is_failure(const std::string& line) {
  static const char* const kWords[] = {"error", "singular", "gmin stepping", "source stepping",
                                       "iteration limit", "too small", "failed"};
  std::string lower = line;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* w : kWords)
    if (lower.find(w) != std::string::npos) return true;
  return false;
}

int on_print(char* text, int, void*) {
  if (!g_capture || !text) return 0;
  std::string line(text);
  g_capture->log += line + "\n";
  // ngspice prefixes each line with its stream ("stdout " / "stderr ").
  const std::string body = line.size() > 7 ? line.substr(7) : line;
  if (is_failure(body)) g_capture->errors.push_back(body);
  return 0;
}
int on_status(char*, int, void*) { return 0; }
int on_exit(int, NG_BOOL, NG_BOOL, int, void*) {
  g_ngspice_dead = true;
  if (g_capture) g_capture->exited = true;
  return 0;
}


// libngspice is opened with dlopen the first time a Session starts, not linked: linked, the
// loader mapped and relocated its 7.6 MB into every xbar process, `xbar solve` of a 64 x 64
// array included, although only the ngspice back end (check, --backend ngspice, the transient
// referee) ever calls it. The six entry points used here are resolved by dlsym; their types
// come from sharedspice.h, so a changed signature fails to compile rather than to run.
struct NgspiceApi {
  decltype(&::ngSpice_Init) init = nullptr;
  decltype(&::ngSpice_Command) command = nullptr;
  decltype(&::ngSpice_Circ) circ = nullptr;
  decltype(&::ngSpice_CurPlot) cur_plot = nullptr;
  decltype(&::ngSpice_AllVecs) all_vecs = nullptr;
  decltype(&::ngGet_Vec_Info) vec_info = nullptr;
};

// The shared library's names: $XBAR_NGSPICE_LIBRARY alone when set (a path or a name the
// loader searches), else the soname of Debian's libngspice0 and the development symlink.
std::vector<std::string> library_candidates() {
  if (const char* env = std::getenv("XBAR_NGSPICE_LIBRARY"); env && *env) return {env};
  return {"libngspice.so.0", "libngspice.so"};
}

// Opens libngspice and resolves the entry points; throws NumericalError (exit 4, "ngspice
// failure") naming every library tried and the loader's reason. Called under g_ngspice_mutex.
NgspiceApi open_ngspice() {
  std::string tried;
  for (const std::string& name : library_candidates()) {
    // RTLD_LOCAL: ngspice's symbols stay out of the global namespace (they are many, and
    // generic: "cp_...", "if_..."); it reaches its code models through its own tables.
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = dlerror();  // names the file
      tried += "\n  " + (why ? std::string(why) : name + ": not loadable");
      continue;
    }
    NgspiceApi api;
    std::string missing;
    auto resolve = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, symbol));
      if (!fn) missing += std::string(missing.empty() ? "" : ", ") + symbol;
    };
    resolve(api.init, "ngSpice_Init");
    resolve(api.command, "ngSpice_Command");
    resolve(api.circ, "ngSpice_Circ");
    resolve(api.cur_plot, "ngSpice_CurPlot");
    resolve(api.all_vecs, "ngSpice_AllVecs");
    resolve(api.vec_info, "ngGet_Vec_Info");
    if (missing.empty()) return api;  // never closed: ngspice cannot be unloaded and reloaded
    tried += "\n  " + name + ": not ngspice's shared library (no " + missing + ")";
    dlclose(h);
  }
  throw NumericalError("the ngspice back end needs libngspice (Debian package libngspice0; "
                       "XBAR_NGSPICE_LIBRARY=PATH chooses the file), which could not be loaded:" + tried);
}

// The entry points, valid once a Session has started (g_ngspice_mutex held).
NgspiceApi g_api;          // guarded by g_ngspice_mutex
bool g_api_open = false;   // guarded by g_ngspice_mutex

void command(const std::string& cmd) {
  std::vector<char> buf(cmd.begin(), cmd.end());
  buf.push_back('\0');
  g_api.command(buf.data());
}

std::string join_errors(const Capture& cap) {
  std::string s;
  for (const auto& e : cap.errors) s += (s.empty() ? "" : "; ") + e;
  return s.empty() ? "(no message)" : s;
}

std::string format_value(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// True when ngspice gives the name back unchanged as a vector name: a letter or '_', then
// letters, digits and '_'. Others do not come back as written: a numeric node "1" is the vector
// "V(1)", a node "v1#branch" collides with the branch current of v1, and punctuation may be
// parsed by `alter` or by the vector lookup (issue 17).
bool spice_plain_name(const std::string& name) {
  if (name.empty() || !(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (const char ch : name)
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
      return false;
  return true;
}

// `c` with every node and explicitly named element whose name is not plain renamed to a
// generated plain one ("xbar_n<id>", "<letter>xbar_e<k>"; underscores prepended until no name
// of the circuit has it). Ids, indices and values are unchanged, so the results map back by
// position; a crossbar's generated names are all plain and nothing is copied twice.
Circuit with_plain_names(const Circuit& c) {
  Circuit out = c;
  const int64_t first_named = (c.has_cell_nodes() ? 3 : 2) * int64_t(c.grid_rows()) * c.grid_cols();
  for (int32_t v = int32_t(first_named); v < c.num_nodes(); ++v) {
    if (spice_plain_name(c.node_name(v))) continue;
    std::string name = "xbar_n" + std::to_string(v);
    while (out.find_node(name) != -2) name = "_" + name;
    out.rename_node(v, name);
  }
  std::unordered_map<std::string, size_t> taken;  // built only when an element needs a new name
  for (size_t k = 0; k < c.elements().size(); ++k) {
    if (c.elements()[k].role != netlists::Role::kNamed || spice_plain_name(c.element_name(k))) continue;
    if (taken.empty())
      for (size_t e = 0; e < c.elements().size(); ++e) taken.emplace(c.element_name(e), e);
    const std::string letter = c.element_name(k).substr(0, 1);  // the kind, for ngspice
    std::string name = letter + "xbar_e" + std::to_string(k);
    while (taken.count(name)) name.insert(1, "_");
    taken.emplace(name, k);
    out.rename_element(k, name);
  }
  return out;
}

// One use of libngspice: holds the process-wide lock, routes the console into `cap`, starts
// from a clean slate and cleans up after itself.
class Session {
 public:
  Session() : lock_(g_ngspice_mutex) {
    g_capture = &cap;
    if (g_ngspice_dead) {
      g_capture = nullptr;
      throw NumericalError("ngspice asked to exit earlier in this process and cannot be "
                           "restarted; run again in a new process");
    }
    if (!g_api_open) {
      try {
        g_api = open_ngspice();
      } catch (...) {
        g_capture = nullptr;
        throw;
      }
      g_api_open = true;
      g_api.init(on_print, on_status, on_exit, nullptr, nullptr, nullptr, nullptr);
    }
    command("remcirc");
    command("destroy all");
    cap.log.clear();
    cap.errors.clear();
  }
  ~Session() {
    command("remcirc");
    command("destroy all");
    g_capture = nullptr;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Capture cap;

 private:
  std::lock_guard<std::mutex> lock_;
};

// Hands a complete deck to ngSpice_Circ; throws NumericalError when ngspice rejects it.
void load_deck(std::vector<std::string>& lines, const Capture& cap) {
  std::vector<char*> ptrs;
  ptrs.reserve(lines.size() + 1);
  for (auto& l : lines) ptrs.push_back(l.data());
  ptrs.push_back(nullptr);
  const int rc = g_api.circ(ptrs.data());
  if (rc != 0 || !cap.errors.empty() || cap.exited)
    throw NumericalError("ngspice rejected the deck: " + join_errors(cap));
}

}  // namespace

NgspiceTransient NgspiceBackend::run_transient(std::vector<std::string> deck,
                                               const std::vector<std::string>& vectors) {
  Session session;
  const Capture& cap = session.cap;
  NgspiceTransient out;
  auto t0 = std::chrono::steady_clock::now();
  if (!options_.options.empty()) deck.insert(deck.end() - 1, ".options " + options_.options);
  load_deck(deck, cap);
  out.load_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  command("run");
  out.run_s = seconds_since(t0);
  if (!cap.errors.empty() || cap.exited)
    throw NumericalError("ngspice transient analysis failed: " + join_errors(cap));
  t0 = std::chrono::steady_clock::now();
  const std::string plot = g_api.cur_plot();
  auto fetch = [&](const std::string& name) {
    const std::string full = plot + "." + name;
    std::vector<char> buf(full.begin(), full.end());
    buf.push_back('\0');
    pvector_info info = g_api.vec_info(buf.data());
    if (!info || !info->v_realdata || info->v_length <= 0)
      throw NumericalError("ngspice result has no real vector '" + name + "' (plot " + plot + ")");
    const Eigen::Map<const Eigen::VectorXd> v(info->v_realdata, info->v_length);
    if (!v.allFinite()) throw NumericalError("ngspice returned a non-finite value in '" + name + "'");
    return Eigen::VectorXd(v);
  };
  out.times_s = fetch("time");
  out.vectors.resize(out.times_s.size(), Eigen::Index(vectors.size()));
  for (size_t k = 0; k < vectors.size(); ++k) {
    const Eigen::VectorXd v = fetch(vectors[k]);
    if (v.size() != out.times_s.size())
      throw NumericalError("ngspice vector '" + vectors[k] + "' has " + std::to_string(v.size()) +
                           " points, the time vector " + std::to_string(out.times_s.size()));
    out.vectors.col(Eigen::Index(k)) = v;
  }
  out.read_s = seconds_since(t0);
  out.log = cap.log;
  out.version = "ngspice-" NGSPICE_PACKAGE_VERSION " (sharedspice.h)";
  return out;
}

NgspiceSolution NgspiceBackend::solve(const Circuit& circuit, const Eigen::MatrixXd& s) {
  Session session;
  const Capture& cap = session.cap;

  NgspiceSolution out;
  const auto sources = circuit.source_indices();
  if (s.rows() != Eigen::Index(sources.size()))
    throw InputError("ngspice back end: " + std::to_string(s.rows()) + " source values for " +
                     std::to_string(sources.size()) + " sources");

  // Load the deck with the first input's source values.
  auto t0 = std::chrono::steady_clock::now();
  Circuit first = with_plain_names(circuit);
  for (size_t k = 0; k < sources.size(); ++k)
    if (s.cols() > 0) first.mutable_elements()[sources[k]].value = s(Eigen::Index(k), 0);
  std::vector<std::string> header;
  netlists::SpiceWriteOptions wopt;
  wopt.add_op = false;  // the operating point is run as a command, once per input
  std::vector<std::string> lines = netlists::spice_lines(first, header, wopt);
  if (!options_.options.empty()) lines.insert(lines.end() - 1, ".options " + options_.options);
  load_deck(lines, cap);
  out.load_s = seconds_since(t0);

  const int32_t n_nodes = circuit.num_nodes();
  out.node_voltages.resize(n_nodes, s.cols());
  out.source_currents.resize(Eigen::Index(sources.size()), s.cols());
  std::vector<std::string> node_names(static_cast<size_t>(n_nodes));
  for (int32_t v = 0; v < n_nodes; ++v) node_names[size_t(v)] = first.node_name(v);

  for (Eigen::Index col = 0; col < s.cols(); ++col) {
    t0 = std::chrono::steady_clock::now();
    if (col > 0)
      for (size_t k = 0; k < sources.size(); ++k)
        if (s(Eigen::Index(k), col) != s(Eigen::Index(k), col - 1))
          command("alter " + netlists::spice_element_name(first, sources[k]) + " = " +
                  format_value(s(Eigen::Index(k), col)));
    command("op");
    out.solve_s += seconds_since(t0);
    if (!cap.errors.empty() || cap.exited)
      throw NumericalError("ngspice operating point failed: " + join_errors(cap));

    // Index the plot's vectors by name once, then copy values out.
    t0 = std::chrono::steady_clock::now();
    char* plot = g_api.cur_plot();
    std::unordered_map<std::string, double> values;
    for (char** v = g_api.all_vecs(plot); v && *v; ++v) {
      const std::string name = std::string(plot) + "." + *v;
      std::vector<char> buf(name.begin(), name.end());
      buf.push_back('\0');
      pvector_info info = g_api.vec_info(buf.data());
      if (info && info->v_realdata && info->v_length > 0) values[*v] = info->v_realdata[0];
    }
    auto fetch = [&](const std::string& name) {
      auto it = values.find(name);
      if (it == values.end())
        throw NumericalError("ngspice result has no vector '" + name + "' (plot " + plot + ")");
      if (!std::isfinite(it->second))
        throw NumericalError("ngspice returned a non-finite value for '" + name + "'");
      return it->second;
    };
    for (int32_t v = 0; v < n_nodes; ++v) out.node_voltages(v, col) = fetch(node_names[size_t(v)]);
    for (size_t k = 0; k < sources.size(); ++k) {
      const auto& e = circuit.elements()[sources[k]];
      out.source_currents(Eigen::Index(k), col) =
          e.kind == ElementKind::kVoltageSource
              ? fetch(netlists::spice_element_name(first, sources[k]) + "#branch")
              : s(Eigen::Index(k), col);
    }
    out.read_s += seconds_since(t0);
  }
  out.log = cap.log;
  out.version = "ngspice-" NGSPICE_PACKAGE_VERSION " (sharedspice.h)";
  return out;
}

}  // namespace xbar::solvers
