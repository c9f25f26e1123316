// The Python scripts on sweep outputs (scripts/nightly_compare.py, scripts/nightly.py,
// scripts/plot_sweep.py): the regression check flags a planted regression and passes an
// unchanged CSV; the nightly driver runs a named sweep and compares it with the previous run;
// every plot writes a non-empty PNG from a small sweep's own outputs.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine/scratch_run.h"

namespace fs = std::filesystem;
using xbar::test::run_xbar;
using xbar::test::ScratchDir;

namespace {

// The first interpreter with Debian's python3-matplotlib and python3-numpy: $XBAR_PYTHON, then
// python3 on PATH, then the system one (a pyenv python3 on PATH may lack the Debian packages).
std::string find_python() {
  std::vector<std::string> candidates;
  if (const char* configured = std::getenv("XBAR_PYTHON")) candidates.push_back(configured);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& c : candidates)
    if (std::system(("'" + c + "' -c 'import numpy, matplotlib' >/dev/null 2>&1").c_str()) == 0) return c;
  return "";
}

const std::string kPython = find_python();
const std::string kScripts = kPython + " " + std::string(XBAR_SOURCE_DIR) + "/scripts/";

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command in d; returns the exit status, stdout+stderr in *out.
int sh(const ScratchDir& d, const std::string& cmd, std::string* out) {
  const std::string full = "cd " + d.path.string() + " && " + cmd + " >log.txt 2>&1";
  const int raw = std::system(full.c_str());
  *out = slurp(d.path / "log.txt");
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// A PNG file: the 8-byte signature and more than a few hundred bytes of image.
bool is_png(const fs::path& p) {
  if (!fs::exists(p) || fs::file_size(p) < 2000) return false;
  const std::string s = slurp(p).substr(0, 8);
  return s == std::string("\x89PNG\r\n\x1a\n", 8);
}

// The CSV text with `value` of `column` in row `id` replaced (columns found by the header).
std::string replace_field(const std::string& csv, const std::string& id, const std::string& column, const std::string& value) {
  std::stringstream in(csv), out;
  std::string line, header;
  std::getline(in, header);
  out << header << "\n";
  std::vector<std::string> cols;
  {
    std::stringstream h(header);
    std::string c;
    while (std::getline(h, c, ',')) cols.push_back(c);
  }
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream l(line);
    std::string c;
    while (std::getline(l, c, ',')) f.push_back(c);
    if (line.back() == ',') f.push_back("");
    if (f[0] == id)
      for (size_t k = 0; k < cols.size(); ++k)
        if (cols[k] == column) f[k] = value;
    for (size_t k = 0; k < f.size(); ++k) out << (k ? "," : "") << f[k];
    out << "\n";
  }
  return out.str();
}

std::string field(const std::string& csv, const std::string& id, const std::string& column) {
  std::stringstream in(csv);
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> cols;
  std::stringstream h(header);
  for (std::string c; std::getline(h, c, ',');) cols.push_back(c);
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream l(line);
    for (std::string c; std::getline(l, c, ',');) f.push_back(c);
    if (f[0] == id)
      for (size_t k = 0; k < cols.size(); ++k)
        if (cols[k] == column) return f[k];
  }
  return "";
}

// Calibrate at three square sizes and two wire resistances, with nightly tolerances.
const char* kCalibSweep =
    "command = calibrate\n"
    "rows = 8, 16, 24\ncols = 8, 16, 24\nzip = rows, cols\n"
    "r-row = 1, 2.5\nr-col = 2\n"
    "heldout = 50\ncalib-inputs = 20\n"
    "max-increase.comp_max_lsb = 0.05\n"
    "max-increase.uncomp_max_lsb = 2%\n"
    "max-decrease.comp_scale = 0.001\n";

}  // namespace

TEST_CASE("nightly_compare passes an unchanged CSV and flags a planted regression") {
  REQUIRE_MESSAGE(!kPython.empty(), "no python3 with numpy and matplotlib (apt-get install python3-numpy "
                                    "python3-matplotlib, or point XBAR_PYTHON at one)");
  ScratchDir d;
  write(d.path / "s.ini", kCalibSweep);
  REQUIRE(run_xbar(d, "sweep --config s.ini --out old --quiet") == 0);
  fs::copy(d.path / "old", d.path / "new", fs::copy_options::recursive);
  std::string out;
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 0);
  CHECK(out.find("6 rows against 6 in the baseline, 3 tolerance(s): 0 worse") != std::string::npos);

  const std::string csv = slurp(d.path / "old/sweep.csv");
  const double comp = std::stod(field(csv, "00003", "comp_max_lsb"));
  // Within the absolute tolerance (+0.04 <= 0.05): not a regression.
  write(d.path / "new/sweep.csv", replace_field(csv, "00003", "comp_max_lsb", std::to_string(comp + 0.04)));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 0);
  // Beyond it (+0.06): row 00003 is printed as worse, exit 1.
  write(d.path / "new/sweep.csv", replace_field(csv, "00003", "comp_max_lsb", std::to_string(comp + 0.06)));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 1);
  CHECK(out.find("WORSE 00003 (rows=16 cols=16 r-row=2.5") != std::string::npos);
  CHECK(out.find("comp_max_lsb:") != std::string::npos);
  CHECK(out.find(": 1 worse") != std::string::npos);
  // Relative tolerance: uncomp_max_lsb may rise by 2% of its value, not 3%.
  const double unc = std::stod(field(csv, "00000", "uncomp_max_lsb"));
  write(d.path / "new/sweep.csv", replace_field(csv, "00000", "uncomp_max_lsb", std::to_string(unc * 1.015)));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 0);
  write(d.path / "new/sweep.csv", replace_field(csv, "00000", "uncomp_max_lsb", std::to_string(unc * 1.03)));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 1);
  // Lower is worse for comp_scale; a better value is fine.
  write(d.path / "new/sweep.csv", replace_field(csv, "00005", "comp_scale", "0.5"));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 1);
  CHECK(out.find("WORSE 00005") != std::string::npos);
  write(d.path / "new/sweep.csv", replace_field(csv, "00001", "comp_max_lsb", "0"));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 0);
  // A point that fails now, and a row that disappeared.
  write(d.path / "new/sweep.csv", replace_field(csv, "00002", "status", "failed"));
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 1);
  CHECK(out.find("WORSE 00002") != std::string::npos);
  std::string fewer = csv.substr(0, csv.rfind('\n', csv.size() - 2) + 1);  // last row dropped
  write(d.path / "new/sweep.csv", fewer);
  CHECK(sh(d, kScripts + "nightly_compare.py old new", &out) == 1);
  CHECK(out.find("missing from the new sweep") != std::string::npos);
  // Bad input: not a sweep directory.
  CHECK(sh(d, kScripts + "nightly_compare.py old nowhere", &out) == 2);
}

TEST_CASE("nightly.py runs a named sweep, compares it with the previous night and fails on a regression") {
  REQUIRE_MESSAGE(!kPython.empty(), "no python3 with numpy and matplotlib (apt-get install python3-numpy "
                                    "python3-matplotlib, or point XBAR_PYTHON at one)");
  ScratchDir d;
  fs::create_directories(d.path / "sweeps");
  write(d.path / "sweeps/calib.ini", kCalibSweep);
  const std::string base = kScripts + "nightly.py calib --sweeps sweeps --runs runs --xbar " + XBAR_BINARY;
  std::string out;
  REQUIRE(sh(d, base + " --tag night1", &out) == 0);
  CHECK(out.find("nothing to compare with") != std::string::npos);
  REQUIRE(sh(d, base + " --tag night2", &out) == 0);
  CHECK(out.find("comparing runs/calib/night2 with runs/calib/night1") != std::string::npos);
  CHECK(out.find(": 0 worse") != std::string::npos);
  // Plant a much better night 1 for row 00004: night 3 reads as a regression there.
  const std::string csv1 = slurp(d.path / "runs/calib/night1/sweep.csv");
  write(d.path / "runs/calib/night1/sweep.csv", replace_field(csv1, "00004", "comp_max_lsb", "-1"));
  CHECK(sh(d, base + " --tag night3 --baseline runs/calib/night1", &out) == 1);
  CHECK(out.find("WORSE 00004") != std::string::npos);
  CHECK(sh(d, base.substr(0, base.find(" calib ")) + " nosuch --sweeps sweeps", &out) == 2);
  CHECK(out.find("no sweep 'nosuch'") != std::string::npos);
#ifdef XBAR_HAVE_MPI
  // The same night under mpirun (the launcher flags this machine needs).
  std::string extra = "--oversubscribe";
  REQUIRE(sh(d, base + " --tag night4 --np 2 --mpirun " + XBAR_MPIEXEC + " --mpirun-args=" + extra, &out) == 0);
  CHECK(out.find(": 0 worse") != std::string::npos);
#endif
}

TEST_CASE("plots: error vs size, accuracy vs wire resistance and node-voltage heat maps write PNGs") {
  REQUIRE_MESSAGE(!kPython.empty(), "no python3 with numpy and matplotlib (apt-get install python3-numpy "
                                    "python3-matplotlib, or point XBAR_PYTHON at one)");
  ScratchDir d;
  std::string out;
  // error vs array size, from a calibrate sweep ...
  write(d.path / "cal.ini", kCalibSweep);
  REQUIRE(run_xbar(d, "sweep --config cal.ini --out cal --quiet") == 0);
  CHECK(sh(d, kScripts + "plot_sweep.py error-vs-size cal --out err_cal.png", &out) == 0);
  CHECK(is_png(d.path / "err_cal.png"));
  // ... from a sweep of `size` (each point's size.csv) ...
  write(d.path / "size.ini", "command = size\nsizes = \"8,16\"\nr-row = 1, 3\nheldout = 30\ncalib-inputs = 20\nrefine = false\n");
  REQUIRE(run_xbar(d, "sweep --config size.ini --out sz --quiet") == 0);
  CHECK(sh(d, kScripts + "plot_sweep.py error-vs-size sz --out err_size.png", &out) == 0);
  CHECK(is_png(d.path / "err_size.png"));
  // ... and from one `xbar size` directory.
  CHECK(sh(d, kScripts + "plot_sweep.py error-vs-size sz/points/00000 --out err_one.png", &out) == 0);
  CHECK(is_png(d.path / "err_one.png"));
  // Node voltages of one solved array from a solve sweep with save-voltages.
  write(d.path / "solve.ini", "command = solve\nrows = 12\ncols = 9\nr-row = 2, 5\nsave-voltages = true\n");
  REQUIRE(run_xbar(d, "sweep --config solve.ini --out sol --quiet") == 0);
  CHECK(sh(d, kScripts + "plot_sweep.py voltages sol/points/00001/voltages.npy --out v.png", &out) == 0);
  CHECK(is_png(d.path / "v.png"));
  CHECK(out.find("wrote v.png") != std::string::npos);
  // Accuracy vs wire resistance: `evaluate` (issue 6) is not in this build, so a synthetic CSV
  // with accuracy.json's keys as columns, two seeds per resistance.
  write(d.path / "acc.csv",
        "id,r-row,command,seed,status,exit_code,software,ideal,uncompensated,compensated,hat,error,version,time_s,finished_utc\n"
        "00000,0.5,evaluate,1,ok,0,0.88,0.88,0.86,0.875,0.879,,v,1,t\n"
        "00001,0.5,evaluate,2,ok,0,0.88,0.88,0.85,0.872,0.878,,v,1,t\n"
        "00002,2.5,evaluate,1,ok,0,0.88,0.88,0.61,0.84,0.87,,v,1,t\n"
        "00003,2.5,evaluate,2,ok,0,0.88,0.88,0.58,0.83,0.868,,v,1,t\n"
        "00004,5,evaluate,1,ok,0,0.88,0.88,0.31,0.79,0.85,,v,1,t\n"
        "00005,5,evaluate,2,failed,2,,,,,,boom,v,1,t\n");
  CHECK(sh(d, kScripts + "plot_sweep.py accuracy-vs-r acc.csv --out acc.png", &out) == 0);
  CHECK(is_png(d.path / "acc.png"));
  // Bad input: a clear message, exit 2.
  CHECK(sh(d, kScripts + "plot_sweep.py voltages nowhere.npy", &out) == 2);
  CHECK(out.find("cannot read nowhere.npy") != std::string::npos);
  CHECK(sh(d, kScripts + "plot_sweep.py error-vs-size sol", &out) == 2);
  CHECK(out.find("a sweep of `solve`") != std::string::npos);
}
