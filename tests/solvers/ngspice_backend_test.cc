// solvers/ngspice_backend.cc opens libngspice with dlopen on first use (issue 21): a run that
// never asks for ngspice does not load it, one that does loads it, and a library that cannot
// be loaded fails the run as an ngspice failure (exit 4) naming the file, with no output
// written. What each process loaded is read from the dynamic loader's own report
// (LD_DEBUG=files: one "calling init: PATH" line per shared object it initialised). The
// answers themselves are checked against the native solvers in ngspice_agreement_test.cc.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/engine/cli_harness.h"

using namespace xbar::cli_test;

namespace {

// xbar ARGS with the loader's report on stderr.
Run run_reporting_loads(const Scratch& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"LD_DEBUG=files", XBAR_BINARY});
  return run_program(s, "env", args);
}

const std::vector<std::string> kDeckArray = {"--rows", "4", "--cols", "3", "--r-row", "2", "--quiet"};

}  // namespace

TEST_CASE("xbar solve loads libngspice only when the ngspice back end is asked for") {
  Scratch s;
  std::vector<std::string> native = {"solve", "--out", "native"}, ng = {"solve", "--backend", "ngspice", "--out", "ng"};
  native.insert(native.end(), kDeckArray.begin(), kDeckArray.end());
  ng.insert(ng.end(), kDeckArray.begin(), kDeckArray.end());
  const Run a = run_reporting_loads(s, native);
  REQUIRE_MESSAGE(a.status == 0, a.err);
  CHECK(contains(a.err, "calling init:"));  // the report is there to be read
  CHECK_FALSE(contains(a.err, "libngspice"));
  const Run b = run_reporting_loads(s, ng);
  REQUIRE_MESSAGE(b.status == 0, b.err);
  CHECK(contains(b.err, "libngspice"));
}

TEST_CASE("a libngspice that cannot be loaded is an ngspice failure naming the file, and nothing is written") {
  Scratch s;
  std::vector<std::string> args = {"XBAR_NGSPICE_LIBRARY=no-such-dir/libngspice.so.0", XBAR_BINARY, "solve",
                                   "--backend", "ngspice", "--out", "ng"};
  args.insert(args.end(), kDeckArray.begin(), kDeckArray.end());
  const Run r = run_program(s, "env", args);
  CHECK(r.status == 4);
  CHECK(contains(r.err, "numerical failure: the ngspice back end needs libngspice"));
  CHECK(contains(r.err, "no-such-dir/libngspice.so.0: cannot open shared object file"));
  CHECK(r.out.empty());
  CHECK(fs::is_empty(s.work()));
}
