// Test helpers for running the real `xbar` binary in a scratch directory.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace xbar::test {

// A fresh directory under /tmp, removed with everything in it at the end of the scope.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    char tmpl[] = "/tmp/xbar-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~ScratchDir() { std::filesystem::remove_all(path); }
};

// Runs `xbar ARGS` (args already shell-safe) inside d; returns the exit status (-1 if killed)
// and, when err is given, what it printed on stderr.
inline int run_xbar(const ScratchDir& d, const std::string& args, std::string* err = nullptr) {
  const std::string cmd = "cd " + d.path.string() + " && " + XBAR_BINARY + " " + args +
                          " >/dev/null 2>" + (d.path / "err.txt").string();
  const int raw = std::system(cmd.c_str());
  if (err) {
    std::ifstream in(d.path / "err.txt");
    std::stringstream ss;
    ss << in.rdbuf();
    *err = ss.str();
  }
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

inline nlohmann::json load_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace xbar::test
