// `xbar --help`, `xbar SUB --help` and `xbar` without arguments, compared byte for byte with the
// texts in tests/data/help/ (the CLI contract of DESIGN.md: users and scripts rely on the key
// names, units and defaults listed there). The golden files were written by the executable
// before the engine was split into rooms (issue 16), so this test proves the split kept every
// key, default and help text.
//
// A deliberate change to a key, a default or a help text changes these files too: rebuild,
// then regenerate them and review the diff before committing it:
//
//   tests/data/help/regenerate.sh build
//
// The tool version names the git commit, so it is stored as @VERSION@ and substituted here.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/engine/cli_harness.h"

#ifndef XBAR_TEST_DATA
#error "XBAR_TEST_DATA (path of tests/data) must be defined by the build"
#endif

namespace xbar::cli_test {
namespace {

// Every occurrence of `what` in `text` replaced by `with`.
std::string replace_all(std::string text, const std::string& what, const std::string& with) {
  if (what.empty()) return text;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + with.size()))
    text.replace(p, what.size(), with);
  return text;
}

// The version string of the executable under test ("0.1.0+abc1234[-dirty]").
std::string tool_version(const Scratch& s) {
  const Run r = run_xbar(s, {"--version"});
  REQUIRE(r.status == 0);
  const std::string prefix = "xbar ";
  REQUIRE(r.out.rfind(prefix, 0) == 0);
  std::string v = r.out.substr(prefix.size());
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  REQUIRE(!v.empty());
  return v;
}

std::string golden(const std::string& name) {
  const fs::path path = fs::path(XBAR_TEST_DATA) / "help" / (name + ".txt");
  REQUIRE_MESSAGE(fs::exists(path), "missing golden file " << path);
  return read_all(path);
}

// The first line where two texts differ, for a readable failure message.
std::string first_difference(const std::string& got, const std::string& want) {
  std::istringstream a(got), b(want);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool ha = bool(std::getline(a, la)), hb = bool(std::getline(b, lb));
    if (!ha && !hb) return "texts differ only in their line endings";
    if (!ha || !hb || la != lb)
      return "line " + std::to_string(line) + ":\n  got:      " + (ha ? la : "<end>") +
             "\n  expected: " + (hb ? lb : "<end>");
  }
}

}  // namespace

TEST_CASE("xbar --help and every xbar SUB --help print the golden text byte for byte, exit 0") {
  Scratch s;
  const std::string version = tool_version(s);
  struct Case {
    std::vector<std::string> args;
    std::string file;
  };
  std::vector<Case> cases = {
      {{"--help"}, "xbar"},
      {{"netlist", "--help"}, "netlist"},
      {{"solve", "--help"}, "solve"},
      {{"check", "--help"}, "check"},
      {{"program", "--help"}, "program"},
      {{"calibrate", "--help"}, "calibrate"},
      {{"size", "--help"}, "size"},
      {{"sweep", "--help"}, "sweep"},
      {{"train", "--help"}, "train"},
      {{"evaluate", "--help"}, "evaluate"},
      {{"transient", "--help"}, "transient"},
      {{"ppa", "--help"}, "ppa"},
  };
#ifdef XBAR_HAVE_PYTHON
  // The help of python3 -m xbar.optimize (argparse at a fixed width), which the subcommand runs.
  cases.push_back({{"optimize", "--help"}, "optimize"});
#endif
  for (const Case& c : cases) {
    CAPTURE(c.file);
    const Run r = run_xbar(s, c.args);
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    const std::string got = replace_all(r.out, version, "@VERSION@");
    const std::string want = golden(c.file);
    CHECK_MESSAGE(got == want, "`xbar " << c.args[0] << (c.args.size() > 1 ? " " + c.args[1] : "")
                                        << "` differs from tests/data/help/" << c.file << ".txt at "
                                        << first_difference(got, want));
  }
}

TEST_CASE("xbar without a subcommand prints the general help on stderr and exits 2") {
  Scratch s;
  const std::string version = tool_version(s);
  const Run r = run_xbar(s, {});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  const std::string got = replace_all(r.err, version, "@VERSION@");
  const std::string want = golden("no_arguments");
  CHECK_MESSAGE(got == want, "stderr differs from tests/data/help/no_arguments.txt at "
                                 << first_difference(got, want));
}

}  // namespace xbar::cli_test
