// `xbar calibrate` and `xbar size` end to end, each answer checked by an independent solve:
// the effective matrix against direct solves of unit inputs, the compensation map against
// ngspice on held-out inputs, and the size boundary against direct solves just below and
// just above it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "calib/error_metrics.h"
#include "support/random_array.h"
#include "engine/io/npy.h"
#include "tests/engine/scratch_run.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

Mat load(const fs::path& p) {
  const auto a = xbar::engine::io::read_npy(p.string());
  const int64_t rows = a.shape.size() == 2 ? a.shape[0] : 1, cols = a.shape.back();
  return Eigen::Map<const Mat>(a.data.data(), rows, cols);
}

void save(const fs::path& p, const Mat& m) {
  xbar::engine::io::write_npy(p.string(), m.data(), {m.rows(), m.cols()});
}

}  // namespace

TEST_CASE("calibrate: t_effective.npy equals direct solves of unit inputs") {
  xbar::test::ScratchDir d;
  const int64_t m = 9, n = 7;
  const Mat g = xbar::support::uniform_matrix(m, n, 1e-6, 1e-4, 3);
  save(d.path / "g.npy", g);
  save(d.path / "eye.npy", Mat::Identity(m, m));
  const std::string wires = " --r-row 3 --r-col 2 --r-driver 20 --r-sense 5 --drive both --sense top";
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --g-min 1e-7 --quiet --out c" + wires) == 0);
  REQUIRE(xbar::test::run_xbar(d, "solve --g g.npy --v eye.npy --batch-method direct --quiet --out s" + wires) == 0);
  const Mat t = load(d.path / "c/t_effective.npy"), direct = load(d.path / "s/currents.npy");
  REQUIRE(t.rows() == m);
  REQUIRE(t.cols() == n);
  CHECK((t - direct).cwiseAbs().maxCoeff() <= 1e-10 * direct.cwiseAbs().maxCoeff());
  CHECK((t - g).cwiseAbs().maxCoeff() > 1e-3 * g.maxCoeff());  // the wires do matter here
}

TEST_CASE("calibrate: ngspice on held-out inputs reproduces G^T v through the compensation map") {
  xbar::test::ScratchDir d;
  const int64_t m = 10, n = 8;
  const Mat g = xbar::support::uniform_matrix(m, n, 5e-6, 5e-5, 11);
  save(d.path / "g.npy", g);
  const double tol = 1e-9;
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --r-row 4 --r-col 4 --g-min 1e-7 --comp-tol 1e-9 "
                                  "--scale 1 --quiet --out c") == 0);
  const json r = xbar::test::load_json(d.path / "c/result.json");
  REQUIRE(r["compensation"]["converged"] == true);
  CHECK(r["compensation"]["cells_needing_above_g_max"] == 0);
  CHECK(r["compensation"]["cells_needing_below_g_min"] == 0);
  CHECK(r["compensation"]["scale"] == 1.0);
  // Held-out inputs the map never saw, solved by ngspice on the compensated conductances.
  const Mat v = xbar::calib::random_inputs(4, m, 0.3, xbar::calib::InputDistribution::kUniform, 99,
                                           xbar::calib::InputStream::kHeldOut);
  save(d.path / "v.npy", v);
  REQUIRE(xbar::test::run_xbar(d, "solve --g c/g_compensated.npy --v v.npy --r-row 4 --r-col 4 "
                                  "--backend ngspice --quiet --out ng") == 0);
  REQUIRE(xbar::test::run_xbar(d, "solve --g g.npy --v v.npy --r-row 4 --r-col 4 --quiet --out raw") == 0);
  const Mat i_comp = load(d.path / "ng/currents.npy"), i_raw = load(d.path / "raw/currents.npy");
  const Mat ideal = v * g;
  // |T(G') - G| <= tol max(G) per cell, so a column is off by at most m tol max(G) max(v);
  // ngspice's own error (reltol 1e-9 on the node voltages) adds about as much again.
  const double bound = 2 * double(m) * tol * g.maxCoeff() * v.maxCoeff() + 1e-9 * ideal.cwiseAbs().maxCoeff();
  CHECK((i_comp - ideal).cwiseAbs().maxCoeff() <= bound);
  CHECK((i_raw - ideal).cwiseAbs().maxCoeff() > 100 * bound);  // and without the map it is not
}

TEST_CASE("calibrate: unreachable cells are reported, and --scale auto makes every cell fit under g-max") {
  xbar::test::ScratchDir d;
  const std::string array = " --rows 24 --cols 24 --g-on 1e-4 --g-off 1e-6 --seed 4 --r-row 5 --r-col 5"
                            " --g-min 0 --g-max 1e-4 --quiet";
  REQUIRE(xbar::test::run_xbar(d, "calibrate" + array + " --scale 1 --out one") == 0);
  const json r1 = xbar::test::load_json(d.path / "one/result.json")["compensation"];
  const Mat status = load(d.path / "one/unreachable.npy"), gc = load(d.path / "one/g_compensated.npy");
  const int64_t above = r1["cells_needing_above_g_max"];
  CHECK(above > 0);
  int64_t marked = 0;
  for (Eigen::Index k = 0; k < status.size(); ++k) {
    if (status.data()[k] == 1) {
      ++marked;
      CHECK(gc.data()[k] == 1e-4);  // pinned at the window's top, never beyond
    }
    CHECK(gc.data()[k] <= 1e-4);
    CHECK(gc.data()[k] >= 0);
  }
  CHECK(marked == above);

  REQUIRE(xbar::test::run_xbar(d, "calibrate" + array + " --scale auto --out auto") == 0);
  const json r2 = xbar::test::load_json(d.path / "auto/result.json");
  CHECK(r2["compensation"]["cells_needing_above_g_max"] == 0);
  CHECK(r2["compensation"]["cells_needing_below_g_min"] == 0);
  CHECK(r2["compensation"]["converged"] == true);
  const double s = r2["compensation"]["scale"];
  CHECK(s < 1.0);
  CHECK(s > 0.05);
  CHECK(load(d.path / "auto/g_compensated.npy").maxCoeff() <= 1e-4);
  // Every cell reachable: the compensated error is at the tolerance level, far below 0.01 LSB.
  CHECK(r2["errors"]["compensated"]["max_lsb"].get<double>() < 0.01);
  CHECK(r2["errors"]["uncompensated"]["max_lsb"].get<double>() > 1.0);
}

TEST_CASE("calibrate (default --scale per-column): ngspice on held-out inputs, each column divided by its own scale, reproduces G^T v") {
  xbar::test::ScratchDir d;
  const int64_t m = 12, n = 10;
  const Mat g = xbar::support::uniform_matrix(m, n, 1e-6, 1e-4, 21);
  save(d.path / "g.npy", g);
  const std::string wires = " --r-row 30 --r-col 30 --g-min 1e-6 --g-max 1e-4";  // strong IR drop
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --comp-tol 1e-9 --quiet --out pc" + wires) == 0);
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --comp-tol 1e-9 --scale auto --quiet --out auto" + wires) == 0);
  const json r = xbar::test::load_json(d.path / "pc/result.json");
  const json ra = xbar::test::load_json(d.path / "auto/result.json");
  CHECK(r["compensation"]["options"]["scale"] == "per-column");
  CHECK(r["compensation"]["scale_used"] == "per-column");
  CHECK(ra["compensation"]["scale_used"] == "auto");
  REQUIRE(r["compensation"]["converged"] == true);
  CHECK(r["compensation"]["cells_needing_above_g_max"] == 0);
  CHECK(r["compensation"]["cells_needing_below_g_min"] == 0);
  const Mat s = load(d.path / "pc/column_scales.npy");
  REQUIRE(s.size() == n);
  CHECK(s.minCoeff() == r["compensation"]["scale_min"].get<double>());
  CHECK(s.maxCoeff() == r["compensation"]["scale_max"].get<double>());
  CHECK(s.mean() == doctest::Approx(r["compensation"]["scale_mean"].get<double>()).epsilon(1e-14));
  CHECK(s.maxCoeff() <= 1.0);
  CHECK(s.maxCoeff() > 1.05 * s.minCoeff());  // the columns do differ
  // More signal than one global scale: the mean gain above auto's, the smallest about as large.
  const double s_auto = ra["compensation"]["scale"];
  CHECK(load(d.path / "auto/column_scales.npy").cwiseAbs().minCoeff() == s_auto);
  CHECK(s.mean() > 1.05 * s_auto);
  CHECK(s.minCoeff() > 0.9 * s_auto);
  // Held-out inputs the map never saw, solved by ngspice on the compensated conductances, each
  // column divided by its own scale.
  const Mat v = xbar::calib::random_inputs(4, m, 0.3, xbar::calib::InputDistribution::kUniform, 98,
                                           xbar::calib::InputStream::kHeldOut);
  save(d.path / "v.npy", v);
  REQUIRE(xbar::test::run_xbar(d, "solve --g pc/g_compensated.npy --v v.npy --r-row 30 --r-col 30 "
                                  "--backend ngspice --quiet --out ng") == 0);
  Mat i_comp = load(d.path / "ng/currents.npy");
  for (int64_t j = 0; j < n; ++j) i_comp.col(j) /= s(0, j);
  const Mat ideal = v * g;
  // |T(G') - s_j G| <= tol max_ij(s_j G) <= tol max(G) per cell; divided by s_j, summed over m
  // rows; plus ngspice's own error (reltol 1e-9).
  const double tol = 1e-9;
  const double bound = 2 * double(m) * tol * g.maxCoeff() * v.maxCoeff() / s.minCoeff() +
                       1e-9 * ideal.cwiseAbs().maxCoeff() / s.minCoeff();
  CHECK((i_comp - ideal).cwiseAbs().maxCoeff() <= bound);
  // The errors of result.json measure the same thing on their own held-out inputs: far below an LSB.
  CHECK(r["errors"]["compensated"]["max_lsb"].get<double>() < 0.01);
  CHECK(r["errors"]["uncompensated"]["max_lsb"].get<double>() > 1.0);
}

TEST_CASE("calibrate --effective-method solves and port-reduction give the same effective matrix and map") {
  xbar::test::ScratchDir d;
  const std::string a = "calibrate --rows 14 --cols 11 --r-row 3 --r-col 3 --r-driver 10 --r-sense 2 --sense both "
                        "--comp-tol 1e-10 --heldout 50 --calib-inputs 50 --quiet";
  REQUIRE(xbar::test::run_xbar(d, a + " --effective-method solves --out s") == 0);
  REQUIRE(xbar::test::run_xbar(d, a + " --effective-method port-reduction --out p") == 0);
  const json rs = xbar::test::load_json(d.path / "s/result.json"), rp = xbar::test::load_json(d.path / "p/result.json");
  CHECK(rs["effective_matrix"]["effective_method"] == "solves");
  CHECK(rp["effective_matrix"]["effective_method"] == "port-reduction");
  CHECK(rs["compensation"]["options"]["effective_method"] == "solves");
  const Mat ts = load(d.path / "s/t_effective.npy"), tp = load(d.path / "p/t_effective.npy");
  // Two exact routes to the same T (solvers/port_reduction.h: 1e-12 relative).
  CHECK((ts - tp).cwiseAbs().maxCoeff() <= 1e-12 * ts.cwiseAbs().maxCoeff());
  const Mat gs = load(d.path / "s/g_compensated.npy"), gp = load(d.path / "p/g_compensated.npy");
  // Both maps meet comp-tol 1e-10; their conductances agree to a small multiple of it.
  CHECK((gs - gp).cwiseAbs().maxCoeff() <= 1e-8 * gs.maxCoeff());
}

TEST_CASE("calibrate: the calibration table has one row per column and helps on held-out inputs") {
  xbar::test::ScratchDir d;
  REQUIRE(xbar::test::run_xbar(d, "calibrate --rows 16 --cols 12 --r-row 2 --r-col 2 --pwl-points 4 --quiet --out c") == 0);
  std::ifstream in(d.path / "c/calibration.csv");
  std::string header, line;
  std::getline(in, header);
  CHECK(header.rfind("column,gain,offset_a,fit_rms_a,x0_a", 0) == 0);
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  CHECK(rows == 12);
  const json e = xbar::test::load_json(d.path / "c/result.json")["errors"];
  CHECK(e["calibrated"]["max_lsb"].get<double>() < e["uncompensated"]["max_lsb"].get<double>());
  CHECK(fs::exists(d.path / "c/calibration.json"));
}

TEST_CASE("size: the boundary agrees with direct solves just below and just above it") {
  xbar::test::ScratchDir d;
  const std::string keys = " --r-row 2.5 --r-col 2.5 --r-driver 0 --r-sense 0 --g-on 1e-4 --g-off 1e-6 --seed 8"
                           " --v-read 0.2";
  REQUIRE(xbar::test::run_xbar(d, "size --sizes 4,8,16,32 --heldout 200 --budget-lsb 1 --compensate false "
                                  "--calib-tables false --quiet --out s" + keys) == 0);
  const json r = xbar::test::load_json(d.path / "s/result.json");
  const int64_t largest = r["largest"]["uncompensated"]["largest_passing_size"];
  REQUIRE(largest >= 2);
  REQUIRE(r["largest"]["uncompensated"]["failing_size_found_above"] == true);
  // Independent check: the same random array and held-out inputs, solved by `xbar solve`.
  auto error_lsb = [&](int64_t size) {
    const Mat g = xbar::support::uniform_matrix(size, size, 1e-6, 1e-4, 8);
    const Mat v = xbar::calib::heldout_inputs(200, size, 0.2, xbar::calib::InputDistribution::kUniform, 8);
    const std::string tag = std::to_string(size);
    save(d.path / ("v" + tag + ".npy"), v);
    REQUIRE(xbar::test::run_xbar(d, "solve --rows " + tag + " --cols " + tag + " --v v" + tag +
                                        ".npy --batch-method direct --quiet --out d" + tag + keys) == 0);
    const Mat i = load(d.path / ("d" + tag + "/currents.npy"));
    const double lsb = g.colwise().sum().maxCoeff() * 0.2 / 256;
    return (i - v * g).cwiseAbs().maxCoeff() / lsb;
  };
  CHECK(error_lsb(largest) <= 1.0);
  CHECK(error_lsb(largest + 1) > 1.0);
  std::ifstream in(d.path / "s/size.csv");
  std::string header;
  std::getline(in, header);
  CHECK(header.rfind("rows,cols,unknowns,full_scale_a,lsb_a,budget_lsb,uncomp_max_lsb", 0) == 0);
}

TEST_CASE("size: the default per-column scale keeps compensated arrays within budget where --scale 1 cannot") {
  // Issue 21, point 7: at --scale 1 the far cells need more than g-max and the map is no better
  // than none; the default searches a gain per column and reports which scale it used.
  xbar::test::ScratchDir d;
  const std::string a = "size --r-row 10 --r-col 10 --sizes 4,8,16,24,32 --refine false --heldout 200 "
                        "--calib-tables false --budget-lsb 1 --quiet";
  REQUIRE(xbar::test::run_xbar(d, a + " --scale 1 --out one") == 0);
  REQUIRE(xbar::test::run_xbar(d, a + " --out pc") == 0);
  const json one = xbar::test::load_json(d.path / "one/result.json"), pc = xbar::test::load_json(d.path / "pc/result.json");
  CHECK(one["compensation"]["scale"] == 1.0);
  CHECK(pc["compensation"]["scale"] == "per-column");
  CHECK(pc["compensation"]["scale_used"] == "per-column");
  const int64_t fixed = one["largest"]["compensated"]["largest_passing_size"];
  const int64_t per_column = pc["largest"]["compensated"]["largest_passing_size"];
  CHECK(fixed <= 8);
  CHECK(per_column >= 4 * fixed);
  // size.csv: the smallest and the mean column scale of every size, the mean never below the smallest.
  std::ifstream in(d.path / "pc/size.csv");
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> cols;
  {
    std::stringstream hs(header);
    for (std::string c; std::getline(hs, c, ',');) cols.push_back(c);
  }
  const auto col = [&](const std::string& name) { return size_t(std::find(cols.begin(), cols.end(), name) - cols.begin()); };
  REQUIRE(col("comp_scale_mean") < cols.size());
  int rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) f.push_back(c);
    const double s_min = std::stod(f[col("comp_scale")]), s_mean = std::stod(f[col("comp_scale_mean")]);
    CHECK(s_min <= s_mean);
    CHECK(s_mean <= 1.0);
    ++rows;
  }
  CHECK(rows == 5);
}

TEST_CASE("size --cell sinh: the boundary agrees with Newton solves just below and just above it") {
  xbar::test::ScratchDir d;
  const std::string keys = " --cell sinh --r-row 2.5 --r-col 2.5 --r-driver 0 --r-sense 0 --g-on 1e-4 "
                           "--g-off 1e-6 --seed 3 --v-read 0.3";
  REQUIRE(xbar::test::run_xbar(d, "size --sizes 4,8,16,32 --heldout 40 --budget-lsb 1 --compensate false "
                                  "--calib-tables false --quiet --out s" + keys) == 0);
  const json r = xbar::test::load_json(d.path / "s/result.json");
  const int64_t largest = r["largest"]["uncompensated"]["largest_passing_size"];
  REQUIRE(largest >= 2);
  REQUIRE(r["largest"]["uncompensated"]["failing_size_found_above"] == true);
  // Referee: `xbar solve` (Newton) on the same array and inputs, against the closed form of
  // the same cells without wires, sum_i G_ij / k sinh(k v_i) (k = 2, the default nl-k).
  auto error_lsb = [&](int64_t size) {
    const Mat g = xbar::support::uniform_matrix(size, size, 1e-6, 1e-4, 3);
    const Mat v = xbar::calib::heldout_inputs(40, size, 0.3, xbar::calib::InputDistribution::kUniform, 3);
    const std::string tag = std::to_string(size);
    save(d.path / ("v" + tag + ".npy"), v);
    REQUIRE(xbar::test::run_xbar(d, "solve --rows " + tag + " --cols " + tag + " --v v" + tag +
                                        ".npy --quiet --out d" + tag + keys) == 0);
    const Mat i = load(d.path / ("d" + tag + "/currents.npy"));
    const Mat ideal = ((2.0 * v.array()).sinh() / 2.0).matrix() * g;
    const double lsb = g.colwise().sum().maxCoeff() * std::sinh(2.0 * 0.3) / 2.0 / 256;
    return (i - ideal).cwiseAbs().maxCoeff() / lsb;
  };
  CHECK(error_lsb(largest) <= 1.0);
  CHECK(error_lsb(largest + 1) > 1.0);
}

TEST_CASE("calibrate --cell sinh: map at the operating input, checked by ngspice there") {
  xbar::test::ScratchDir d;
  const int64_t m = 6, n = 5;
  const Mat g = xbar::support::uniform_matrix(m, n, 5e-6, 5e-5, 17);
  save(d.path / "g.npy", g);
  const std::string wires = " --r-row 6 --r-col 6 --cell sinh --v-read 0.25";
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --g-min 1e-7 --g-max 1e-3 --comp-tol 1e-11 --heldout 20 "
                                  "--calib-inputs 20 --scale 1 --quiet --out c" + wires) == 0);
  CHECK(!fs::exists(d.path / "c/t_effective.npy"));  // no effective matrix for nonlinear cells
  const json r = xbar::test::load_json(d.path / "c/result.json");
  // The default per-column scale needs linear cells: a nonlinear map takes auto, and says so.
  REQUIRE(xbar::test::run_xbar(d, "calibrate --g g.npy --g-min 1e-7 --g-max 1e-3 --heldout 5 --calib-inputs 5 "
                                  "--quiet --out dflt" + wires) == 0);
  const json rd = xbar::test::load_json(d.path / "dflt/result.json");
  CHECK(rd["compensation"]["options"]["scale"] == "per-column");
  CHECK(rd["compensation"]["scale_used"] == "auto (per-column scales need linear cells)");
  CHECK(load(d.path / "dflt/column_scales.npy").size() == n);
  CHECK(r["compensation"]["converged"] == true);
  CHECK(r["compensation"]["operating_input"]["all_rows_v"] == 0.25);
  CHECK(r["errors"]["reference"].get<std::string>().find("sinh") != std::string::npos);
  CHECK(r["errors"]["compensated"]["max_lsb"].get<double>() < r["errors"]["uncompensated"]["max_lsb"].get<double>());
  // Referee: ngspice on the map with every row at 0.25 V against the closed form
  // sum_i G_ij / k sinh(k v) of the same cells without wires (k = 2, the default nl-k).
  REQUIRE(xbar::test::run_xbar(d, "solve --g c/g_compensated.npy --backend ngspice --quiet --out s" + wires) == 0);
  const Mat spice = load(d.path / "s/currents.npy");
  const double v = 0.25, k = 2.0;
  for (int64_t j = 0; j < n; ++j) {
    double want = 0;
    for (int64_t i = 0; i < m; ++i) want += g(i, j) / k * std::sinh(k * v);
    CHECK(spice(0, j) == doctest::Approx(want).epsilon(1e-8));
  }
}

TEST_CASE("calibrate and size: bad keys are named, exit 2, and nothing is written") {
  xbar::test::ScratchDir d;
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"calibrate --rows 8 --cols 8 --scale 1.5", "scale"},
      {"calibrate --rows 8 --cols 8 --scale fast", "scale"},
      {"calibrate --rows 8 --cols 8 --table-on both", "table-on"},
      {"calibrate --rows 8 --cols 8 --pwl-points 1", "pwl-points"},
      {"calibrate --rows 8 --cols 8 --inputs gaussian", "inputs"},
      {"calibrate --rows 8 --cols 8 --backend ngspice", "backend"},
      {"calibrate --rows 8 --cols 8 --heldout 0", "heldout"},
      {"calibrate --rows 8 --cols 8 --calib-inputs 10 --pwl-points 20", "pwl-points"},
      {"calibrate --rows 8 --cols 8 --g-min 2e-6 --g-off 1e-6", "g-min"},
      {"size --sizes 8,x,16", "sizes"},
      {"size --sweep diagonal", "sweep"},
      {"size --budget-lsb 0", "budget-lsb"},
      {"calibrate --rows 8 --cols 8 --effective-method fast", "effective-method"},
      {"size --scale per-row", "scale"},
      {"evaluate --model m.pt --scale 0.5", "key scale"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    std::string err;
    CHECK(xbar::test::run_xbar(d, c.args + " --out o", &err) == 2);
    CHECK(err.find(c.expect) != std::string::npos);
    CHECK(!fs::exists(d.path / "o"));
  }
}
