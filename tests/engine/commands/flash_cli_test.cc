// Flash arrays end to end through the `xbar` executable (issue 18): check against ngspice with
// gates per row and per column, solve against the EKV closed form and its operating regions,
// program-verify's files, retention's closed form, calibrate's map solved by ngspice, and a
// sweep over the flash keys. Referees: ngspice, and the EKV formula written out here.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"
#include "engine/io/npy_header.h"
#include "support/random_array.h"
#include "tests/engine/scratch_run.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::support::RowMatrix;

namespace {

// The defaults of the flash cell (devices/flash_cell.h) unless a test sets its own.
struct Ekv {
  double beta = 1e-4, n = 1.5, temperature_k = 300;
  double vt() const { return 1.380649e-23 / 1.602176634e-19 * temperature_k; }
  static double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
  // Drain-to-source current, source at vs.
  double current(double vth, double vd, double vg, double vs = 0) const {
    const double vp = (vg - vth) / n, t = vt();
    const double f = softplus((vp - vs) / (2 * t)), r = softplus((vp - vd) / (2 * t));
    return 2 * n * beta * t * t * (f * f - r * r);
  }
  // Region as flash_cell.h defines it, source at 0 and drain at vd > 0: the inversion
  // coefficient of the source end, then linear vs saturation by V_D against V_P.
  int region(double vth, double vd, double vg) const {
    const double vp = (vg - vth) / n;
    const double s = softplus(vp / (2 * vt()));
    const double ic = s * s;
    if (ic < 0.1) return 0;
    if (ic <= 10) return 1;
    return vd < vp ? 2 : 3;
  }
};

void save(const fs::path& p, const RowMatrix& m) {
  xbar::engine::io::write_npy(p.string(), m.data(), {m.rows(), m.cols()});
}
void save_vector(const fs::path& p, const std::vector<double>& v) {
  xbar::engine::io::write_npy(p.string(), v.data(), {int64_t(v.size())});
}
RowMatrix load(const fs::path& p) {
  const auto a = xbar::engine::io::read_npy(p.string());
  const int64_t rows = a.shape.size() == 2 ? a.shape[0] : 1;
  return Eigen::Map<const RowMatrix>(a.data.data(), rows, a.shape.back());
}
std::string bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An integer .npy (read_npy takes floats only): dtype, shape and the raw data bytes.
struct RawNpy {
  std::string descr;
  std::vector<int64_t> shape;
  std::string data;
};
RawNpy read_raw_npy(const fs::path& p) {
  const std::string b = bytes(p);
  REQUIRE(b.size() >= 10);
  REQUIRE(b.compare(0, 6, "\x93NUMPY") == 0);
  REQUIRE(b[6] == 1);  // xbar writes format 1.0 for small headers
  const size_t len = size_t(uint8_t(b[8])) | size_t(uint8_t(b[9])) << 8;
  const auto h = xbar::engine::io::internal::parse_npy_header(b.substr(10, len), p.string());
  return {h.descr, h.shape, b.substr(10 + len)};
}

}  // namespace

TEST_CASE("check --cell flash agrees with ngspice with gates per row and per column, wires, driver and sense resistance") {
  xbar::test::ScratchDir d;
  const int64_t m = 7, n = 6;
  save(d.path / "g.npy", xbar::support::uniform_matrix(m, n, 1e-5, 1e-4, 101));
  save(d.path / "v.npy", xbar::support::uniform_matrix(2, m, 0.05, 0.3, 102));
  const RowMatrix vg_rows = xbar::support::uniform_matrix(1, m, 1.6, 2.0, 103);
  const RowMatrix vg_cols = xbar::support::uniform_matrix(1, n, 1.6, 2.0, 104);
  save_vector(d.path / "vg_row.npy", {vg_rows.data(), vg_rows.data() + m});
  save_vector(d.path / "vg_column.npy", {vg_cols.data(), vg_cols.data() + n});
  for (const std::string layout : {"row", "column"}) {
    CAPTURE(layout);
    const std::string out = "c_" + layout;
    REQUIRE(xbar::test::run_xbar(d, "check --cell flash --g g.npy --v v.npy --gate " + layout + " --v-gate-lines vg_" +
                                        layout + ".npy --r-row 3 --r-col 4 --r-driver 20 --r-sense 10 --tol 1e-6 "
                                        "--quiet --out " + out) == 0);
    const json r = xbar::test::load_json(d.path / out / "check.json");
    CHECK(r["pass"] == true);
    CHECK(r["currents"]["max_rel_diff"].get<double>() <= 1e-6);  // the bound
    // Every cell of every input has a region; the gate lines are the file's, on its layout.
    int64_t counted = 0;
    for (const auto& [name, count] : r["regions"]["counts"].items()) counted += count.get<int64_t>();
    CHECK(counted == 2 * m * n);
    const json lines = r["array"]["flash"]["gate_lines"];
    CHECK(lines["layout"] == layout);
    const RowMatrix& want = layout == "row" ? vg_rows : vg_cols;
    REQUIRE(lines["v_gate_v"].size() == size_t(want.size()));
    for (Eigen::Index k = 0; k < want.size(); ++k) CHECK(lines["v_gate_v"][size_t(k)].get<double>() == want(0, k));
    CHECK(r["array"]["flash"]["program"]["realised"]["verified"] == m * n);
  }
}

TEST_CASE("solve --cell flash --vth with ideal wires is the EKV closed form, cell by cell regions included") {
  xbar::test::ScratchDir d;
  const int64_t m = 5, n = 4, k = 3;
  const RowMatrix vth = xbar::support::uniform_matrix(m, n, 0.3, 2.3, 201);  // every region
  const RowMatrix v = xbar::support::uniform_matrix(k, m, 0.02, 0.6, 202);
  const std::vector<double> vg = {1.6, 1.75, 1.9, 2.05};  // one word line per column
  save(d.path / "vth.npy", vth);
  save(d.path / "v.npy", v);
  save_vector(d.path / "vg.npy", vg);
  Ekv e;
  e.beta = 2e-4;
  e.n = 1.3;
  e.temperature_k = 350;
  REQUIRE(xbar::test::run_xbar(d, "solve --cell flash --vth vth.npy --v v.npy --gate column --v-gate-lines vg.npy "
                                  "--flash-beta 2e-4 --flash-n 1.3 --temperature 350 --r-row 0 --r-col 0 "
                                  "--save-regions --quiet --out s") == 0);
  const RowMatrix currents = load(d.path / "s/currents.npy");
  REQUIRE(currents.rows() == k);
  REQUIRE(currents.cols() == n);
  const RawNpy regions = read_raw_npy(d.path / "s/regions.npy");
  CHECK(regions.descr == "|u1");
  REQUIRE(regions.shape == std::vector<int64_t>{k, m, n});
  std::vector<int64_t> tally(4, 0);
  // Newton stops at reltol 1e-9 on node voltages and currents; with ideal wires the only
  // unknowns are shorted to the sources, so the columns are the formula to rounding.
  constexpr double kClosedFormTol = 1e-12;
  for (int64_t q = 0; q < k; ++q)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t i = 0; i < m; ++i) {
        sum += e.current(vth(i, j), v(q, i), vg[size_t(j)]);
        const int want = e.region(vth(i, j), v(q, i), vg[size_t(j)]);
        ++tally[size_t(want)];
        CHECK_MESSAGE(int(uint8_t(regions.data[size_t((q * m + i) * n + j)])) == want,
                      "input " << q << ", cell (" << i << ", " << j << ")");
      }
      CHECK(std::abs(currents(q, j) - sum) <= kClosedFormTol * std::abs(sum));
    }
  const json r = xbar::test::load_json(d.path / "s/result.json");
  const json counts = r["regions"]["counts"];
  const char* names[] = {"subthreshold", "moderate", "linear", "saturation"};
  for (int q = 0; q < 4; ++q) CHECK(counts[names[q]].get<int64_t>() == tally[size_t(q)]);
  for (int q = 0; q < 4; ++q) CHECK_MESSAGE(tally[size_t(q)] > 0, "the fixture misses region " << names[q]);
  CHECK(r["array"]["flash"]["thresholds"] == "as given (--vth)");
  CHECK(r["ir_drop"]["max_abs_error_a"].get<double>() <= kClosedFormTol * r["ir_drop"]["ideal_full_scale_a"].get<double>());
}

TEST_CASE("solve --cell flash --g programs the targets: with ideal wires every column reads G^T v within pv-tol") {
  xbar::test::ScratchDir d;
  const int64_t m = 6, n = 5;
  const RowMatrix g = xbar::support::uniform_matrix(m, n, 1e-5, 1e-4, 301);
  save(d.path / "g.npy", g);
  const double v_read = 0.25;
  const RowMatrix ideal = RowMatrix::Constant(1, m, v_read) * g;
  for (const double tol : {0.02, 0.004}) {
    CAPTURE(tol);
    const std::string out = "s" + std::to_string(int(tol * 1000));
    REQUIRE(xbar::test::run_xbar(d, "solve --cell flash --g g.npy --v-read 0.25 --r-row 0 --r-col 0 --pv-tol " +
                                        std::to_string(tol) + " --quiet --out " + out) == 0);
    const RowMatrix i = load(d.path / out / "currents.npy");
    // Every cell verified within tol of G v_read, so every column within tol of its sum.
    CHECK(((i - ideal).cwiseAbs().array() / ideal.array()).maxCoeff() <= tol);
    const json p = xbar::test::load_json(d.path / out / "result.json")["array"]["flash"]["program"];
    CHECK(p["realised"]["verified"] == m * n);
    CHECK(p["realised"]["read_rel_error_max_verified"].get<double>() <= tol);
    CHECK(p["options"]["v_read_v"].get<double>() == v_read);
  }
}

TEST_CASE("program --cell flash writes thresholds, verify status (uint8) and pulse counts (int32) that solve reproduces") {
  xbar::test::ScratchDir d;
  const int64_t m = 6, n = 5;
  save(d.path / "g.npy", xbar::support::uniform_matrix(m, n, 1e-5, 1e-4, 401));
  REQUIRE(xbar::test::run_xbar(d, "program --cell flash --g g.npy --seed 7 --quiet --out p") == 0);
  REQUIRE(xbar::test::run_xbar(d, "program --cell flash --g g.npy --seed 7 --quiet --out p2") == 0);
  REQUIRE(xbar::test::run_xbar(d, "program --cell flash --g g.npy --seed 8 --quiet --out p3") == 0);
  CHECK(bytes(d.path / "p/vth_programmed.npy") == bytes(d.path / "p2/vth_programmed.npy"));
  CHECK(bytes(d.path / "p/pv_pulses.npy") == bytes(d.path / "p2/pv_pulses.npy"));
  CHECK(bytes(d.path / "p/vth_programmed.npy") != bytes(d.path / "p3/vth_programmed.npy"));
  const RawNpy status = read_raw_npy(d.path / "p/pv_status.npy");
  const RawNpy pulses = read_raw_npy(d.path / "p/pv_pulses.npy");
  CHECK(status.descr == "|u1");
  CHECK(pulses.descr == "<i4");
  REQUIRE(status.shape == std::vector<int64_t>{m, n});
  REQUIRE(pulses.shape == std::vector<int64_t>{m, n});
  REQUIRE(pulses.data.size() == size_t(4 * m * n));
  const json r = xbar::test::load_json(d.path / "p/result.json");
  const json st = r["flash"]["program"]["realised"];
  int64_t total = 0;
  int32_t most = 0;
  for (int64_t c = 0; c < m * n; ++c) {
    CHECK(int(uint8_t(status.data[size_t(c)])) == 0);  // verified
    int32_t k = 0;
    std::memcpy(&k, pulses.data.data() + 4 * c, 4);  // little-endian host (x86, arm64)
    CHECK(k >= 1);
    total += k;
    most = std::max(most, k);
  }
  CHECK(st["verified"] == m * n);
  CHECK(st["pulses_total"].get<int64_t>() == total);
  CHECK(st["pulses_max"].get<int32_t>() == most);
  CHECK(r["seed"] == 7);
  CHECK(!fs::exists(d.path / "p/vth_retained.npy"));
  // solve programs the same targets with the same seed: the same thresholds, the same currents.
  REQUIRE(xbar::test::run_xbar(d, "solve --cell flash --g g.npy --seed 7 --quiet --out s1") == 0);
  REQUIRE(xbar::test::run_xbar(d, "solve --cell flash --vth p/vth_programmed.npy --quiet --out s2") == 0);
  CHECK(bytes(d.path / "s1/currents.npy") == bytes(d.path / "s2/currents.npy"));
}

TEST_CASE("retention lowers every programmed threshold by alpha ln(1 + t / tau)") {
  xbar::test::ScratchDir d;
  REQUIRE(xbar::test::run_xbar(d, "program --cell flash --rows 4 --cols 3 --retention-time 1e4 --retention-tau 2 "
                                  "--retention-alpha 0.012 --quiet --out p") == 0);
  const RowMatrix before = load(d.path / "p/vth_programmed.npy");
  const RowMatrix after = load(d.path / "p/vth_retained.npy");
  const double shift = -0.012 * std::log1p(1e4 / 2);
  CHECK(((after - before).array() - shift).abs().maxCoeff() <= 1e-12);
  const json st = xbar::test::load_json(d.path / "p/result.json")["flash"]["retention"]["realised"];
  CHECK(st["cells"] == 12);
  CHECK(st["shift_mean_v"].get<double>() == doctest::Approx(shift).epsilon(1e-12));
  // A spread draws one alpha per cell from the seed: another seed, other shifts.
  REQUIRE(xbar::test::run_xbar(d, "program --cell flash --rows 4 --cols 3 --retention-time 1e4 "
                                  "--retention-alpha-sigma 0.003 --seed 2 --quiet --out q") == 0);
  const RowMatrix dq = load(d.path / "q/vth_retained.npy") - load(d.path / "q/vth_programmed.npy");
  CHECK(dq.maxCoeff() - dq.minCoeff() > 1e-3);
  CHECK(dq.maxCoeff() <= 0);  // charge loss never raises a threshold
}

TEST_CASE("calibrate --cell flash: its thresholds, solved by ngspice, carry s G^T v at v-read") {
  xbar::test::ScratchDir d;
  const int64_t m = 8, n = 8;
  const RowMatrix g = xbar::support::uniform_matrix(m, n, 1e-5, 1e-4, 501);
  save(d.path / "g.npy", g);
  REQUIRE(xbar::test::run_xbar(d, "calibrate --cell flash --g g.npy --r-row 10 --r-col 10 --gate column --scale auto "
                                  "--comp-tol 1e-8 --heldout 10 --calib-inputs 10 --quiet --out cal") == 0);
  const json r = xbar::test::load_json(d.path / "cal/result.json");
  const double s = r["compensation"]["scale"];
  CHECK(s < 1.0);
  CHECK(r["compensation"]["cells_needing_above_g_max"] == 0);
  CHECK(r["errors"]["compensated"]["max_lsb"].get<double>() < r["errors"]["uncompensated"]["max_lsb"].get<double>());
  // The map's thresholds read its conductance equivalents at v-read (EKV written out).
  const RowMatrix g_map = load(d.path / "cal/g_compensated.npy");
  const RowMatrix vth_map = load(d.path / "cal/vth_compensated.npy");
  const Ekv e;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      CHECK(std::abs(e.current(vth_map(i, j), 0.2, 1.8) - 0.2 * g_map(i, j)) <= 1e-9 * 0.2 * g_map(i, j));
  // Every row at v-read through the wires, solved by ngspice: s times the wire-free G^T v.
  REQUIRE(xbar::test::run_xbar(d, "solve --cell flash --vth cal/vth_compensated.npy --gate column --r-row 10 "
                                  "--r-col 10 --backend ngspice --quiet --out sv") == 0);
  const RowMatrix i = load(d.path / "sv/currents.npy");
  const RowMatrix ones = RowMatrix::Constant(1, m, 0.2);
  const RowMatrix want = s * (ones * g);
  // comp-tol 1e-8 per cell, ngspice's 11-digit constants ~1e-9: 1e-6 of the largest column.
  CHECK((i - want).cwiseAbs().maxCoeff() <= 1e-6 * want.maxCoeff());
}

TEST_CASE("a sweep takes the flash keys as axes") {
  xbar::test::ScratchDir d;
  std::ofstream(d.path / "s.ini") << "command = solve\ncell = flash\nrows = 4\ncols = 3\nr-row = 5\n"
                                     "flash-beta = 1e-4, 2e-4\ngate = row, global\n";
  REQUIRE(xbar::test::run_xbar(d, "sweep --config s.ini --quiet --out sw") == 0);
  std::ifstream csv(d.path / "sw/sweep.csv");
  std::string header, line;
  std::getline(csv, header);
  int rows = 0;
  while (std::getline(csv, line)) rows += line.find(",ok,") != std::string::npos;
  CHECK(rows == 4);
}
