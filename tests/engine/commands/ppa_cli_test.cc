// `xbar ppa` end to end (issue 20): every figure of an array's read and of a network's
// inference reproduces its hand calculation from the technology file's numbers, the static
// power comes from `xbar solve`'s currents, the line-charging energy of a single RC node from
// its closed form, and the shipped template is the built-in technology.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"
#include "tests/engine/cli_harness.h"

#ifndef XBAR_SOURCE_DIR
#error "XBAR_SOURCE_DIR must be defined by the build"
#endif

using namespace xbar::cli_test;  // Scratch, Run, run_xbar, fixtures (cli_harness.h)

namespace {

// Sums and products of a few numbers read back from JSON written with 17 digits: rounding only.
constexpr double kHandRel = 1e-12;
// The static power against `xbar solve`'s currents: two direct solves of the same DC system.
constexpr double kDcRel = 1e-9;
// The line-charging energy of one RC node against its closed form: exact charge balance
// (solvers/transient.h), rounding over the steps (tests/calib/ppa_test.cc uses the same).
constexpr double kEnergyRel = 1e-9;

// A technology whose every figure differs from the defaults and from each other.
const char* const kTechnology =
    "[adc]\nadc-fom = 20e-15\nadc-enob = 0\nadc-conversion-time = 1e-9\nadc-area = 1e-9\n"
    "[dac]\ndac-energy = 5e-14\ndac-area = 2e-11\n[sense]\ntia-power = 1e-4\ntia-area = 3e-11\n"
    "[array]\ncell-pitch = 1.5e-7\n";

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// ppa.csv of an array: figure -> value.
std::map<std::string, double> csv_figures(const std::string& text) {
  std::map<std::string, double> f;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  REQUIRE(line == "figure,value,unit");
  while (std::getline(lines, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    f[line.substr(0, a)] = std::stod(line.substr(a + 1, b - a - 1));
  }
  return f;
}

}  // namespace

TEST_CASE("ppa of an array reproduces every hand calculation from the technology file") {
  Scratch s;
  const int64_t m = 6, n = 10;
  const double v = 0.2;
  save(s.file("g.npy"), random_matrix(m, n, 1e-5, 1e-4, 3001));
  write_text(s.work() / "tech.ini", kTechnology);
  const std::vector<std::string> array = {"--g", "g.npy", "--v-read", "0.2", "--r-row", "2", "--r-col", "2",
                                          "--r-driver", "30", "--quiet"};
  const std::vector<std::string> caps = {"--c-row", "1e-15", "--c-col", "1e-15"};
  const Run p = run_xbar(s, with(with({"ppa"}, array), with(caps, {"--technology", "tech.ini", "--adc-bits", "6",
                                                                   "--columns-per-adc", "4", "--out", "pp"})));
  REQUIRE_MESSAGE(p.status == 0, p.err);
  const Run d = run_xbar(s, with(with({"solve"}, array), {"--out", "dc"}));
  REQUIRE_MESSAGE(d.status == 0, d.err);
  const Run t = run_xbar(s, with(with({"transient"}, array), with(caps, {"--out", "tr"})));
  REQUIRE_MESSAGE(t.status == 0, t.err);

  const json j = read_json(s.work() / "pp/ppa.json");
  const json& e = j["ppa"]["energy_per_read_j"];
  const json& lat = j["ppa"]["latency_s"];
  const json& area = j["ppa"]["area_m2"];
  const double settle = j["settling"]["max_settling_s"];
  const json tr = read_json(s.work() / "tr/result.json");
  CHECK(settle == tr["settling"]["max_settling_s"].get<double>());  // the same transient
  CHECK(settle > 0);
  // Static power: every row at v, all of it flowing into the virtual grounds.
  double sum_i = 0;
  for (double i : xbar::engine::io::read_npy((s.work() / "dc/currents.npy").string()).data) sum_i += i;
  const double p_static = v * sum_i;
  CHECK(rel(j["ppa"]["static_power_w"], p_static) < kDcRel);
  CHECK(rel(e["array_static_j"], p_static * settle) < kDcRel);
  const double t_stop = 10e-9;
  CHECK(rel(e["line_charging_j"], tr["energy"]["energy_j"].get<double>() - tr["energy"]["static_power_w"].get<double>() * t_stop) <
        kHandRel);
  CHECK(e["line_charging_j"].get<double>() > 0);
  // ADC: 10 conversions of 20 fJ x 2^6; DAC: 6 of 50 fJ; TIA: 10 x 0.1 mW over the settling.
  CHECK(rel(e["adc_j"], 10 * 20e-15 * 64) < kHandRel);
  CHECK(rel(e["dac_j"], 6 * 5e-14) < kHandRel);
  CHECK(rel(e["tia_j"], 10 * 1e-4 * settle) < kHandRel);
  CHECK(rel(e["total_j"], e["array_static_j"].get<double>() + e["line_charging_j"].get<double>() + 10 * 20e-15 * 64 +
                              6 * 5e-14 + 10 * 1e-4 * settle) < kHandRel);
  // Latency: settling, then 4 columns one after another on each ADC.
  CHECK(rel(lat["total_s"], settle + 4 * 1e-9) < kHandRel);
  // Area: 60 cells of (150 nm)^2, ceil(10 / 4) = 3 ADCs, 6 DACs, 10 TIAs.
  CHECK(j["ppa"]["adcs"] == 3);
  CHECK(rel(area["array_m2"], 60 * 1.5e-7 * 1.5e-7) < kHandRel);
  CHECK(rel(area["total_m2"], 60 * 1.5e-7 * 1.5e-7 + 3 * 1e-9 + 6 * 2e-11 + 10 * 3e-11) < kHandRel);
  // The technology is recorded with its source; ppa.csv holds the same figures.
  CHECK(j["technology"]["source"] == "tech.ini");
  CHECK(j["technology"]["figures"]["adc-fom"]["value"] == 20e-15);
  const auto csv = csv_figures(read_all(s.work() / "pp/ppa.csv"));
  CHECK(rel(csv.at("energy_total"), e["total_j"]) < 1e-15);
  CHECK(rel(csv.at("latency_total"), lat["total_s"]) < 1e-15);
  CHECK(rel(csv.at("area_total"), area["total_m2"]) < 1e-15);
}

TEST_CASE("ppa without --technology uses the shipped template's figures, and its ADC costs 25 fJ x 2^8") {
  Scratch s;
  const std::vector<std::string> a = {"ppa", "--rows", "4", "--cols", "5", "--c-row", "1e-15", "--quiet"};
  REQUIRE(run_xbar(s, with(a, {"--out", "builtin"})).status == 0);
  const std::string tmpl = std::string(XBAR_SOURCE_DIR) + "/calib/technology.ini";
  REQUIRE(run_xbar(s, with(a, {"--technology", tmpl, "--out", "template"})).status == 0);
  const json b = read_json(s.work() / "builtin/ppa.json"), t = read_json(s.work() / "template/ppa.json");
  CHECK(b["ppa"]["energy_per_read_j"] == t["ppa"]["energy_per_read_j"]);
  CHECK(b["ppa"]["area_m2"] == t["ppa"]["area_m2"]);
  CHECK(b["ppa"]["latency_s"] == t["ppa"]["latency_s"]);
  CHECK(b["technology"]["figures"] == t["technology"]["figures"]);
  CHECK(rel(b["ppa"]["energy_per_read_j"]["adc_j"], 5 * 25e-15 * 256) < kHandRel);
}

TEST_CASE("the line-charging energy of a single RC node is V v_inf tau / R through the CLI") {
  Scratch s;
  const double r = 200, c = 3e-15, g = 1e-3, v = 0.3;
  save(s.file("g.npy"), Matrix{1, 1, {g}});
  const Run p = run_xbar(s, {"ppa", "--g", "g.npy", "--v-read", "0.3", "--r-driver", "200", "--c-row", "3e-15",
                             "--t-stop", "3e-11", "--quiet", "--out", "rc"});
  REQUIRE_MESSAGE(p.status == 0, p.err);
  const double tau = c / (1 / r + g), v_inf = v / r / (1 / r + g);
  // t-stop = 60 tau: the finite-time value V v_inf tau (1 - exp(-t/tau)) / R is the limit.
  const json j = read_json(s.work() / "rc/ppa.json");
  CHECK(rel(j["ppa"]["energy_per_read_j"]["line_charging_j"], v * v_inf * tau / r) < kEnergyRel);
}

TEST_CASE("ppa --model costs every tile of the CNN: per layer and per inference, as calculated by hand") {
  Scratch s;
  const Run tr = run_xbar(s, {"train", "--model", "cnn", "--epochs", "1", "--batch-size", "32", "--train-subset",
                              "200", "--subset", "50", "--seed", "3", "--threads", "1", "--quiet", "--out", "cnn"});
  REQUIRE_MESSAGE(tr.status == 0, tr.err);
  write_text(s.work() / "tech.ini", kTechnology);
  const Run p = run_xbar(s, {"ppa", "--model", "cnn/model.pt", "--tile-rows", "128", "--tile-cols", "128",
                             "--r-row", "2.5", "--r-col", "2.5", "--c-row", "1e-15", "--c-col", "1e-15",
                             "--lte-tol", "1e-4", "--technology", "tech.ini", "--adc-bits", "5", "--quiet", "--out", "pm"});
  REQUIRE_MESSAGE(p.status == 0, p.err);
  const json j = read_json(s.work() / "pm/ppa.json");
  // LeNet-5 as xbar trains it: conv1 1->6 5x5 pad 2 (28x28 outputs), conv2 6->16 5x5 (10x10),
  // fc1 400->120, fc2 120->84, fc3 84->10; differential pairs: 2 columns per output.
  struct Hand {
    const char* name;
    int64_t fan_in, fan_out, reads;
  };
  const Hand layers[] = {{"conv1", 25, 6, 28 * 28}, {"conv2", 150, 16, 10 * 10}, {"fc1", 400, 120, 1},
                         {"fc2", 120, 84, 1},       {"fc3", 84, 10, 1}};
  REQUIRE(j["layers"].size() == 5);
  const double e_conv = 20e-15 * 32;  // adc-fom x 2^5
  double energy = 0, latency = 0, area = 0, adc_total = 0;
  int64_t tiles_total = 0;
  for (size_t k = 0; k < 5; ++k) {
    const Hand& h = layers[k];
    const json& l = j["layers"][k];
    CAPTURE(h.name);
    CHECK(l["name"] == h.name);
    CHECK(l["reads_per_inference"] == h.reads);
    const int64_t row_tiles = (h.fan_in + 127) / 128, col_tiles = (2 * h.fan_out + 127) / 128;
    CHECK(l["tiles"] == row_tiles * col_tiles);
    tiles_total += row_tiles * col_tiles;
    // Every tile converts each of its columns once per read: row tiles x 2 fan_out conversions;
    // every tile's rows take one DAC conversion: col tiles x fan_in.
    const double adc = double(h.reads) * double(row_tiles * 2 * h.fan_out) * e_conv;
    CHECK(rel(l["energy_components_per_inference_j"]["adc_j"], adc) < kHandRel);
    CHECK(rel(l["energy_components_per_inference_j"]["dac_j"], double(h.reads) * double(col_tiles * h.fan_in) * 5e-14) <
          kHandRel);
    CHECK(rel(l["array_area_m2"], double(h.fan_in * 2 * h.fan_out) * 1.5e-7 * 1.5e-7) < kHandRel);
    // The layer's latency: reads x its slowest tile's settling + one conversion (1 column per ADC).
    double slowest = 0;
    for (const json& t : j["tiles"])
      if (t["layer"] == h.name) slowest = std::max(slowest, t["settling_s"].get<double>() + 1e-9);
    CHECK(rel(l["latency_per_inference_s"], double(h.reads) * slowest) < kHandRel);
    energy += l["energy_per_inference_j"].get<double>();
    latency += l["latency_per_inference_s"].get<double>();
    area += l["area_m2"].get<double>();
    adc_total += adc;
  }
  const json& total = j["per_inference"];
  CHECK(total["tiles"] == tiles_total);
  CHECK(j["tiles"].size() == size_t(tiles_total));
  CHECK(rel(total["energy_j"], energy) < kHandRel);
  CHECK(rel(total["latency_s"], latency) < kHandRel);
  CHECK(rel(total["area_m2"], area) < kHandRel);
  CHECK(rel(total["energy_components_j"]["adc_j"], adc_total) < kHandRel);
  CHECK(total["energy_components_j"]["line_charging_j"].get<double>() > 0);
  // ppa.csv: one row per layer and the total, the same numbers.
  const std::string csv = read_all(s.work() / "pm/ppa.csv");
  CHECK(csv.rfind("layer,kind,fan_in,fan_out,tiles,reads_per_inference,energy_per_inference_j", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 7);
  CHECK(csv.find("\nconv1,conv,25,6,1,784,") != std::string::npos);
  CHECK(csv.find("\ntotal,network,,," + std::to_string(tiles_total) + ",,") != std::string::npos);
}
