// `xbar transient`, `xbar check --transient` and `xbar netlist --t-stop` end to end (issue 20),
// each answer against an independent referee: the final values against `xbar solve` of the
// same array (the DC limit), a single RC node against its closed form (waveform, settling
// time, energy), the energy of a purely resistive array against V I t from `xbar solve`'s
// currents, the transient against ngspice's .tran of the same deck, and the written decks
// against `ngspice -b`.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"
#include "tests/engine/cli_harness.h"

using namespace xbar::cli_test;  // Scratch, Run, run_xbar, fixtures (cli_harness.h)
using xbar::engine::io::NpyArray;

namespace {

constexpr double kGLow = 1e-5;
constexpr double kGHigh = 1e-4;
constexpr double kVLow = 0.05;
constexpr double kVHigh = 0.3;
// The transient's final values against `xbar solve`: both are direct solves of the same DC
// system (the transient ends at its steady state and records the DC solution there), so they
// agree to the back ends' rounding, ~1e-13 of full scale (check's native-vs-ngspice tolerance
// is 1e-9 for the same reason).
constexpr double kDcLimitRel = 1e-9;
// A circuit without capacitance: the energy is exactly P_dc t_stop (solvers/transient.h: the
// quadrature is the one the method balances), up to the rounding of the sums over the steps.
constexpr double kResistiveEnergyRel = 1e-9;
// The single RC node at --lte-tol 1e-7: the global error of adaptive TR-BDF2 is 5-40x the
// local tolerance (solvers/transient.h), so 1e-5 of full scale holds with margin.
constexpr double kRcWaveformTol = 1e-5;
// Its energy: the charge balance is exact (solvers/transient.h), the remaining decay after the
// early steady end is added in closed form; what is left is rounding over a few hundred steps.
constexpr double kRcEnergyRel = 1e-9;
// ngspice -b prints 7 significant digits.
constexpr double kNgspicePrintRel = 1e-5;

NpyArray load(const fs::path& path) { return xbar::engine::io::read_npy(path.string()); }

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

}  // namespace

TEST_CASE("transient writes T times, T x N waveforms whose last row is xbar solve's currents") {
  Scratch s;
  const int64_t m = 8, n = 6;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, kGHigh, 2001));
  save_vector(s.file("v.npy"), random_matrix(1, m, kVLow, kVHigh, 2002).a);
  const std::vector<std::string> array = {"--g", "g.npy", "--v", "v.npy", "--r-row", "2.5", "--r-col", "2.5",
                                          "--r-driver", "20", "--r-sense", "10", "--quiet"};
  const Run t = run_xbar(s, with({"transient"}, with(array, {"--c-row", "1e-15", "--c-col", "2e-15", "--out", "tr"})));
  REQUIRE_MESSAGE(t.status == 0, t.err);
  const Run d = run_xbar(s, with({"solve"}, with(array, {"--out", "dc"})));
  REQUIRE_MESSAGE(d.status == 0, d.err);
  const NpyArray times = load(s.work() / "tr/times.npy"), w = load(s.work() / "tr/waveforms.npy");
  const NpyArray dc = load(s.work() / "dc/currents.npy");
  REQUIRE(times.shape.size() == 1);
  const int64_t tn = times.shape[0];
  REQUIRE(w.shape == std::vector<int64_t>{tn, n});
  CHECK(times.data.front() == 0);
  CHECK(times.data.back() == doctest::Approx(10e-9).epsilon(1e-15));  // the default t-stop
  CHECK(std::is_sorted(times.data.begin(), times.data.end()));
  const double fs_a = *std::max_element(dc.data.begin(), dc.data.end());
  for (int64_t j = 0; j < n; ++j) {
    CAPTURE(j);
    CHECK(std::abs(w.data[size_t((tn - 1) * n + j)] - dc.data[size_t(j)]) <= kDcLimitRel * fs_a);
    CHECK(w.data[size_t(j)] == 0);  // at t = 0+ the capacitors still hold 0 V: no current yet
  }
  const json r = read_json(s.work() / "tr/result.json");
  CHECK(r["command"] == "transient");
  CHECK(r["seed"] == 1);
  CHECK(!r["version"].get<std::string>().empty());
  CHECK(r["config"]["c-row"]["value"] == 1e-15);
  CHECK(r["config"]["c-row"]["from"] == "command line");
  CHECK(r["config"]["t-stop"]["from"] == "default");
  CHECK(r["settling"]["settling_s"].size() == size_t(n));
  CHECK(r["settling"]["all_settled"] == true);
  const double band = r["settling"]["settle_band_a"];
  CHECK(band == doctest::Approx(0.5 / 256 * r["settling"]["full_scale_a"].get<double>()));
  // Each column's settling time: after it, the waveform stays inside the band; before it, the
  // sample just earlier is outside (the definition, checked on the written waveforms).
  for (int64_t j = 0; j < n; ++j) {
    const double ts = r["settling"]["settling_s"][size_t(j)];
    CAPTURE(j);
    CHECK(ts > 0);
    for (int64_t k = 0; k < tn; ++k)
      if (times.data[size_t(k)] > ts) CHECK(std::abs(w.data[size_t(k * n + j)] - dc.data[size_t(j)]) <= band * (1 + 1e-9));
    int64_t before = 0;
    while (before + 1 < tn && times.data[size_t(before + 1)] < ts) ++before;
    CHECK(std::abs(w.data[size_t(before * n + j)] - dc.data[size_t(j)]) > band);
  }
  CHECK(r["energy"]["energy_j"].get<double>() > 0);
  CHECK(r["energy"]["row_energy_j"].size() == size_t(m));
  CHECK(r["final"]["final_vs_dc"].get<double>() <= kDcLimitRel);
  CHECK(r["outputs"]["waveforms_shape"] == json::array({tn, n}));
}

TEST_CASE("without capacitance the energy drawn is V I t_stop with I from xbar solve") {
  Scratch s;
  const int64_t m = 5, n = 7;
  const double v = 0.25, t_stop = 3e-9;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, kGHigh, 2011));
  const std::vector<std::string> array = {"--g", "g.npy", "--v-read", "0.25", "--r-row", "3", "--r-col", "1.5",
                                          "--r-driver", "40", "--quiet"};
  const Run t = run_xbar(s, with({"transient"}, with(array, {"--t-stop", "3e-9", "--out", "tr"})));
  REQUIRE_MESSAGE(t.status == 0, t.err);
  const Run d = run_xbar(s, with({"solve"}, with(array, {"--out", "dc"})));
  REQUIRE_MESSAGE(d.status == 0, d.err);
  const NpyArray dc = load(s.work() / "dc/currents.npy");
  // Every row at v: all the current the sources deliver flows into the virtual grounds.
  double sum_i = 0;
  for (double i : dc.data) sum_i += i;
  const json r = read_json(s.work() / "tr/result.json");
  CHECK(r["energy"]["energy_j"].get<double>() == doctest::Approx(v * sum_i * t_stop).epsilon(kResistiveEnergyRel));
  CHECK(r["energy"]["static_power_w"].get<double>() == doctest::Approx(v * sum_i).epsilon(kResistiveEnergyRel));
  CHECK(std::abs(r["energy"]["line_charging_j"].get<double>()) <= kResistiveEnergyRel * v * sum_i * t_stop);
}

TEST_CASE("a single RC node follows its closed form: waveform, settling time within one step, energy") {
  // Row node with C to ground, driven through R from V, cell g to an ideal virtual ground:
  // tau = C / (1/R + g), v(t) = v_inf (1 - exp(-t / tau)), I(t) = g v(t).
  Scratch s;
  const double r_ohm = 200, c_f = 3e-15, g = 1e-3, v = 0.3;
  save(s.file("g.npy"), Matrix{1, 1, {g}});
  const Run t = run_xbar(s, {"transient", "--g", "g.npy", "--v-read", "0.3", "--r-driver", "200", "--c-row", "3e-15",
                             "--lte-tol", "1e-7", "--t-stop", "1e-11", "--quiet", "--out", "rc"});
  REQUIRE_MESSAGE(t.status == 0, t.err);
  const double tau = c_f / (1 / r_ohm + g), v_inf = v / r_ohm / (1 / r_ohm + g);
  const NpyArray times = load(s.work() / "rc/times.npy"), w = load(s.work() / "rc/waveforms.npy");
  const double full_scale = g * v;  // the default: ideal column current at max |v|
  double worst = 0;
  for (size_t k = 0; k < times.data.size(); ++k)
    worst = std::max(worst, std::abs(w.data[k] - g * v_inf * (1 - std::exp(-times.data[k] / tau))) / full_scale);
  CHECK(worst <= kRcWaveformTol);
  const json r = read_json(s.work() / "rc/result.json");
  const double band = r["settling"]["settle_band_a"];
  CHECK(band == doctest::Approx(full_scale / 512));
  const double ts_exact = tau * std::log(g * v_inf / band);
  const double ts = r["settling"]["settling_s"][0];
  size_t k = 0;  // the step that contains the exact settling time
  while (k + 2 < times.data.size() && times.data[k + 1] < ts_exact) ++k;
  CHECK(std::abs(ts - ts_exact) <= times.data[k + 1] - times.data[k]);
  // Energy: V/R times the integral of (V - v), to t_stop = 1e-11 s >> tau (0.5 ps).
  const double t_stop = 1e-11;
  const double e_exact = v / r_ohm * (v * t_stop - v_inf * (t_stop - tau * (1 - std::exp(-t_stop / tau))));
  CHECK(r["energy"]["energy_j"].get<double>() == doctest::Approx(e_exact).epsilon(kRcEnergyRel));
}

TEST_CASE("check --transient agrees with ngspice .tran on the same deck, and exits 3 past a tolerance") {
  Scratch s;
  const int64_t m = 4, n = 3;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, kGHigh, 2021));
  save_vector(s.file("v.npy"), random_matrix(1, m, kVLow, kVHigh, 2022).a);
  // Matched steps (the condition for 1e-4 of full scale): native fixed step = ngspice's TMAX.
  const std::vector<std::string> a = {"check", "--transient", "--g", "g.npy", "--v", "v.npy", "--r-row", "2.5",
                                      "--r-col", "2.5", "--r-driver", "100", "--r-sense", "50", "--c-row", "2e-15",
                                      "--c-col", "2e-15", "--t-stop", "1e-11", "--time-step", "1e-14", "--quiet"};
  const Run ok = run_xbar(s, with(a, {"--out", "chk"}));
  CHECK_MESSAGE(ok.status == 0, ok.err);
  const json c = read_json(s.work() / "chk/check.json");
  CHECK(c["pass"] == true);
  CHECK(c["comparison"]["max_waveform_diff"].get<double>() <= 1e-4);
  CHECK(c["comparison"]["max_settling_diff_steps"].get<double>() <= 1);
  CHECK(c["comparison"]["energy_rel_diff"].get<double>() <= 1e-3);
  CHECK(c["ngspice"]["deck_t_max_s"] == 1e-14);
  const NpyArray nt = load(s.work() / "chk/ngspice_times.npy"), nw = load(s.work() / "chk/ngspice_waveforms.npy");
  CHECK(nw.shape == std::vector<int64_t>{nt.shape[0], n});
  CHECK(nt.shape[0] >= 1000);  // TMAX 1e-14 over 1e-11 s
  // A tolerance tighter than any two integrators agree: exit 3, pass false, the file written.
  const Run bad = run_xbar(s, with(a, {"--waveform-tol", "1e-15", "--out", "chk_tight"}));
  CHECK_MESSAGE(bad.status == 3, bad.err);
  const json b = read_json(s.work() / "chk_tight/check.json");
  CHECK(b["pass"] == false);
  CHECK(b["comparison"]["waveform_pass"] == false);
}

TEST_CASE("netlist writes the capacitors, and with --t-stop a .tran deck with PWL steps that ngspice -b runs") {
  Scratch s;
  const int64_t m = 3, n = 4;
  save(s.file("g.npy"), random_matrix(m, n, kGLow, kGHigh, 2031));
  const std::vector<std::string> a = {"netlist", "--g", "g.npy", "--r-row", "2", "--r-col", "2", "--r-driver", "50",
                                      "--c-row", "1e-15", "--c-col", "2e-15", "--quiet"};
  auto count = [](const std::string& text, const std::string& what) {
    size_t c = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++c;
    return c;
  };
  SUBCASE("a DC deck: capacitors are open at DC, ngspice -b solves it to xbar solve's currents") {
    REQUIRE(run_xbar(s, with(a, {"--out", "dc.cir"})).status == 0);
    const std::string deck = read_all(s.work() / "dc.cir");
    CHECK(count(deck, "\ncrow_") == size_t(m * n));
    CHECK(count(deck, "\nccol_") == size_t(m * n));
    CHECK(count(deck, ".op") == 1);
    CHECK(count(deck, ".tran") == 0);
    const Run ng = run_program(s, "ngspice", {"-b", "dc.cir"});
    REQUIRE_MESSAGE(ng.status == 0, ng.err);
    std::vector<std::string> solve = {"solve", "--out", "dc"};
    for (size_t k = 1; k < a.size(); ++k)
      if (a[k] != "--c-row" && a[k] != "--c-col" && a[k - 1] != "--c-row" && a[k - 1] != "--c-col") solve.push_back(a[k]);
    REQUIRE(run_xbar(s, solve).status == 0);
    const NpyArray dc = load(s.work() / "dc/currents.npy");
    // ngspice -b prints every branch current of the operating point, 7 significant digits.
    std::istringstream lines(ng.out);
    std::string line;
    int found = 0;
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::string name, value;
      if (!(words >> name >> value) || name.rfind("vsnsb_", 0) != 0 || name.find("#branch") == std::string::npos) continue;
      const size_t j = std::stoul(name.substr(6));
      REQUIRE(j < size_t(n));
      CHECK(std::abs(std::strtod(value.c_str(), nullptr) - dc.data[j]) <= kNgspicePrintRel * std::abs(dc.data[j]));
      ++found;
    }
    CHECK(found == n);
  }
  SUBCASE("a transient deck: PWL row steps, .tran, .print; ngspice -b runs it to xbar transient's final values") {
    const std::vector<std::string> tr = {"--t-stop", "2e-11", "--time-step", "1e-13"};
    REQUIRE(run_xbar(s, with(with(a, tr), {"--out", "tr.cir"})).status == 0);
    const std::string deck = read_all(s.work() / "tr.cir");
    CHECK(count(deck, "\ncrow_") == size_t(m * n));
    CHECK(count(deck, "pwl(") == size_t(m));
    CHECK(count(deck, ".tran 1e-13 2e-11 0 1e-13") == 1);
    CHECK(count(deck, ".print tran i(vsnsb_0) i(vsnsb_1) i(vsnsb_2)\n.print tran i(vsnsb_3)\n") == 1);
    CHECK(count(deck, ".op") == 0);
    const Run ng = run_program(s, "ngspice", {"-b", "tr.cir"});
    REQUIRE_MESSAGE(ng.status == 0, ng.err);
    std::vector<std::string> t = {"transient", "--out", "trrun"};
    t.insert(t.end(), a.begin() + 1, a.end());
    t.insert(t.end(), tr.begin(), tr.end());
    REQUIRE(run_xbar(s, t).status == 0);
    const NpyArray w = load(s.work() / "trrun/waveforms.npy");
    // ngspice -b prints tables headed "Index time NAME..."; the last row of each holds t_stop.
    std::istringstream lines(ng.out);
    std::string line;
    std::vector<std::string> names;
    std::map<std::string, std::vector<double>> last;  // vector name -> (time, value) of its last row
    while (std::getline(lines, line)) {
      std::istringstream words(line);
      std::vector<std::string> tok;
      for (std::string w; words >> w;) tok.push_back(w);
      if (tok.size() >= 3 && tok[0] == "Index" && tok[1] == "time") {
        names.assign(tok.begin() + 2, tok.end());
        continue;
      }
      if (names.empty() || tok.size() != names.size() + 2) continue;
      char* end = nullptr;
      std::strtod(tok[0].c_str(), &end);
      if (*end != '\0') continue;
      for (size_t k = 0; k < names.size(); ++k)
        last[names[k]] = {std::strtod(tok[1].c_str(), nullptr), std::strtod(tok[k + 2].c_str(), nullptr)};
    }
    const size_t t_last = size_t(w.shape[0] - 1);
    for (int64_t j = 0; j < n; ++j) {
      CAPTURE(j);
      const std::string name = "vsnsb_" + std::to_string(j) + "#branch";
      REQUIRE(last.count(name));
      CHECK(last[name][0] == doctest::Approx(2e-11));
      const double native = w.data[t_last * size_t(n) + size_t(j)];
      CHECK(std::abs(last[name][1] - native) <= kNgspicePrintRel * std::abs(native));
    }
  }
}
