// `xbar optimize` from the executable: the subcommand replaces itself with python3 running
// xbar.optimize (engine/cli/optimize_command.h), so its exit status, messages and outputs are
// the module's. The search itself is tested in python/tests/test_optimize.py; here, that the
// hand-over keeps arguments, exit codes and this build's package, and that a trial's figure
// is the one a direct `xbar calibrate` run of the same keys reports.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/engine/cli_harness.h"

namespace xbar::cli_test {
namespace {

#ifdef XBAR_HAVE_PYTHON

// One line per row of a CSV file, header first.
std::vector<std::string> csv_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_all(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

TEST_CASE("xbar optimize runs a study through python3 and its trial's error is xbar calibrate's") {
  Scratch s;
  write_text(s.work() / "s.ini",
             "rows = 4, 6\ncols = rows\nr-row = 2\nr-col = 2\nheldout = 30\nobjective = minimize max_lsb\n");
  const Run r = run_xbar(s, {"optimize", "--config", "s.ini", "--out", "o", "--sampler", "grid", "--quiet"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(r.err.empty());
  const std::vector<std::string> trials = csv_lines(s.work() / "o" / "trials.csv");
  REQUIRE(trials.size() == 3);  // the header and both grid points
  CHECK(trials[0].rfind("number,state,feasible,rows,cols,r-row,r-col,heldout,max_lsb,", 0) == 0);
  const json meta = read_json(s.work() / "o" / "result.json");
  CHECK(meta["n_trials"]["complete"] == 2);
  CHECK(meta["sampler"]["name"] == "grid");
  CHECK(meta["version"].get<std::string>() == read_json(s.work() / "o" / "trials" / "00000" / "calibrate" /
                                                        "result.json")["version"].get<std::string>());
  // The best trial (4 rows: the shorter lines drop less) against a direct run of its keys.
  const std::vector<std::string> pareto = csv_lines(s.work() / "o" / "pareto.csv");
  REQUIRE(pareto.size() == 2);
  const Run direct = run_xbar(s, {"calibrate", "--rows", "4", "--cols", "4", "--r-row", "2", "--r-col", "2",
                                  "--heldout", "30", "--quiet", "--out", "c"});
  REQUIRE(direct.status == 0);
  const double lsb = read_json(s.work() / "c" / "result.json")["errors"]["uncompensated"]["max_lsb"];
  std::istringstream row(pareto[1]);
  std::vector<std::string> cells;
  for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
  REQUIRE(cells.size() > 8);
  CHECK(cells[3] == "4");
  // Both are the shortest text that reads back as the same double: equal texts, equal bits.
  CHECK(std::stod(cells[8]) == lsb);
}

TEST_CASE("xbar optimize with a bad study exits 2 with one line naming the file and line, writing nothing") {
  Scratch s;
  write_text(s.work() / "s.ini", "rows = 4..8\nr-rwo = 1..2\nobjective = minimize max_lsb\n");
  const Run r = run_xbar(s, {"optimize", "--config", "s.ini", "--out", "o"});
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "xbar optimize: error: s.ini:2: unknown key 'r-rwo' (not a key of xbar calibrate, ppa, evaluate; "
                 "see xbar SUBCOMMAND --help)\n");
  CHECK(!fs::exists(s.work() / "o"));
}

TEST_CASE("xbar optimize names the interpreter it cannot start and exits 1") {
  Scratch s;
  const Run r = run_program(s, "env", {"XBAR_PYTHON=/nonexistent/python3", XBAR_BINARY, "optimize", "--help"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "xbar optimize: error: cannot start /nonexistent/python3"));
  CHECK(contains(r.err, "python3-optuna"));
}

#endif  // XBAR_HAVE_PYTHON

}  // namespace
}  // namespace xbar::cli_test
