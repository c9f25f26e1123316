// `xbar sweep` end to end, through the real binary: rows equal the individual subcommand runs
// they stand for, a SIGKILLed sweep resumes without losing or duplicating a row, `mpirun -np 2`
// writes the same CSV as one process, failing points are recorded without stopping the sweep,
// a changed INI is refused, and bad INIs are refused with file:line before anything is written;
// Open MPI is loaded only under mpirun, through the MPI module (issue 21).
#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/io/npy.h"
#include "tests/engine/scratch_run.h"

extern char** environ;

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::test::load_json;
using xbar::test::run_xbar;
using xbar::test::ScratchDir;

namespace {

struct Csv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<size_t> fields;  // number of fields of each row as read
};

// RFC 4180 reader (quoted fields, "" inside quotes), independent of the writer under test.
Csv read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::vector<std::string>> lines(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      lines.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      lines.back().push_back(field);
      field.clear();
      lines.emplace_back();
    } else {
      field += c;
    }
  }
  if (!field.empty() || !lines.back().empty()) lines.back().push_back(field);
  if (lines.back().empty()) lines.pop_back();
  Csv csv;
  if (lines.empty()) return csv;
  csv.header = lines[0];
  for (size_t l = 1; l < lines.size(); ++l) {
    std::map<std::string, std::string> row;
    for (size_t k = 0; k < lines[l].size() && k < csv.header.size(); ++k) row[csv.header[k]] = lines[l][k];
    csv.rows.push_back(row);
    csv.fields.push_back(lines[l].size());
  }
  return csv;
}

// The CSV without the columns that depend on when and where a point ran.
std::vector<std::map<std::string, std::string>> without_timing(Csv c) {
  for (auto& r : c.rows) {
    r.erase("time_s");
    r.erase("finished_utc");
  }
  return c.rows;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double number(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

int count_records(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  if (!fs::exists(dir / "points")) return 0;
  for (const auto& e : fs::directory_iterator(dir / "points", ec)) n += fs::exists(e.path() / "point.json");
  return n;
}

// mpirun, with the flags this machine needs: --oversubscribe (CI may have fewer cores than
// ranks, and ctest runs other tests beside this one) and --allow-run-as-root (CI runs as root).
std::string mpirun_prefix(int ranks) {
#ifdef XBAR_MPIEXEC
  std::string p = std::string(XBAR_MPIEXEC) + " -np " + std::to_string(ranks) + " --oversubscribe";
  if (geteuid() == 0) p += " --allow-run-as-root";
  return p + " ";
#else
  (void)ranks;
  return "";
#endif
}

// 8 points of about 0.1 s each on a quiet host (48^2 compensation maps): slow enough to kill
// half-way (the test polls every 2 ms), quick enough for CI.
const char* kSlowSweep =
    "command = calibrate\n"
    "rows = 48\ncols = 48\n"
    "r-row = 1:1:4\n"
    "r-col = 1, 2\n"
    "heldout = 200\n";

}  // namespace

TEST_CASE("sweep: every row equals the individual calibrate run it stands for") {
  ScratchDir d;
  write(d.path / "s.ini",
        "[grid]\ncommand = calibrate\nrows = 6, 9\ncols = 5, 7\nzip = rows, cols\nr-row = 1, 2.5\n"
        "heldout = 40\ncalib-inputs = 20   # small: seconds in CI\nsweep-seed = 11\n");
  REQUIRE(run_xbar(d, "sweep --config s.ini --out out --quiet") == 0);
  const Csv csv = read_csv(d.path / "out/sweep.csv");
  REQUIRE(csv.rows.size() == 4);
  std::set<std::string> seeds;
  for (const auto& row : csv.rows) {
    CHECK(row.at("status") == "ok");
    CHECK(row.at("command") == "calibrate");
    CHECK(row.at("version").size() > 0);
    seeds.insert(row.at("seed"));
    // The same point, run on its own with the seed the row records.
    const std::string dir = "ind" + row.at("id");
    REQUIRE(run_xbar(d, "calibrate --rows " + row.at("rows") + " --cols " + row.at("cols") + " --r-row " +
                            row.at("r-row") + " --heldout 40 --calib-inputs 20 --seed " + row.at("seed") +
                            " --quiet --out " + dir) == 0);
    const json r = load_json(d.path / dir / "result.json");
    // Bitwise: the CSV text reads back as exactly the double in the individual run's JSON.
    CHECK(number(row.at("uncomp_max_lsb")) == r["errors"]["uncompensated"]["max_lsb"].get<double>());
    CHECK(number(row.at("comp_max_lsb")) == r["errors"]["compensated"]["max_lsb"].get<double>());
    CHECK(number(row.at("comp_rms_lsb")) == r["errors"]["compensated"]["rms_lsb"].get<double>());
    CHECK(number(row.at("calib_max_lsb")) == r["errors"]["calibrated"]["max_lsb"].get<double>());
    CHECK(number(row.at("comp_scale")) == r["compensation"]["scale"].get<double>());
    CHECK(number(row.at("full_scale_a")) == r["errors"]["uncompensated"]["full_scale_a"].get<double>());
    CHECK(row.at("comp_iterations") == std::to_string(r["compensation"]["iterations"].get<int>()));
    CHECK(row.at("comp_converged") == (r["compensation"]["converged"].get<bool>() ? "1" : "0"));
    // and the point's own record and outputs sit in its directory
    const json rec = load_json(d.path / "out/points" / row.at("id") / "point.json");
    CHECK(rec["seed"].get<uint64_t>() == std::stoull(row.at("seed")));
    CHECK(rec["status"] == "ok");
    CHECK(rec["threads"] == 1);  // sweep-threads' default, whatever the number of ranks
    CHECK(fs::file_size(d.path / "out/points" / row.at("id") / "g_compensated.npy") > 0);
  }
  CHECK(seeds.size() == 4);  // derived seeds differ from point to point
  const json m = load_json(d.path / "out/sweep.json");
  CHECK(m["points"] == 4);
  CHECK(m["threads_per_point"] == 1);
  CHECK(m["runs"].size() == 1);
  CHECK(m["runs"][0]["points_run"] == 4);
  CHECK(m["runs"][0]["points_failed"] == 0);
  CHECK(m["swept_keys"] == json::array({"rows", "cols", "r-row"}));
}

TEST_CASE("sweep: solve points reproduce individual runs to the bit, currents and node voltages") {
  ScratchDir d;
  write(d.path / "s.ini",
        "command = solve\nrows = 5, 7\ncols = 6, 4\nzip = rows, cols\nseed = 3\nr-row = 2\nr-col = 1.5\n"
        "save-voltages = true\n");
  REQUIRE(run_xbar(d, "sweep --config s.ini --out out --quiet") == 0);
  const Csv csv = read_csv(d.path / "out/sweep.csv");
  REQUIRE(csv.rows.size() == 2);
  for (const auto& row : csv.rows) {
    CHECK(row.at("seed") == "3");  // the INI's seed, as written
    const std::string dir = "ind" + row.at("id");
    REQUIRE(run_xbar(d, "solve --rows " + row.at("rows") + " --cols " + row.at("cols") +
                            " --seed 3 --r-row 2 --r-col 1.5 --save-voltages --quiet --out " + dir) == 0);
    const json r = load_json(d.path / dir / "result.json");
    CHECK(number(row.at("max_abs_error_a")) == r["ir_drop"]["max_abs_error_a"].get<double>());
    CHECK(row.at("backend_used") == r["solve"]["backend_used"].get<std::string>());
    for (const char* f : {"currents.npy", "voltages.npy"}) {
      const auto a = xbar::engine::io::read_npy((d.path / "out/points" / row.at("id") / f).string());
      const auto b = xbar::engine::io::read_npy((d.path / dir / f).string());
      CHECK(a.shape == b.shape);
      CHECK(a.data == b.data);
    }
  }
}

TEST_CASE("sweep: transient and ppa points carry the metrics of the individual runs they stand for") {
  ScratchDir d;
  const std::string keys = "seed = 4\nr-row = 2\nr-col = 2\nc-row = 1e-15\nc-col = 1e-15\nt-stop = 2e-11\n";
  write(d.path / "t.ini", "command = transient\nrows = 4, 6\ncols = 4, 6\nzip = rows, cols\n" + keys);
  write(d.path / "p.ini", "command = ppa\nrows = 4, 6\ncols = 4, 6\nzip = rows, cols\ncolumns-per-adc = 2\n" + keys);
  REQUIRE(run_xbar(d, "sweep --config t.ini --out tout --quiet") == 0);
  REQUIRE(run_xbar(d, "sweep --config p.ini --out pout --quiet") == 0);
  const Csv t = read_csv(d.path / "tout/sweep.csv"), p = read_csv(d.path / "pout/sweep.csv");
  REQUIRE(t.rows.size() == 2);
  REQUIRE(p.rows.size() == 2);
  const std::string flags = " --seed 4 --r-row 2 --r-col 2 --c-row 1e-15 --c-col 1e-15 --t-stop 2e-11 --quiet";
  for (size_t k = 0; k < 2; ++k) {
    const std::string size = " --rows " + t.rows[k].at("rows") + " --cols " + t.rows[k].at("cols");
    REQUIRE(run_xbar(d, "transient" + size + flags + " --out t" + std::to_string(k)) == 0);
    REQUIRE(run_xbar(d, "ppa" + size + flags + " --columns-per-adc 2 --out p" + std::to_string(k)) == 0);
    const json tr = load_json(d.path / ("t" + std::to_string(k)) / "result.json");
    const json pp = load_json(d.path / ("p" + std::to_string(k)) / "ppa.json");
    CHECK(number(t.rows[k].at("max_settling_s")) == tr["settling"]["max_settling_s"].get<double>());
    CHECK(number(t.rows[k].at("energy_j")) == tr["energy"]["energy_j"].get<double>());
    CHECK(t.rows[k].at("all_settled") == "1");
    CHECK(number(p.rows[k].at("energy_per_read_j")) == pp["ppa"]["energy_per_read_j"]["total_j"].get<double>());
    CHECK(number(p.rows[k].at("latency_s")) == pp["ppa"]["latency_s"]["total_s"].get<double>());
    CHECK(number(p.rows[k].at("area_m2")) == pp["ppa"]["area_m2"]["total_m2"].get<double>());
    CHECK(p.rows[k].at("energy_per_inference_j").empty());  // an array, not a network
  }
}

TEST_CASE("sweep: a failing point is recorded with its error and the others still run") {
  ScratchDir d;
  // A sinh cell with k = 2000 /V overflows at 1 V (cosh(2000 V) is beyond double precision), a
  // numerical failure no check before the run can know of; at 1 and 2 mV it is a mild
  // nonlinearity. (A bad value is refused before any point runs: see the cases below.)
  write(d.path / "s.ini", "command = solve\nrows = 4\ncols = 4\ncell = sinh\nnl-k = 2000\nv-read = 0.001, 1, 0.002\n");
  std::string err;
  CHECK(run_xbar(d, "sweep --config s.ini --out out", &err) == 5);
  const Csv csv = read_csv(d.path / "out/sweep.csv");
  REQUIRE(csv.rows.size() == 3);
  CHECK(csv.rows[0].at("status") == "ok");
  CHECK(csv.rows[1].at("status") == "failed");
  CHECK(csv.rows[1].at("exit_code") == "4");
  CHECK(csv.rows[1].at("error").find("cell 'rcell_") != std::string::npos);
  CHECK(csv.rows[1].at("max_abs_error_a").empty());
  CHECK(csv.rows[2].at("status") == "ok");
  CHECK(err.find("FAILED (exit 4)") != std::string::npos);  // plain progress lines (not a terminal)
  // Re-running skips all three (the failure is a result); --retry-failed runs it again.
  CHECK(run_xbar(d, "sweep --config s.ini --out out", &err) == 5);
  CHECK(err.find("3 done before, 0 to run") != std::string::npos);
  CHECK(run_xbar(d, "sweep --config s.ini --out out --retry-failed", &err) == 5);
  CHECK(err.find("2 done before, 1 to run") != std::string::npos);
}

TEST_CASE("sweep: killed with SIGKILL half-way, the same command completes it without duplicates") {
  ScratchDir d;
  write(d.path / "s.ini", kSlowSweep);
  // Reference: the whole sweep, uninterrupted.
  REQUIRE(run_xbar(d, "sweep --config s.ini --out ref --quiet") == 0);
  const auto reference = without_timing(read_csv(d.path / "ref/sweep.csv"));
  REQUIRE(reference.size() == 8);

  const std::string bin = XBAR_BINARY, out = (d.path / "run").string(), ini = (d.path / "s.ini").string();
  const char* argv[] = {bin.c_str(), "sweep", "--config", ini.c_str(), "--out", out.c_str(), "--quiet", nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
  const auto t0 = std::chrono::steady_clock::now();
  while (count_records(out) < 2 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // it was killed, not finished
  const int recorded = count_records(out);
  REQUIRE(recorded >= 2);
  REQUIRE(recorded < 8);
  // What the kill left: a well-formed CSV (whole rows only, every id once).
  const Csv killed = read_csv(fs::path(out) / "sweep.csv");
  CHECK(killed.rows.size() <= size_t(recorded));
  for (size_t k = 0; k < killed.rows.size(); ++k) CHECK(killed.fields[k] == killed.header.size());
  std::map<std::string, std::string> time_before;  // id -> time_s of the points done before the kill
  for (const auto& r : killed.rows) time_before[r.at("id")] = r.at("time_s");

  // The point that was running when the kill came was counted as started once.
  int started_unfinished = 0;
  for (const auto& e : fs::directory_iterator(fs::path(out) / "attempts"))
    if (!fs::exists(fs::path(out) / "points" / e.path().filename() / "point.json")) {
      CHECK(slurp(e.path()) == "1\n");
      ++started_unfinished;
    }
  CHECK(started_unfinished >= 1);

  std::string err;
  REQUIRE(run_xbar(d, "sweep --config s.ini --out run", &err) == 0);
  CHECK(err.find(std::to_string(recorded) + " done before, " + std::to_string(8 - recorded) + " to run") != std::string::npos);
  const Csv done = read_csv(fs::path(out) / "sweep.csv");
  std::set<std::string> ids;
  for (const auto& r : done.rows) ids.insert(r.at("id"));
  CHECK(done.rows.size() == 8);
  CHECK(ids.size() == 8);  // no duplicates
  CHECK(without_timing(done) == reference);
  // The points finished before the kill were not run again.
  for (const auto& r : done.rows)
    if (time_before.count(r.at("id"))) CHECK(r.at("time_s") == time_before[r.at("id")]);
  // A third run has nothing left to do.
  REQUIRE(run_xbar(d, "sweep --config s.ini --out run", &err) == 0);
  CHECK(err.find("8 done before, 0 to run") != std::string::npos);
}

TEST_CASE("sweep: mpirun -np 2 writes the same CSV as one process, and both ranks run points") {
#ifndef XBAR_HAVE_MPI
  MESSAGE("built without MPI (XBAR_WITH_MPI=OFF or libopenmpi-dev missing): nothing to test");
#else
  ScratchDir d;
  write(d.path / "s.ini", kSlowSweep);
  REQUIRE(run_xbar(d, "sweep --config s.ini --out one --quiet") == 0);
  const std::string cmd = "cd " + d.path.string() + " && " + mpirun_prefix(2) + XBAR_BINARY +
                          " sweep --config s.ini --out two --quiet >mpi.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(slurp(d.path / "mpi.txt"));
  REQUIRE(WIFEXITED(rc));
  REQUIRE(WEXITSTATUS(rc) == 0);
  const Csv one = read_csv(d.path / "one/sweep.csv"), two = read_csv(d.path / "two/sweep.csv");
  REQUIRE(two.rows.size() == 8);
  CHECK(two.header == one.header);
  CHECK(without_timing(two) == without_timing(one));  // rows are written sorted by id
  std::set<int> ranks;
  for (const auto& r : two.rows) ranks.insert(load_json(d.path / "two/points" / r.at("id") / "point.json")["rank"].get<int>());
  CHECK(ranks == std::set<int>{0, 1});
  const json m = load_json(d.path / "two/sweep.json");
  CHECK(m["runs"].back()["ranks"] == 2);
  // --dry-run under mpirun: the workers stop with the master, status 0, nothing written.
  const std::string dry = "cd " + d.path.string() + " && " + mpirun_prefix(2) + XBAR_BINARY +
                          " sweep --config s.ini --out three --dry-run >dry.txt 2>&1";
  CHECK(std::system(dry.c_str()) == 0);
  CHECK_FALSE(fs::exists(d.path / "three"));
#endif
}

TEST_CASE("sweep: one process loads no Open MPI library; under mpirun the MPI module loads it") {
  // The dynamic loader's own report (LD_DEBUG=files): one "calling init: PATH" line per shared
  // object it initialised, linked or opened with dlopen (issue 21: libxbar_mpi.so).
  ScratchDir d;
  write(d.path / "s.ini", "command = solve\nrows = 4\ncols = 3, 4\n");
  const std::string one = "cd " + d.path.string() + " && LD_DEBUG=files " + XBAR_BINARY +
                          " sweep --config s.ini --out one --quiet >/dev/null 2>ld1.txt";
  REQUIRE(std::system(one.c_str()) == 0);
  const std::string ld1 = slurp(d.path / "ld1.txt");
  CHECK(ld1.find("calling init:") != std::string::npos);
  CHECK(ld1.find("libmpi") == std::string::npos);
  CHECK(ld1.find("libxbar_mpi") == std::string::npos);
#ifdef XBAR_HAVE_MPI
  const std::string two = "cd " + d.path.string() + " && " + mpirun_prefix(2) + "-x LD_DEBUG=files " + XBAR_BINARY +
                          " sweep --config s.ini --out two --quiet >/dev/null 2>ld2.txt";
  REQUIRE(std::system(two.c_str()) == 0);
  const std::string ld2 = slurp(d.path / "ld2.txt");
  CHECK(ld2.find("libxbar_mpi.so") != std::string::npos);
  CHECK(ld2.find("libmpi.so") != std::string::npos);
  CHECK(read_csv(d.path / "two/sweep.csv").rows.size() == 2);
#endif
}

TEST_CASE("sweep: under mpirun -np 2, an MPI module that cannot be loaded stops with exit 2, naming it, before writing") {
#ifndef XBAR_HAVE_MPI
  MESSAGE("built without MPI (XBAR_WITH_MPI=OFF or libopenmpi-dev missing): nothing to test");
#else
  ScratchDir d;
  write(d.path / "s.ini", "command = solve\nrows = 4\ncols = 3, 4\n");
  const std::string cmd = "cd " + d.path.string() + " && XBAR_MPI_MODULE=no-such-dir/libxbar_mpi.so " +
                          mpirun_prefix(2) + "-x XBAR_MPI_MODULE " + XBAR_BINARY +
                          " sweep --config s.ini --out out --quiet >/dev/null 2>err.txt";
  const int rc = std::system(cmd.c_str());
  const std::string err = slurp(d.path / "err.txt");
  INFO(err);
  REQUIRE(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 2);
  CHECK(err.find("started by mpirun as one of 2 ranks, but the MPI module libxbar_mpi.so") != std::string::npos);
  CHECK(err.find("no-such-dir/libxbar_mpi.so: no such file") != std::string::npos);
  CHECK_FALSE(fs::exists(d.path / "out"));
#endif
}

TEST_CASE("sweep: a DIR written from another sweep definition is refused, naming what differs") {
  ScratchDir d;
  write(d.path / "s.ini", "command = solve\nrows = 4, 5\ncols = 4\nr-row = 1\n");
  REQUIRE(run_xbar(d, "sweep --config s.ini --out out --quiet") == 0);
  const std::string csv_before = slurp(d.path / "out/sweep.csv");
  write(d.path / "s2.ini", "command = solve\nrows = 4, 6\ncols = 4\nr-row = 1\n");
  std::string err;
  CHECK(run_xbar(d, "sweep --config s2.ini --out out --quiet", &err) == 2);
  CHECK(err.find("output directory 'out' holds a different sweep than s2.ini") != std::string::npos);
  CHECK(err.find("key rows: DIR has 4, 5; the INI has 4, 6") != std::string::npos);
  CHECK(slurp(d.path / "out/sweep.csv") == csv_before);
  // Comments, sections and tolerances do not change the points: the DIR resumes (nothing to run).
  write(d.path / "s3.ini", "# same grid\n[a]\ncommand = solve\nrows = 4,5\ncols = 4\nr-row = 1\nmax-increase.max_abs_error_a = 1e-9\n");
  CHECK(run_xbar(d, "sweep --config s3.ini --out out", &err) == 0);
  CHECK(err.find("2 done before, 0 to run") != std::string::npos);
  CHECK(load_json(d.path / "out/sweep.json")["tolerances"].size() == 1);
}

TEST_CASE("sweep: bad sweep INIs and values are refused with file:line before anything is written") {
  ScratchDir d;
  struct Case {
    std::string ini, message;
  };
  const std::vector<Case> cases = {
      {"command = calibrate\nrows = 8\nrowz = 3\n",
       "xbar sweep: error: s.ini:3: unknown key 'rowz' for calibrate (see `xbar calibrate --help` for its keys)"},
      {"command = calibrate\nrows = 8, 1..x\n", "xbar sweep: error: s.ini:2: key rows = '1..x': bad integer range"},
      {"command = solve\nr-row = 0.5:-0.5:3\n", "xbar sweep: error: s.ini:2: key r-row = '0.5:-0.5:3': bad range: the step -0.5 goes away from stop 3"},
      {"command = solve\nrows =\n", "xbar sweep: error: s.ini:2: key 'rows' has no value after '=' (an empty list)"},
      {"command = solve\nrows = 4, 8\ncols = 4\nzip = rows, cols\n",
       "xbar sweep: error: s.ini:4: zip = 'rows, cols': rows has 2 value(s) (line 2) but cols has 1 (line 3)"},
      // a value the subcommand's own parser rejects, for one point of the grid
      {"command = solve\nrows = 4, abc\n", "xbar sweep: error: s.ini:2: key rows = 'abc': the argument ('abc') for option 'rows' is invalid"},
      // a key the sweep's subcommand does not take (calibrate has no save-voltages)
      {"command = calibrate\nsave-voltages = true\n", "xbar sweep: error: s.ini:2: unknown key 'save-voltages' for calibrate"},
      // a combination make_config rejects: names the point and the line of the key at fault
      {"command = calibrate\nscale = 0.5, half\n", "xbar sweep: error: s.ini:2: point 00001 (scale = half): key scale = 'half': expected per-column, auto or a number in (0, 1]"},
      // values only the subcommand's checks refuse (issue 17: these ran every point and ended
      // in exit 5 with DIR created): every point is checked before the first runs
      {"command = solve\nrows = 4\ncols = 4\nr-row = 1, -1\n", "xbar sweep: error: s.ini:4: point 00001 (r-row = -1): key r-row = -1: must be a finite value >= 0 ohm"},
      {"command = solve\ncols = 4\nrows = 4, 0\n", "xbar sweep: error: s.ini:3: point 00001 (rows = 0): key rows = 0: must be >= 1"},
      {"command = solve\nrows = 4\ncols = 4\nr-row = 1, inf\n", "xbar sweep: error: s.ini:4: point 00001 (r-row = inf): key r-row = inf: must be a finite value >= 0 ohm"},
      {"command = solve\nrows = 4\ncols = 4\ng-on = 1e-4, 1e-7\n", "xbar sweep: error: s.ini:4: point 00001 (g-on = 1e-7): key g-on = 1e-07: must be finite and >= g-off"},
      {"command = solve\ng = missing.npy\n", "xbar sweep: error: s.ini:2: point 00000: missing.npy: cannot open for reading (key g): No such file or directory"},
      {"command = evaluate\nmodel = missing.pt\n", "xbar sweep: error: s.ini:2: point 00000: missing.pt: cannot open for reading (key model): No such file or directory"},
      {"command = solve\nrows = 4\ncols = 4\ncell = sinh\nnl-k = 1, 0\n", "xbar sweep: error: s.ini:5: point 00001 (nl-k = 0): key nl-k = 0: must be > 0"},
  };
  for (const auto& c : cases) {
    write(d.path / "s.ini", c.ini);
    std::string err;
    CHECK(run_xbar(d, "sweep --config s.ini --out out", &err) == 2);
    CHECK_MESSAGE(err.find(c.message) == 0, err);
    CHECK_FALSE(fs::exists(d.path / "out"));
  }
  std::string err;
  CHECK(run_xbar(d, "sweep --out out", &err) == 2);
  CHECK(err.find("xbar sweep needs --config SWEEP.ini") != std::string::npos);
  CHECK(run_xbar(d, "sweep --config missing.ini --out out", &err) == 2);
  CHECK(err.find("cannot open sweep config file 'missing.ini'") != std::string::npos);
}

TEST_CASE("sweep --dry-run lists the points with their seeds and writes nothing") {
  ScratchDir d;
  write(d.path / "s.ini", "command = check\nrows = 4\nr-row = 0.5:0.5:1.5\nsweep-seed = 9\n");
  const std::string cmd = "cd " + d.path.string() + " && " + XBAR_BINARY + " sweep --config s.ini --out out --dry-run > list.csv";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const Csv list = read_csv(d.path / "list.csv");
  REQUIRE(list.rows.size() == 3);
  CHECK(list.header == std::vector<std::string>{"id", "seed", "r-row"});
  CHECK(list.rows[0].at("r-row") == "0.5");
  CHECK(list.rows[2].at("r-row") == "1.5");
  CHECK_FALSE(fs::exists(d.path / "out"));
}

TEST_CASE("sweep: a point whose process died three times is recorded as failed, not started again") {
  ScratchDir d;
  write(d.path / "s.ini", "command = solve\nrows = 4\ncols = 4\nr-row = 1, 2, 3\n");
  REQUIRE(run_xbar(d, "sweep --config s.ini --out out --quiet") == 0);
  // As a crash of the process would leave it: point 00001 started three times, never finished.
  fs::remove_all(d.path / "out/points/00001");
  write(d.path / "out/attempts/00001", "3\n");
  std::string err;
  CHECK(run_xbar(d, "sweep --config s.ini --out out", &err) == 5);
  const Csv csv = read_csv(d.path / "out/sweep.csv");
  REQUIRE(csv.rows.size() == 3);
  CHECK(csv.rows[1].at("status") == "failed");
  CHECK(csv.rows[1].at("error").find("the process running this point died 3 times") == 0);
  CHECK_FALSE(fs::exists(d.path / "out/points/00001/result.json"));  // it was not run
  // --retry-failed starts it afresh.
  CHECK(run_xbar(d, "sweep --config s.ini --out out --retry-failed --quiet") == 0);
  CHECK(read_csv(d.path / "out/sweep.csv").rows[1].at("status") == "ok");
}
