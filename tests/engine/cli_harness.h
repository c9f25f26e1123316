// Running the real `xbar` executable in a scratch directory, for the CLI tests
// (cli_test.cc, bad_input_test.cc): exit status, stdout and stderr captured; .npy fixtures
// written with the project's writer or, for layouts it never produces, byte by byte.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"

#ifndef XBAR_BINARY
#error "XBAR_BINARY (path of the xbar executable) must be defined by the build"
#endif

namespace xbar::cli_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

// --- scratch directory and process running ------------------------------------------------

// A fresh mkdtemp directory per test, removed afterwards. xbar runs with `work()` as its
// current directory (so messages name short relative paths); captured stdout/stderr go to
// the root, outside `work()`, so that they never show up in listings of output directories.
class Scratch {
 public:
  Scratch() {
    std::string tmpl = (fs::temp_directory_path() / "xbar_cli_test_XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE_MESSAGE(::mkdtemp(buf.data()) != nullptr, "mkdtemp failed: " << std::strerror(errno));
    root_ = buf.data();
    fs::create_directory(root_ / "work");
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  fs::path root() const { return root_; }
  fs::path work() const { return root_ / "work"; }
  std::string file(const std::string& name) const { return (work() / name).string(); }

 private:
  fs::path root_;
};

inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

struct Run {
  int status = -1;  // exit status; -1 if killed by a signal
  std::string out;
  std::string err;
};

// Runs `program args...` in s.work(), stdout and stderr captured to files.
// Longest a single xbar run in the CLI tests may take (the slowest takes a few seconds).
constexpr int kRunTimeoutSeconds = 600;

inline Run run_program(const Scratch& s, const std::string& program, const std::vector<std::string>& args) {
  const fs::path out = s.root() / "stdout.txt", err = s.root() / "stderr.txt";
  // A hang (e.g. the Boost error-formatting loop the INI fuzzer found) fails the test with
  // status 124 instead of stalling the suite.
  std::string cmd = "cd " + shell_quote(s.work().string()) + " && timeout -k 10 " +
                    std::to_string(kRunTimeoutSeconds) + " " + shell_quote(program);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string()) + " </dev/null";
  const int raw = std::system(cmd.c_str());
  Run r;
  r.status = (raw != -1 && WIFEXITED(raw)) ? WEXITSTATUS(raw) : -1;
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

inline Run run_xbar(const Scratch& s, const std::vector<std::string>& args) {
  return run_program(s, XBAR_BINARY, args);
}

inline json read_json(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  return json::parse(in);
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

// --- arrays --------------------------------------------------------------------------------

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> a;  // row-major
  double operator()(int64_t i, int64_t j) const { return a[size_t(i * cols + j)]; }
  double& operator()(int64_t i, int64_t j) { return a[size_t(i * cols + j)]; }
};

// Uniform in [lo, hi], from a fixed seed (53-bit mapping spelled out: same numbers everywhere).
inline Matrix random_matrix(int64_t rows, int64_t cols, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Matrix m{rows, cols, std::vector<double>(size_t(rows * cols))};
  for (auto& x : m.a) x = lo + (hi - lo) * (double(rng() >> 11) * 0x1.0p-53);
  return m;
}

// Fixtures may hold NaN and infinities on purpose (bad-input cases): kAllow.
inline void save(const std::string& path, const Matrix& m) {
  xbar::engine::io::write_npy(path, m.a.data(), {m.rows, m.cols}, xbar::engine::io::NonFinite::kAllow);
}
inline void save_vector(const std::string& path, const std::vector<double>& v) {
  xbar::engine::io::write_npy(path, v.data(), {int64_t(v.size())}, xbar::engine::io::NonFinite::kAllow);
}

// An .npy file with any header, for the layouts write_npy never produces.
inline void write_raw_npy(const std::string& path, const std::string& descr, bool fortran_order,
                   const std::vector<int64_t>& shape, const std::string& payload) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " +
                     (fortran_order ? "True" : "False") +
                     ", 'shape': " + xbar::engine::io::shape_to_string(shape) + ", }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += char(1);
  bytes += char(0);
  bytes += char(dict.size() & 0xff);
  bytes += char(dict.size() >> 8);
  write_text(path, bytes + dict + payload);
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// Every file in a directory with its bytes (to prove an output directory was not touched).
inline std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    files[entry.path().filename().string()] = read_all(entry.path());
  return files;
}


}  // namespace xbar::cli_test
