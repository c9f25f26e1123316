#include "solvers/ngspice_backend.h"

#include <ngspice/sharedspice.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
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
std::once_flag g_ngspice_init;

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


void command(const std::string& cmd) {
  std::vector<char> buf(cmd.begin(), cmd.end());
  buf.push_back('\0');
  ngSpice_Command(buf.data());
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

}  // namespace

NgspiceSolution NgspiceBackend::solve(const Circuit& circuit, const Eigen::MatrixXd& s) {
  std::lock_guard<std::mutex> lock(g_ngspice_mutex);
  Capture cap;
  g_capture = &cap;
  struct Release {
    ~Release() {
      command("remcirc");
      command("destroy all");
      g_capture = nullptr;
    }
  } release;
  if (g_ngspice_dead)
    throw NumericalError("ngspice asked to exit earlier in this process and cannot be "
                         "restarted; run again in a new process");
  std::call_once(g_ngspice_init, [] {
    ngSpice_Init(on_print, on_status, on_exit, nullptr, nullptr, nullptr, nullptr);
  });
  command("remcirc");
  command("destroy all");
  cap.log.clear();
  cap.errors.clear();

  NgspiceSolution out;
  const auto sources = circuit.source_indices();
  if (s.rows() != Eigen::Index(sources.size()))
    throw InputError("ngspice back end: " + std::to_string(s.rows()) + " source values for " +
                     std::to_string(sources.size()) + " sources");

  // Load the deck with the first input's source values.
  auto t0 = std::chrono::steady_clock::now();
  Circuit first = circuit;
  for (size_t k = 0; k < sources.size(); ++k)
    if (s.cols() > 0) first.mutable_elements()[sources[k]].value = s(Eigen::Index(k), 0);
  std::vector<std::string> header;
  netlists::SpiceWriteOptions wopt;
  wopt.add_op = false;  // the operating point is run as a command, once per input
  std::vector<std::string> lines = netlists::spice_lines(first, header, wopt);
  if (!options_.options.empty()) lines.insert(lines.end() - 1, ".options " + options_.options);
  std::vector<char*> ptrs;
  ptrs.reserve(lines.size() + 1);
  for (auto& l : lines) ptrs.push_back(l.data());
  ptrs.push_back(nullptr);
  const int rc = ngSpice_Circ(ptrs.data());
  out.load_s = seconds_since(t0);
  if (rc != 0 || !cap.errors.empty() || cap.exited)
    throw NumericalError("ngspice rejected the deck: " + join_errors(cap));

  const int32_t n_nodes = circuit.num_nodes();
  out.node_voltages.resize(n_nodes, s.cols());
  out.source_currents.resize(Eigen::Index(sources.size()), s.cols());
  std::vector<std::string> node_names(static_cast<size_t>(n_nodes));
  for (int32_t v = 0; v < n_nodes; ++v) node_names[size_t(v)] = circuit.node_name(v);

  for (Eigen::Index col = 0; col < s.cols(); ++col) {
    t0 = std::chrono::steady_clock::now();
    if (col > 0)
      for (size_t k = 0; k < sources.size(); ++k)
        if (s(Eigen::Index(k), col) != s(Eigen::Index(k), col - 1))
          command("alter " + netlists::spice_element_name(circuit, sources[k]) + " = " +
                  format_value(s(Eigen::Index(k), col)));
    command("op");
    out.solve_s += seconds_since(t0);
    if (!cap.errors.empty() || cap.exited)
      throw NumericalError("ngspice operating point failed: " + join_errors(cap));

    // Index the plot's vectors by name once, then copy values out.
    t0 = std::chrono::steady_clock::now();
    char* plot = ngSpice_CurPlot();
    std::unordered_map<std::string, double> values;
    for (char** v = ngSpice_AllVecs(plot); v && *v; ++v) {
      const std::string name = std::string(plot) + "." + *v;
      std::vector<char> buf(name.begin(), name.end());
      buf.push_back('\0');
      pvector_info info = ngGet_Vec_Info(buf.data());
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
              ? fetch(netlists::spice_element_name(circuit, sources[k]) + "#branch")
              : s(Eigen::Index(k), col);
    }
    out.read_s += seconds_since(t0);
  }
  out.log = cap.log;
  out.version = "ngspice-" NGSPICE_PACKAGE_VERSION " (sharedspice.h)";
  return out;
}

}  // namespace xbar::solvers
