// The `xbar` command line as users and scripts see it: the real executable, run through the
// shell in a fresh temporary directory per test, with exit status, stdout and stderr captured.
//
// Referees for the numbers are ngspice (`--backend ngspice`, the in-process libngspice, and
// the standalone `ngspice -b` on a written deck) and closed forms (ideal wires give G^T V;
// a single row or a single column is a resistive ladder solved here exactly) -- never a
// stored earlier output of xbar itself. Inputs are written and outputs read with the
// project's own .npy helpers; the byte-level corner cases (float32, Fortran order, int64,
// truncation) are crafted here byte by byte.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"
#include "tests/engine/cli_harness.h"

#ifndef XBAR_BINARY
#error "XBAR_BINARY (path of the xbar executable) must be defined by the build"
#endif

namespace fs = std::filesystem;
using json = nlohmann::json;
using xbar::engine::io::NpyArray;
using namespace xbar::cli_test;  // Scratch, Run, run_xbar, fixtures (cli_harness.h)

namespace {

// --- tolerances --------------------------------------------------------------------------

// Native back end vs ngspice, per column current and per node voltage (relative). Both
// solve the same linear system in double precision; they agree to ~1e-13 in practice.
constexpr double kBackendAgreementRel = 1e-9;
// Ideal wires (r-row = r-col = 0, ideal driver and sense): I = V G exactly up to the
// rounding of a length-M dot product.
constexpr double kIdealRel = 1e-13;
// A deck written by `xbar netlist` and read back by `xbar solve --deck` is the same circuit
// (values printed with 17 significant digits), solved by the same native code path.
constexpr double kDeckRoundTripRel = 1e-12;
// The ladder closed forms below are solved in long double by the Thomas algorithm; the
// native solve of the same ladder agrees to rounding of a well-conditioned system.
constexpr double kLadderRel = 1e-12;
// Standalone `ngspice -b` prints operating-point currents with 6 significant digits.
constexpr double kNgspicePrintRel = 1e-5;
// A node tied directly to an ideal source (r-driver = 0) or to an ideal virtual ground
// (r-sense = 0) must come out at that voltage, up to rounding relative to max |V|.
constexpr double kBoundaryNodeRel = 1e-12;

// Conductance range of the random arrays: a typical RRAM on/off window, siemens.
constexpr double kGLow = 1e-6;
constexpr double kGHigh = 1e-4;
// Row voltages: positive read voltages, so no column current is a cancellation near 0 and a
// per-column relative comparison is meaningful.
constexpr double kVLow = 0.05;
constexpr double kVHigh = 0.3;

NpyArray load(const fs::path& path) { return xbar::engine::io::read_npy(path.string()); }

// max_i |a_i - b_i| / |b_i|: the per-element relative difference (b is the referee).
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / std::abs(b[i]));
  return worst;
}

// max |a - b| / max |b|: the difference on the scale of the referee's full range.
double max_rel_full_scale(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

// Ideal currents I = V G for K inputs: (K x M) (M x N).
Matrix ideal_currents(const Matrix& v, const Matrix& g) {
  Matrix out{v.rows, g.cols, std::vector<double>(size_t(v.rows * g.cols), 0.0)};
  for (int64_t k = 0; k < v.rows; ++k)
    for (int64_t j = 0; j < g.cols; ++j) {
      long double acc = 0;
      for (int64_t i = 0; i < g.rows; ++i) acc += (long double)v(k, i) * g(i, j);
      out(k, j) = double(acc);
    }
  return out;
}

// A line of L nodes joined by conductance `gw` between neighbours; node i has a shunt `y[i]`
// to an ideal source `e[i]`; the first node also connects through `g_first` to `u_first`,
// the last through `g_last` to `u_last`. Returns the node voltages (Thomas algorithm,
// long double): the exact solution of a resistive ladder.
std::vector<long double> solve_ladder(const std::vector<long double>& y, const std::vector<long double>& e,
                                      long double gw, long double g_first, long double u_first,
                                      long double g_last, long double u_last) {
  const size_t n = y.size();
  std::vector<long double> diag(n), rhs(n), c(n, 0), x(n);
  for (size_t i = 0; i < n; ++i) {
    diag[i] = y[i] + (i > 0 ? gw : 0) + (i + 1 < n ? gw : 0);
    rhs[i] = y[i] * e[i];
  }
  diag[0] += g_first;
  rhs[0] += g_first * u_first;
  diag[n - 1] += g_last;
  rhs[n - 1] += g_last * u_last;
  // Forward sweep with off-diagonals -gw.
  for (size_t i = 1; i < n; ++i) {
    const long double w = -gw / diag[i - 1];
    diag[i] -= w * -gw;
    rhs[i] -= w * rhs[i - 1];
  }
  x[n - 1] = rhs[n - 1] / diag[n - 1];
  for (size_t i = n - 1; i-- > 0;) x[i] = (rhs[i] + gw * x[i + 1]) / diag[i];
  return x;
}

// Series combination of two conductances (0 if either is 0).
long double series(long double a, long double b) { return a == 0 || b == 0 ? 0 : a * b / (a + b); }

}  // namespace

// =========================================================================================
// 1. solve: shapes, result.json metadata, agreement with ngspice, voltages, batches
// =========================================================================================

TEST_CASE("solve writes one current per column for a vector input and one row per input for a batch") {
  Scratch s;
  const int64_t m = 12, n = 9, k = 4;
  const Matrix g = random_matrix(m, n, kGLow, kGHigh, 101);
  const Matrix v1 = random_matrix(1, m, kVLow, kVHigh, 102);
  const Matrix vk = random_matrix(k, m, kVLow, kVHigh, 103);
  save(s.file("g.npy"), g);
  save_vector(s.file("v.npy"), v1.a);
  save(s.file("vk.npy"), vk);
  const std::vector<std::string> wires = {"--r-row", "2.5", "--r-col", "4", "--quiet"};
  auto args = [&](std::vector<std::string> a) {
    a.insert(a.end(), wires.begin(), wires.end());
    return a;
  };

  const Run one = run_xbar(s, args({"solve", "--g", "g.npy", "--v", "v.npy", "--out", "one"}));
  REQUIRE_MESSAGE(one.status == 0, one.err);
  const NpyArray i1 = load(s.work() / "one/currents.npy");
  CHECK(i1.shape == std::vector<int64_t>{n});

  const Run batch = run_xbar(s, args({"solve", "--g", "g.npy", "--v", "vk.npy", "--out", "batch"}));
  REQUIRE_MESSAGE(batch.status == 0, batch.err);
  const NpyArray ik = load(s.work() / "batch/currents.npy");
  CHECK(ik.shape == std::vector<int64_t>{k, n});

  SUBCASE("and ngspice gives the same column currents for both") {
    const Run ng1 = run_xbar(s, args({"solve", "--g", "g.npy", "--v", "v.npy", "--backend", "ngspice", "--out", "ng1"}));
    REQUIRE_MESSAGE(ng1.status == 0, ng1.err);
    const Run ngk = run_xbar(s, args({"solve", "--g", "g.npy", "--v", "vk.npy", "--backend", "ngspice", "--out", "ngk"}));
    REQUIRE_MESSAGE(ngk.status == 0, ngk.err);
    const NpyArray r1 = load(s.work() / "ng1/currents.npy"), rk = load(s.work() / "ngk/currents.npy");
    CHECK(r1.shape == i1.shape);
    CHECK(rk.shape == ik.shape);
    CHECK(max_rel_diff(i1.data, r1.data) < kBackendAgreementRel);
    CHECK(max_rel_diff(ik.data, rk.data) < kBackendAgreementRel);
    const json rj = read_json(s.work() / "ng1/result.json");
    CHECK(rj["solve"]["backend_requested"] == "ngspice");
    CHECK(rj["solve"]["backend_used"] == "ngspice");
    // The wires really are in the circuit: the result is not the ideal V G.
    const Matrix ideal = ideal_currents(v1, g);
    CHECK(max_rel_diff(i1.data, ideal.a) > 1e-6);
  }
}

TEST_CASE("result.json carries the configuration with its origins, the seed, the version and the solve summary") {
  Scratch s;
  const Matrix g = random_matrix(5, 4, kGLow, kGHigh, 201);
  save(s.file("g.npy"), g);
  const Run r = run_xbar(s, {"solve", "--g", "g.npy", "--v-read", "0.15", "--seed", "42", "--quiet", "--out", "o"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const json j = read_json(s.work() / "o/result.json");

  REQUIRE(j.contains("config"));
  REQUIRE(j["config"].is_object());
  CHECK(j["config"].size() >= 10);
  for (const auto& [key, entry] : j["config"].items()) {
    INFO("config key " << key);
    REQUIRE(entry.is_object());
    CHECK(entry.contains("value"));
    REQUIRE(entry.contains("from"));
    const std::string from = entry["from"];
    CHECK((from == "default" || from == "command line" || from == "config file" ||
           from == "g file"));
  }
  // With --g the array's shape comes from the file, and the configuration says so.
  CHECK(j["config"]["rows"]["from"] == "g file");
  CHECK(j["config"]["rows"]["value"] == j["array"]["rows"]);
  CHECK(j["config"]["cols"]["value"] == j["array"]["cols"]);
  CHECK(j["config"]["g"]["value"] == "g.npy");
  CHECK(j["config"]["g"]["from"] == "command line");
  CHECK(j["config"]["v-read"]["value"] == 0.15);
  CHECK(j["config"]["v-read"]["from"] == "command line");
  CHECK(j["config"]["r-row"]["value"] == 2.5);
  CHECK(j["config"]["r-row"]["from"] == "default");

  REQUIRE(j.contains("seed"));
  CHECK(j["seed"] == 42);
  REQUIRE(j.contains("version"));
  REQUIRE(j["version"].is_string());
  const std::string version = j["version"];
  CHECK(!version.empty());
  const Run v = run_xbar(s, {"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.find(version) != std::string::npos);

  REQUIRE(j.contains("solve"));
  // auto is the default (issue 8); a small array is below the PCG crossover and SPD, so Eigen's
  // LDL' (solvers/eigen_backend.h).
  CHECK(j["solve"]["backend_requested"] == "auto");
  const std::string used = j["solve"]["backend_used"];
  CHECK(used == "eigen");
  for (const char* t : {"assemble_s", "analyze_s", "factorize_s", "solve_s"}) {
    INFO("times_s." << t);
    REQUIRE(j["solve"]["times_s"].contains(t));
    REQUIRE(j["solve"]["times_s"][t].is_number());
    CHECK(j["solve"]["times_s"][t].get<double>() >= 0.0);
  }
}

TEST_CASE("a small solve loads neither CHOLMOD nor BLAS; a CHOLMOD solve loads them when it starts") {
  // solvers/lazy_libraries.h (issue 21, point 5): the dynamic loader's own trace (LD_DEBUG=files
  // names every object it opens, dlopen included) of whole xbar processes.
  Scratch s;
  const std::vector<std::string> array = {"--rows", "24", "--cols", "20", "--r-row", "2.5", "--r-col", "2.5", "--quiet"};
  auto opened = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"LD_DEBUG=files", XBAR_BINARY, "solve"};
    args.insert(args.end(), array.begin(), array.end());
    args.insert(args.end(), extra.begin(), extra.end());
    const Run r = run_program(s, "env", args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return r.err;
  };
  const std::string small = opened({"--out", "eigen"});
  CHECK(contains(small, "libboost_program_options"));  // the trace is there
  CHECK(!contains(small, "libcholmod"));
  CHECK(!contains(small, "libopenblas"));
  CHECK(!contains(small, "liblapack"));
  CHECK(read_json(s.work() / "eigen" / "result.json")["solve"]["backend_used"] == "eigen");
  const std::string chol = opened({"--backend", "cholmod", "--out", "chol"});
  CHECK(contains(chol, "libcholmod"));
  CHECK(contains(chol, "libblas.so.3"));
  CHECK(read_json(s.work() / "chol" / "result.json")["solve"]["backend_used"] == "cholmod");
  // Both answers are the same array's to rounding.
  const NpyArray a = load(s.work() / "eigen" / "currents.npy");
  const NpyArray b = load(s.work() / "chol" / "currents.npy");
  CHECK(max_rel_diff(a.data, b.data) < 1e-12);
}

TEST_CASE("float32 inputs are accepted and widened exactly") {
  // Ideal wires make the referee a closed form: I = V G of the float32 values, widened.
  Scratch s;
  const int64_t m = 7, n = 6;
  const Matrix g64 = random_matrix(m, n, kGLow, kGHigh, 301);
  const Matrix v64 = random_matrix(1, m, kVLow, kVHigh, 302);
  std::vector<float> g32(g64.a.begin(), g64.a.end()), v32(v64.a.begin(), v64.a.end());
  write_raw_npy(s.file("g32.npy"), "<f4", false, {m, n}, raw_bytes(g32));
  write_raw_npy(s.file("v32.npy"), "<f4", false, {m}, raw_bytes(v32));
  const Run r = run_xbar(s, {"solve", "--g", "g32.npy", "--v", "v32.npy", "--r-row", "0", "--r-col", "0",
                         "--quiet", "--out", "o"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const NpyArray i = load(s.work() / "o/currents.npy");
  CHECK(i.shape == std::vector<int64_t>{n});
  Matrix gw{m, n, std::vector<double>(g32.begin(), g32.end())};
  Matrix vw{1, m, std::vector<double>(v32.begin(), v32.end())};
  CHECK(max_rel_diff(i.data, ideal_currents(vw, gw).a) < kIdealRel);
  const json j = read_json(s.work() / "o/result.json");
  CHECK(j["array"]["conductances"]["dtype"] == "<f4");
  CHECK(j["inputs"]["dtype"] == "<f4");
}

TEST_CASE("--save-voltages writes (2, M, N) node voltages that agree with ngspice node by node") {
  Scratch s;
  const int64_t m = 10, n = 8;
  const Matrix g = random_matrix(m, n, kGLow, 1e-3, 401);  // up to 1 mS: visible IR drop
  const Matrix v = random_matrix(1, m, kVLow, kVHigh, 402);
  save(s.file("g.npy"), g);
  save_vector(s.file("v.npy"), v.a);
  // r-driver = r-sense = 0 (defaults): the left row ends sit on the sources and the bottom
  // column ends on the virtual ground, which pins down the layout of voltages.npy.
  const std::vector<std::string> common = {"solve", "--g", "g.npy", "--v", "v.npy", "--r-row", "3",
                                           "--r-col", "1.5", "--save-voltages", "--quiet"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const Run nat = run_xbar(s, with({"--out", "nat"}));
  REQUIRE_MESSAGE(nat.status == 0, nat.err);
  const Run ng = run_xbar(s, with({"--backend", "ngspice", "--out", "ng"}));
  REQUIRE_MESSAGE(ng.status == 0, ng.err);

  const NpyArray vn = load(s.work() / "nat/voltages.npy"), vs = load(s.work() / "ng/voltages.npy");
  CHECK(vn.shape == std::vector<int64_t>{2, m, n});
  REQUIRE(vs.shape == std::vector<int64_t>{2, m, n});
  REQUIRE(vn.shape == vs.shape);
  CHECK(max_rel_full_scale(vn.data, vs.data) < kBackendAgreementRel);

  const double vmax = *std::max_element(v.a.begin(), v.a.end());
  auto at = [&](const NpyArray& a, int64_t layer, int64_t i, int64_t j) {
    return a.data[size_t((layer * m + i) * n + j)];
  };
  for (int64_t i = 0; i < m; ++i) {
    INFO("row " << i);
    CHECK(std::abs(at(vn, 0, i, 0) - v(0, i)) <= kBoundaryNodeRel * vmax);
  }
  for (int64_t j = 0; j < n; ++j) {
    INFO("column " << j);
    CHECK(std::abs(at(vn, 1, m - 1, j)) <= kBoundaryNodeRel * vmax);
  }
  // The currents written alongside agree too.
  CHECK(max_rel_diff(load(s.work() / "nat/currents.npy").data, load(s.work() / "ng/currents.npy").data) <
        kBackendAgreementRel);
}

TEST_CASE("a batch larger than min(M, N) uses the exact effective matrix and still matches ngspice") {
  Scratch s;
  const int64_t m = 12, n = 9, k = 14;  // k > min(m, n) = 9
  const Matrix g = random_matrix(m, n, kGLow, 1e-3, 501);
  const Matrix vk = random_matrix(k, m, kVLow, kVHigh, 502);
  save(s.file("g.npy"), g);
  save(s.file("vk.npy"), vk);
  const std::vector<std::string> common = {"solve", "--g", "g.npy", "--v", "vk.npy", "--r-row", "2",
                                           "--r-col", "3", "--r-driver", "1", "--r-sense", "0.5", "--quiet"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const Run eff = run_xbar(s, with({"--out", "eff"}));
  REQUIRE_MESSAGE(eff.status == 0, eff.err);
  const Run ng = run_xbar(s, with({"--backend", "ngspice", "--out", "ng"}));
  REQUIRE_MESSAGE(ng.status == 0, ng.err);
  CHECK(read_json(s.work() / "eff/result.json")["solve"]["batch_method"] == "effective-matrix");
  const NpyArray a = load(s.work() / "eff/currents.npy"), b = load(s.work() / "ng/currents.npy");
  CHECK(a.shape == std::vector<int64_t>{k, n});
  REQUIRE(a.shape == b.shape);
  CHECK(max_rel_diff(a.data, b.data) < kBackendAgreementRel);

  SUBCASE("but not when voltages are to be saved, which needs every node of every input") {
    const Run sv = run_xbar(s, with({"--save-voltages", "--out", "sv"}));
    REQUIRE_MESSAGE(sv.status == 0, sv.err);
    CHECK(read_json(s.work() / "sv/result.json")["solve"]["batch_method"] != "effective-matrix");
    CHECK(load(s.work() / "sv/voltages.npy").shape == std::vector<int64_t>{k, 2, m, n});
    CHECK(max_rel_diff(load(s.work() / "sv/currents.npy").data, b.data) < kBackendAgreementRel);
  }
}

// =========================================================================================
// 2. Closed forms through the CLI
// =========================================================================================

TEST_CASE("ideal wires give exactly the ideal currents V G, for --v and for --v-read") {
  Scratch s;
  const int64_t m = 16, n = 11, k = 3;
  const Matrix g = random_matrix(m, n, kGLow, kGHigh, 601);
  const Matrix vk = random_matrix(k, m, kVLow, kVHigh, 602);
  save(s.file("g.npy"), g);
  save(s.file("vk.npy"), vk);
  const Run r = run_xbar(s, {"solve", "--g", "g.npy", "--v", "vk.npy", "--r-row", "0", "--r-col", "0",
                         "--quiet", "--out", "o"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const NpyArray i = load(s.work() / "o/currents.npy");
  REQUIRE(i.shape == std::vector<int64_t>{k, n});
  CHECK(max_rel_diff(i.data, ideal_currents(vk, g).a) < kIdealRel);

  const double v_read = 0.125;
  const Run rr = run_xbar(s, {"solve", "--g", "g.npy", "--v-read", "0.125", "--r-row", "0", "--r-col", "0",
                          "--quiet", "--out", "read"});
  REQUIRE_MESSAGE(rr.status == 0, rr.err);
  const NpyArray ir = load(s.work() / "read/currents.npy");
  REQUIRE(ir.shape == std::vector<int64_t>{n});
  const Matrix all{1, m, std::vector<double>(size_t(m), v_read)};
  CHECK(max_rel_diff(ir.data, ideal_currents(all, g).a) < kIdealRel);
}

TEST_CASE("a single row is the resistive ladder for every --drive side, with driver and sense resistance") {
  // M = 1: row nodes r_j joined by r-row; node j's shunt is G_j in series with the sense
  // resistance (two in parallel when sensed at both ends) to the virtual ground; the row
  // source V sits behind r-driver at the driven end(s). Column current j = shunt_j * r_j.
  Scratch s;
  const int64_t n = 16;
  const double r_row = 2.5, r_drv = 10, r_sns = 5, v = 0.3;
  const Matrix g = random_matrix(1, n, kGLow, 1e-3, 701);
  save(s.file("g.npy"), g);
  for (const char* drive : {"left", "right", "both"})
    for (const char* sense : {"bottom", "both"}) {
      INFO("--drive " << drive << " --sense " << sense);
      const std::string out = std::string("o_") + drive + "_" + sense;
      const Run r = run_xbar(s, {"solve", "--g", "g.npy", "--v-read", "0.3", "--r-row", "2.5", "--r-driver", "10",
                             "--r-sense", "5", "--drive", drive, "--sense", sense, "--quiet", "--out", out});
      REQUIRE_MESSAGE(r.status == 0, r.err);
      const long double g_sense = (std::string(sense) == "both" ? 2.0L : 1.0L) / r_sns;
      std::vector<long double> y(static_cast<size_t>(n)), e(static_cast<size_t>(n), 0.0L);
      for (int64_t j = 0; j < n; ++j) y[size_t(j)] = series(g(0, j), g_sense);
      const bool left = std::string(drive) != "right", right = std::string(drive) != "left";
      const auto x = solve_ladder(y, e, 1.0L / r_row, left ? 1.0L / r_drv : 0, v, right ? 1.0L / r_drv : 0, v);
      std::vector<double> expected(static_cast<size_t>(n));
      for (size_t j = 0; j < size_t(n); ++j) expected[j] = double(y[j] * x[j]);
      const NpyArray i = load(s.work() / out / "currents.npy");
      REQUIRE(i.shape == std::vector<int64_t>{n});
      CHECK(max_rel_diff(i.data, expected) < kLadderRel);
    }
}

TEST_CASE("a single column is the resistive ladder for every --sense end") {
  // N = 1: column nodes c_i joined by r-col; row i injects through G_i in series with
  // r-driver from source V_i; the sensed end(s) go through r-sense to 0 V. The column
  // current is the sum over sensed ends of c_end / r-sense.
  Scratch s;
  const int64_t m = 14;
  const double r_col = 3, r_drv = 2, r_sns = 4;
  const Matrix g = random_matrix(m, 1, kGLow, 1e-3, 801);
  const Matrix v = random_matrix(1, m, kVLow, kVHigh, 802);
  save(s.file("g.npy"), g);
  save_vector(s.file("v.npy"), v.a);
  for (const char* sense : {"bottom", "top", "both"}) {
    INFO("--sense " << sense);
    const std::string out = std::string("o_") + sense;
    const Run r = run_xbar(s, {"solve", "--g", "g.npy", "--v", "v.npy", "--r-col", "3", "--r-driver", "2",
                           "--r-sense", "4", "--sense", sense, "--quiet", "--out", out});
    REQUIRE_MESSAGE(r.status == 0, r.err);
    std::vector<long double> y(static_cast<size_t>(m)), e(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
      y[size_t(i)] = series(g(i, 0), 1.0L / r_drv);
      e[size_t(i)] = v(0, i);
    }
    const bool top = std::string(sense) != "bottom", bottom = std::string(sense) != "top";
    const long double gs = 1.0L / r_sns;
    const auto x = solve_ladder(y, e, 1.0L / r_col, top ? gs : 0, 0, bottom ? gs : 0, 0);
    const double expected = double((top ? x.front() * gs : 0) + (bottom ? x.back() * gs : 0));
    const NpyArray i = load(s.work() / out / "currents.npy");
    REQUIRE(i.shape == std::vector<int64_t>{1});
    CHECK(std::abs(i.data[0] - expected) <= kLadderRel * std::abs(expected));
  }
}

// =========================================================================================
// 3. check
// =========================================================================================

TEST_CASE("check passes for every --drive and --sense combination") {
  Scratch s;
  const int64_t m = 6, n = 5;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, 1e-3, 901));
  save_vector(s.file("v.npy"), random_matrix(1, m, kVLow, kVHigh, 902).a);
  int index = 0;
  for (const char* drive : {"left", "right", "both"})
    for (const char* sense : {"bottom", "top", "both"}) {
      // Alternate ideal and resistive drivers / sense ends so both kinds are checked.
      const std::string r_drv = index % 2 ? "1.5" : "0", r_sns = index % 3 ? "0.75" : "0";
      const std::string out = "chk" + std::to_string(index++);
      INFO("--drive " << drive << " --sense " << sense << " --r-driver " << r_drv << " --r-sense " << r_sns);
      const Run r = run_xbar(s, {"check", "--g", "g.npy", "--v", "v.npy", "--r-row", "2", "--r-col", "3",
                             "--r-driver", r_drv, "--r-sense", r_sns, "--drive", drive, "--sense", sense,
                             "--quiet", "--out", out});
      CHECK_MESSAGE(r.status == 0, r.err);
      const json j = read_json(s.work() / out / "check.json");
      CHECK(j["pass"] == true);
      CHECK(j["currents"]["max_rel_diff"].get<double>() < kBackendAgreementRel);
      CHECK(j["voltages"]["max_rel_diff"].get<double>() < kBackendAgreementRel);
      CHECK(j["currents"]["columns_compared"] == n);
      CHECK(j["voltages"]["nodes_compared"].get<int64_t>() >= 2 * m * n);
      CHECK(j["array"]["drive"] == drive);
      CHECK(j["array"]["sense"] == sense);
    }
}

TEST_CASE("check exits 3 and records pass = false when the tolerance is tighter than the agreement") {
  Scratch s;
  save(s.file("g.npy"), random_matrix(8, 7, kGLow, 1e-3, 1001));
  const Run r = run_xbar(s, {"check", "--g", "g.npy", "--tol", "1e-30", "--quiet", "--out", "o"});
  const json j = read_json(s.work() / "o/check.json");
  const double di = j["currents"]["max_rel_diff"], dv = j["voltages"]["max_rel_diff"];
  CHECK(j["tol"] == 1e-30);
  // Two different LU codes over ~130 nodes never agree bit for bit (they differ at ~1e-15),
  // so 1e-30 must be exceeded; were they ever identical this test would say so.
  REQUIRE_MESSAGE((di > 1e-30 || dv > 1e-30), "native and ngspice agreed exactly");
  CHECK(r.status == 3);
  CHECK(j["pass"] == false);
  // A non-positive tolerance is an input error, not a silent pass or fail.
  const Run bad = run_xbar(s, {"check", "--g", "g.npy", "--tol", "0", "--quiet", "--out", "bad"});
  CHECK(bad.status == 2);
  CHECK(contains(bad.err, "tol"));
  CHECK(!fs::exists(s.work() / "bad"));
}

// =========================================================================================
// 4. SPICE round trip
// =========================================================================================

TEST_CASE("a deck written by netlist runs in ngspice and solves back to the same column currents") {
  Scratch s;
  const int64_t m = 9, n = 7;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, 1e-3, 1101));
  save_vector(s.file("v.npy"), random_matrix(1, m, kVLow, kVHigh, 1102).a);
  const std::vector<std::string> spec = {"--g", "g.npy", "--v", "v.npy", "--r-row", "2", "--r-col", "3",
                                         "--r-driver", "1", "--r-sense", "1.5", "--quiet"};
  auto cmd = [&](const std::string& sub, std::vector<std::string> extra) {
    std::vector<std::string> a = {sub};
    a.insert(a.end(), spec.begin(), spec.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };

  const Run net = run_xbar(s, cmd("netlist", {"--out", "deck.cir"}));
  REQUIRE_MESSAGE(net.status == 0, net.err);
  REQUIRE(fs::is_regular_file(s.work() / "deck.cir"));
  const Run sol = run_xbar(s, cmd("solve", {"--out", "grid"}));
  REQUIRE_MESSAGE(sol.status == 0, sol.err);
  const NpyArray columns = load(s.work() / "grid/currents.npy");
  REQUIRE(columns.shape == std::vector<int64_t>{n});

  SUBCASE("standalone ngspice -b reads it and prints the same sense currents") {
    const Run ng = run_program(s, "ngspice", {"-b", "deck.cir"});
    REQUIRE_MESSAGE(ng.status == 0, "ngspice -b deck.cir failed:\n" << ng.err);
    std::map<std::string, double> branch;
    std::istringstream lines(ng.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string name, value;
      if (words >> name >> value && name.size() > 7 && name.compare(name.size() - 7, 7, "#branch") == 0)
        branch[name.substr(0, name.size() - 7)] = std::strtod(value.c_str(), nullptr);
    }
    for (int64_t j = 0; j < n; ++j) {
      const std::string name = "vsnsb_" + std::to_string(j);
      INFO(name);
      REQUIRE(branch.count(name));
      CHECK(std::abs(branch[name] - columns.data[size_t(j)]) <= kNgspicePrintRel * std::abs(columns.data[size_t(j)]));
    }
  }

  SUBCASE("solve --deck names its sources and vsnsb_j carries column j's current") {
    const Run d = run_xbar(s, {"solve", "--deck", "deck.cir", "--quiet", "--out", "deckrun"});
    REQUIRE_MESSAGE(d.status == 0, d.err);
    const json j = read_json(s.work() / "deckrun/result.json");
    const auto names = j["outputs"]["names"]["sources"].get<std::vector<std::string>>();
    const NpyArray sc = load(s.work() / "deckrun/source_currents.npy");
    REQUIRE(sc.shape == std::vector<int64_t>{int64_t(names.size())});
    std::vector<double> from_deck;
    for (int64_t c = 0; c < n; ++c) {
      const auto it = std::find(names.begin(), names.end(), "vsnsb_" + std::to_string(c));
      REQUIRE_MESSAGE(it != names.end(), "no source vsnsb_" << c);
      from_deck.push_back(sc.data[size_t(it - names.begin())]);
    }
    CHECK(max_rel_diff(from_deck, columns.data) < kDeckRoundTripRel);
    CHECK(fs::exists(s.work() / "deckrun/node_voltages.npy"));
  }

  SUBCASE("check --deck compares it with ngspice and passes") {
    const Run c = run_xbar(s, {"check", "--deck", "deck.cir", "--quiet", "--out", "deckchk"});
    CHECK_MESSAGE(c.status == 0, c.err);
    const json j = read_json(s.work() / "deckchk/check.json");
    CHECK(j["pass"] == true);
    CHECK(j["voltages"]["max_rel_diff"].get<double>() < kBackendAgreementRel);
    CHECK(j["currents"]["max_rel_diff"].get<double>() < kBackendAgreementRel);
  }
}

// =========================================================================================
// 5. INI configuration files
// =========================================================================================

TEST_CASE("an INI file sets keys whatever its sections, and a command-line flag overrides it") {
  Scratch s;
  const int64_t m = 6, n = 5;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, 1e-3, 1201));
  write_text(s.work() / "array.ini",
             "# an xbar configuration\n"
             "[wires]\n"
             "r-row = 3.5   # ohm per segment (inline comment, as Boost's parser allows)\n"
             "r-col = 1.25\n"
             "\n"
             "[inputs]\n"
             "v-read = 0.15\n"
             "; another comment style\n"
             "[anything at all]\n"
             "r-driver = 2\n");
  const Run file = run_xbar(s, {"solve", "--g", "g.npy", "--config", "array.ini", "--quiet", "--out", "file"});
  REQUIRE_MESSAGE(file.status == 0, file.err);
  const json cf = read_json(s.work() / "file/result.json")["config"];
  CHECK(cf["r-row"]["value"] == 3.5);
  CHECK(cf["r-row"]["from"] == "config file");
  CHECK(cf["r-col"]["value"] == 1.25);
  CHECK(cf["r-col"]["from"] == "config file");
  CHECK(cf["v-read"]["value"] == 0.15);
  CHECK(cf["v-read"]["from"] == "config file");
  CHECK(cf["r-driver"]["value"] == 2.0);
  CHECK(cf["r-driver"]["from"] == "config file");
  CHECK(cf["r-sense"]["from"] == "default");

  const Run over = run_xbar(s, {"solve", "--g", "g.npy", "--config", "array.ini", "--r-row", "7", "--quiet",
                            "--out", "over"});
  REQUIRE_MESSAGE(over.status == 0, over.err);
  const json co = read_json(s.work() / "over/result.json")["config"];
  CHECK(co["r-row"]["value"] == 7.0);
  CHECK(co["r-row"]["from"] == "command line");
  CHECK(co["r-col"]["value"] == 1.25);
  CHECK(co["r-col"]["from"] == "config file");

  // The values were applied, not just recorded: ngspice with the same values as flags agrees.
  const Run ref = run_xbar(s, {"solve", "--g", "g.npy", "--r-row", "3.5", "--r-col", "1.25", "--v-read", "0.15",
                           "--r-driver", "2", "--backend", "ngspice", "--quiet", "--out", "ref"});
  REQUIRE_MESSAGE(ref.status == 0, ref.err);
  const Run ref_over = run_xbar(s, {"solve", "--g", "g.npy", "--r-row", "7", "--r-col", "1.25", "--v-read", "0.15",
                                "--r-driver", "2", "--backend", "ngspice", "--quiet", "--out", "ref_over"});
  REQUIRE_MESSAGE(ref_over.status == 0, ref_over.err);
  CHECK(max_rel_diff(load(s.work() / "file/currents.npy").data, load(s.work() / "ref/currents.npy").data) <
        kBackendAgreementRel);
  CHECK(max_rel_diff(load(s.work() / "over/currents.npy").data, load(s.work() / "ref_over/currents.npy").data) <
        kBackendAgreementRel);
}

// =========================================================================================
// 6. Help (bad input: bad_input_test.cc)
// =========================================================================================

namespace {

// The help entry of `--key`: from the flag to the next line that starts a new flag.
std::string help_entry(const std::string& help, const std::string& flag) {
  const size_t at = help.find("  " + flag + " ");
  if (at == std::string::npos) return "";
  const size_t next = help.find("\n  --", at + 2);
  return help.substr(at, next == std::string::npos ? std::string::npos : next - at);
}

}  // namespace

TEST_CASE("solve --help lists every key with its unit and default") {
  Scratch s;
  const Run r = run_xbar(s, {"solve", "--help"});
  CHECK(r.status == 0);
  CHECK(contains(help_entry(r.out, "--r-row"), "[ohm]"));
  CHECK(contains(help_entry(r.out, "--r-row"), "2.5"));
  CHECK(contains(help_entry(r.out, "--r-col"), "[ohm]"));
  CHECK(contains(help_entry(r.out, "--g-on"), "[S]"));
  CHECK(contains(help_entry(r.out, "--v-read"), "[V]"));
  for (const char* key : {"--rows", "--cols", "--g", "--v", "--r-driver", "--r-sense", "--drive", "--sense",
                          "--backend", "--seed", "--out", "--config", "--deck", "--save-voltages"}) {
    INFO(key);
    CHECK(!help_entry(r.out, key).empty());
  }
  const Run c = run_xbar(s, {"check", "--help"});
  CHECK(c.status == 0);
  CHECK(!help_entry(c.out, "--tol").empty());
  const Run n = run_xbar(s, {"netlist", "--help"});
  CHECK(n.status == 0);
  CHECK(contains(help_entry(n.out, "--r-row"), "[ohm]"));
}

TEST_CASE("xbar --help lists every key with its unit and default (DESIGN.md, command line)") {
  Scratch s;
  const Run r = run_xbar(s, {"--help"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "solve"));
  CHECK(contains(r.out, "check"));
  CHECK(contains(r.out, "netlist"));
  CHECK(contains(help_entry(r.out, "--r-row"), "[ohm]"));
  CHECK(contains(help_entry(r.out, "--g-on"), "[S]"));
}

TEST_CASE("an unknown subcommand or none at all is an input error") {
  Scratch s;
  const Run unknown = run_xbar(s, {"frobnicate", "--out", "o"});
  CHECK(unknown.status == 2);
  CHECK(contains(unknown.err, "frobnicate"));
  CHECK(!fs::exists(s.work() / "o"));
  const Run none = run_xbar(s, {});
  CHECK(none.status == 2);
  CHECK(contains(none.err, "usage"));
}

TEST_CASE("a run without --save-voltages removes a stale voltages.npy from the same --out") {
  Scratch s;
  const Run first = run_xbar(s, {"solve", "--rows", "4", "--cols", "3", "--save-voltages", "--quiet", "--out", "o"});
  REQUIRE_MESSAGE(first.status == 0, first.err);
  REQUIRE(fs::exists(s.work() / "o/voltages.npy"));
  const Run second = run_xbar(s, {"solve", "--rows", "4", "--cols", "3", "--quiet", "--out", "o"});
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK_FALSE(fs::exists(s.work() / "o/voltages.npy"));
  CHECK(fs::exists(s.work() / "o/currents.npy"));
}
