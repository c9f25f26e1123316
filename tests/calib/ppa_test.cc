// Power, performance and area of a read (calib/ppa.h, calib/technology.h): every figure against
// a hand calculation from the technology's numbers, the line-charging energy against the
// closed form of a single RC node, and the keys of bad values.
#include <doctest/doctest.h>

#include <cmath>

#include "calib/ppa.h"
#include "support/input_error.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"

using namespace xbar;

namespace {

// Sums of a few products: rounding only.
constexpr double kHandRelTol = 1e-14;
// The transient's charge balance is exact (solvers/transient.h): the settled line-charging
// energy matches its closed form to the rounding of the sums over the steps.
constexpr double kEnergyRelTol = 1e-9;

double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

// A transient result with chosen figures (what array_ppa reads from it).
solvers::CrossbarTransient made_up_transient() {
  solvers::CrossbarTransient t;
  t.run.times_s = Eigen::Vector2d(0, 1e-9);  // t_stop = 1 ns
  t.run.energy_j = 5e-12;
  t.run.static_power_w = 2e-3;
  t.max_settling_s = 0.4e-9;
  t.all_settled = true;
  return t;
}

calib::Technology made_up_technology() {
  calib::Technology tech;
  tech.adc_fom_j = 25e-15;
  tech.adc_conversion_s = 1e-9;
  tech.adc_area_m2 = 1e-8;
  tech.dac_energy_j = 1e-14;
  tech.dac_area_m2 = 1e-10;
  tech.tia_power_w = 1e-4;
  tech.tia_area_m2 = 2e-10;
  tech.cell_pitch_m = 1e-7;
  return tech;
}

}  // namespace

TEST_CASE("every PPA figure reproduces its hand calculation") {
  netlists::CrossbarSpec spec;
  spec.rows = 4;
  spec.cols = 8;
  calib::PpaOptions o;
  o.adc_bits = 6;
  o.columns_per_adc = 4;
  const auto p = calib::array_ppa(made_up_transient(), spec, made_up_technology(), o);
  // Energy: static 2 mW x 0.4 ns; charging 5 pJ - 2 mW x 1 ns; 8 ADC conversions of
  // 25 fJ x 2^6; 4 DAC conversions of 10 fJ; 8 TIAs at 0.1 mW for 0.4 ns.
  CHECK(rel(p.array_static_j, 2e-3 * 0.4e-9) < kHandRelTol);
  CHECK(rel(p.line_charging_j, 5e-12 - 2e-3 * 1e-9) < kHandRelTol);
  CHECK(rel(p.adc_j, 8 * 25e-15 * 64) < kHandRelTol);
  CHECK(rel(p.dac_j, 4 * 1e-14) < kHandRelTol);
  CHECK(rel(p.tia_j, 8 * 1e-4 * 0.4e-9) < kHandRelTol);
  CHECK(rel(p.total_j, 0.8e-12 + 3e-12 + 12.8e-12 + 0.04e-12 + 0.32e-12) < kHandRelTol);
  // Latency: settling plus four conversions in a row on each ADC.
  CHECK(rel(p.latency_s, 0.4e-9 + 4 * 1e-9) < kHandRelTol);
  // Area: 32 cells of (100 nm)^2, 2 ADCs, 4 DACs, 8 TIAs.
  CHECK(p.adcs == 2);
  CHECK(rel(p.array_area_m2, 32 * 1e-14) < kHandRelTol);
  CHECK(rel(p.total_area_m2, 32e-14 + 2 * 1e-8 + 4 * 1e-10 + 8 * 2e-10) < kHandRelTol);
  CHECK(p.message.find("largest: ADC") != std::string::npos);
  // A given read time replaces the settling time; an ENOB replaces the nominal bits; the
  // spec's wire pitches replace the cell pitch.
  o.read_time_s = 2e-9;
  calib::Technology tech = made_up_technology();
  tech.adc_enob = 5.5;
  spec.row_geometry = {2e-8, 20e-9, 40e-9, 60e-9};
  spec.col_geometry = {2e-8, 20e-9, 40e-9, 80e-9};
  const auto q = calib::array_ppa(made_up_transient(), spec, tech, o);
  CHECK(rel(q.array_static_j, 2e-3 * 2e-9) < kHandRelTol);
  CHECK(rel(q.adc_j, 8 * 25e-15 * std::exp2(5.5)) < kHandRelTol);
  CHECK(rel(q.array_area_m2, 32 * 60e-9 * 80e-9) < kHandRelTol);
  CHECK(rel(q.latency_s, 2e-9 + 4e-9) < kHandRelTol);
}

TEST_CASE("the line-charging energy of a single RC node is V v_inf tau / R") {
  // Row node C through R from V, cell G to an ideal virtual ground: beyond the static power
  // V (V - v_inf) / R the source delivers V/R times the integral of (v_inf - v) = V v_inf tau / R.
  netlists::CrossbarSpec s;
  s.rows = 1;
  s.cols = 1;
  s.r_driver_ohm = 200;
  s.c_row_f = 3e-15;
  const double g = 1e-3, v = 0.3, r = 200, c = 3e-15;
  const auto x = netlists::build_crossbar(s, netlists::RowMatrixXd::Constant(1, 1, g),
                                          devices::make_cell_model("linear"));
  const double tau = c / (1 / r + g), v_inf = v / r / (1 / r + g);
  solvers::CrossbarTransientOptions o;
  o.transient.t_stop_s = 60 * tau;
  o.settle_tol = 1e-3;
  const auto t = solvers::crossbar_transient(x, Eigen::VectorXd::Constant(1, v), o);
  const auto p = calib::array_ppa(t, s, calib::Technology{}, calib::PpaOptions{});
  CHECK(rel(p.line_charging_j, v * v_inf * tau / r) < kEnergyRelTol);
  CHECK(rel(p.array_static_j, v * (v - v_inf) / r * t.max_settling_s) < 1e-12);
  CHECK(p.settled);
}

TEST_CASE("the default ADC costs the survey's figure of merit times 2^bits") {
  const calib::Technology tech;
  CHECK(rel(tech.adc_energy_j(8), 25e-15 * 256) < kHandRelTol);
  CHECK(rel(tech.adc_conversion_s, 1 / 1.225e9) < kHandRelTol);
}

TEST_CASE("bad technology and PPA values are refused naming the key") {
  calib::Technology tech;
  tech.adc_fom_j = 0;
  CHECK_THROWS_WITH_AS(tech.validate(), doctest::Contains("key adc-fom = 0"), InputError);
  tech = {};
  tech.cell_pitch_m = -1e-7;
  CHECK_THROWS_WITH_AS(tech.validate(), doctest::Contains("key cell-pitch"), InputError);
  tech = {};
  tech.adc_enob = 30;
  CHECK_THROWS_WITH_AS(tech.validate(), doctest::Contains("key adc-enob = 30"), InputError);
  tech = {};
  tech.tia_power_w = std::nan("");
  CHECK_THROWS_WITH_AS(tech.validate(), doctest::Contains("key tia-power"), InputError);
  calib::PpaOptions o;
  o.columns_per_adc = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key columns-per-adc = 0"), InputError);
  o = {};
  o.adc_bits = 0;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key adc-bits = 0"), InputError);
  o = {};
  o.read_time_s = -1;
  CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("key read-time = -1"), InputError);
}
