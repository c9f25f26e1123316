// The Flash cell (issue 18): the EKV current against its closed-form limits in subthreshold and
// strong inversion and against the formula evaluated literally in long double, the three
// derivatives against finite differences, finite values at extreme arguments, the regions'
// boundaries, the inverse read, and bad parameters naming their keys.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "devices/flash_cell.h"
#include "support/input_error.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"

using namespace xbar;
using devices::FlashCell;
using devices::FlashParams;
using devices::FlashRegion;
using devices::GateLines;

namespace {

// The limits below drop terms of relative size e^{-|x|} with |x| >= 40 (< 5e-18); what is left
// is rounding in the two evaluations, a few ulp each.
constexpr double kLimitRelTol = 1e-13;
// The literal formula in long double (64-bit mantissa) against the double implementation: the
// difference F(x_f) - F(x_r) loses up to log2(F / (F_f - F_r)) bits; at the points below
// (|V_DS| >= 10 mV) that is at most ~6 bits of 53.
constexpr double kLiteralRelTol = 1e-13;
// Central differences with step h = 1e-5 V: truncation ~ (h / V_T)^2 / 6 ~ 3e-8 relative,
// rounding ~ 1e-16 V_T / h ~ 3e-13 relative; 1e-6 leaves a wide margin for both and still
// catches any wrong term (those are O(1) relative).
constexpr double kFdStepV = 1e-5;
constexpr double kFdRelTol = 1e-6;

FlashParams params(double beta = 1e-4, double n = 1.5, double t = 300) {
  FlashParams p;
  p.beta_a_per_v2 = beta;
  p.n = n;
  p.temperature_k = t;
  return p;
}

GateLines gate(double v) {
  GateLines g;
  g.v_gate_v = v;
  return g;
}

// I = 2 n beta V_T^2 [ln^2(1 + e^{x_f}) - ln^2(1 + e^{x_r})], written literally in long double.
long double literal_current(const FlashParams& p, double vth, double vd, double vg, double vs) {
  const long double vt = 1.380649e-23L / 1.602176634e-19L * p.temperature_k;
  const long double vp = ((long double)vg - vth) / p.n;
  auto f = [](long double x) {
    const long double l = std::log(1.0L + std::exp(x));
    return l * l;
  };
  return 2.0L * p.n * p.beta_a_per_v2 * vt * vt * (f((vp - vs) / (2 * vt)) - f((vp - vd) / (2 * vt)));
}

double rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

}  // namespace

TEST_CASE("in strong inversion the flash current is the square law beta (V_G - V_th - n V_D / 2) V_D") {
  const FlashParams p = params(2e-4, 1.4, 300);
  const double vg = 5.0;
  const FlashCell cell(p, gate(vg));
  const double vt = p.thermal_voltage_v();
  // Both channel ends strongly inverted: x_f, x_r >= 40, i.e. V_P - V_D >= 80 V_T.
  for (double vth : {-1.0, 0.2, 0.5})
    for (double vd : {0.01, 0.1, 0.3}) {
      const double vp = (vg - vth) / p.n;
      REQUIRE((vp - vd) / (2 * vt) >= 40);
      const double expect = p.beta_a_per_v2 * (vg - vth - p.n * vd / 2) * vd;
      CAPTURE(vth);
      CAPTURE(vd);
      CHECK(rel(cell.evaluate(vth, vd).i_a, expect) < kLimitRelTol);
      CHECK(cell.region(vth, vd, vg, 0.0) == int(FlashRegion::kLinear));
    }
  // With a source above ground: beta [(V_G - V_th)(V_D - V_S) - n (V_D^2 - V_S^2) / 2].
  const double vs = 0.2, vd = 0.35, vth = 0.3;
  const double expect = p.beta_a_per_v2 * ((vg - vth) * (vd - vs) - p.n * (vd * vd - vs * vs) / 2);
  CHECK(rel(cell.evaluate_gated(vth, vd, vg, vs).i_a, expect) < kLimitRelTol);
}

TEST_CASE("in subthreshold the flash current is exponential in V_G - V_th with swing n V_T") {
  const FlashParams p = params(1e-4, 1.5, 350);
  const double vt = p.thermal_voltage_v();
  const FlashCell cell(p, gate(1.0));
  // x_f, x_r <= -40: V_P - V_S <= -80 V_T. Then
  // I = 2 n beta V_T^2 e^{(V_G - V_th)/(n V_T)} (e^{-V_S/V_T} - e^{-V_D/V_T}).
  for (double vth : {4.7, 5.5, 8.0})
    for (double vd : {0.01, 0.05, 0.5}) {
      const double vg = 1.0, vs = 0.0;
      REQUIRE(((vg - vth) / p.n - vs) / (2 * vt) <= -40);
      const double expect = 2 * p.n * p.beta_a_per_v2 * vt * vt * std::exp((vg - vth) / (p.n * vt)) *
                            (std::exp(-vs / vt) - std::exp(-vd / vt));
      CAPTURE(vth);
      CAPTURE(vd);
      CHECK(rel(cell.evaluate_gated(vth, vd, vg, vs).i_a, expect) < kLimitRelTol);
      CHECK(cell.region(vth, vd, vg, vs) == int(FlashRegion::kSubthreshold));
    }
  // Saturated in V_D: far past V_T the drain no longer matters; from 0.8 V to 1.6 V the
  // current changes by e^{-0.8 V / V_T} = 3e-12 relative (V_T = 30.2 mV at 350 K).
  const double i1 = cell.evaluate(4.7, 0.8).i_a, i2 = cell.evaluate(4.7, 1.6).i_a;
  CHECK(rel(i1, i2) < 1e-11);
  CHECK(rel(i1, i2) == doctest::Approx(std::exp(-0.8 / vt)).epsilon(1e-3));
}

TEST_CASE("everywhere between, the flash current is the EKV formula evaluated literally") {
  const FlashParams p = params(1e-4, 1.5, 300);
  const FlashCell cell(p, gate(1.8));
  for (double vth : {-0.5, 0.4, 1.2, 1.6, 1.75, 1.8, 1.85, 2.0, 2.4})
    for (double vd : {-0.3, -0.05, 0.01, 0.1, 0.4})
      for (double vs : {0.0, 0.05, 0.12}) {
        if (std::abs(vd - vs) < 0.01) continue;
        CAPTURE(vth);
        CAPTURE(vd);
        CAPTURE(vs);
        const double got = cell.evaluate_gated(vth, vd, 1.8, vs).i_a;
        CHECK(rel(got, double(literal_current(p, vth, vd, 1.8, vs))) < kLiteralRelTol);
        // Symmetric in drain and source, exactly.
        CHECK(cell.evaluate_gated(vth, vs, 1.8, vd).i_a == -got);
      }
}

TEST_CASE("the three flash derivatives match central finite differences in every region") {
  const FlashParams p = params(1e-4, 1.5, 300);
  const FlashCell cell(p, gate(1.8));
  const double h = kFdStepV;
  int regions_seen[4] = {0, 0, 0, 0};
  for (double vth : {0.3, 1.3, 1.7, 1.9, 2.6})
    for (double vd : {0.02, 0.2, 1.0})
      for (double vs : {0.0, 0.08})
        for (double vg : {1.5, 1.8}) {
          CAPTURE(vth);
          CAPTURE(vd);
          CAPTURE(vs);
          CAPTURE(vg);
          auto i = [&](double d, double g, double s) { return cell.evaluate_gated(vth, d, g, s).i_a; };
          const devices::MosEval e = cell.evaluate_gated(vth, vd, vg, vs);
          const double fd_d = (i(vd + h, vg, vs) - i(vd - h, vg, vs)) / (2 * h);
          const double fd_g = (i(vd, vg + h, vs) - i(vd, vg - h, vs)) / (2 * h);
          const double fd_s = (i(vd, vg, vs + h) - i(vd, vg, vs - h)) / (2 * h);
          // Relative to the largest of the three: a derivative that is exactly 0 in theory
          // (saturation: dI/dV_D) is then held to the same absolute standard.
          const double scale = std::max({std::abs(fd_d), std::abs(fd_g), std::abs(fd_s)});
          CHECK(std::abs(e.di_dvd_s - fd_d) <= kFdRelTol * scale);
          CHECK(std::abs(e.di_dvg_s - fd_g) <= kFdRelTol * scale);
          CHECK(std::abs(e.di_dvs_s - fd_s) <= kFdRelTol * scale);
          ++regions_seen[cell.region(vth, vd, vg, vs)];
          // The two-terminal read's dI/dV is dI/dV_D with the source at 0 V.
          if (vs == 0 && vg == 1.8) CHECK(cell.evaluate(vth, vd).di_dv_s == e.di_dvd_s);
        }
  for (int q = 0; q < 4; ++q) CHECK_MESSAGE(regions_seen[q] > 0, "region " << q << " never sampled");
}

TEST_CASE("flash evaluation stays finite at extreme arguments and falls to exactly zero far below threshold") {
  CHECK(devices::softplus(1e308) == 1e308);
  CHECK(devices::softplus(-1e308) == 0.0);
  CHECK(devices::softplus(800) == 800);
  CHECK(devices::softplus(-700) == doctest::Approx(std::exp(-700.0)).epsilon(1e-14));  // e^x, not 0
  CHECK(devices::softplus(-30) == doctest::Approx(std::exp(-30.0) - std::exp(-60.0) / 2).epsilon(1e-15));
  CHECK(devices::logistic(1e308) == 1.0);
  CHECK(devices::logistic(-1e308) == 0.0);
  CHECK(devices::logistic(-700) == doctest::Approx(std::exp(-700.0)).epsilon(1e-14));
  const FlashCell cell(params(), gate(1.8));
  for (double vth : {-1e3, -50.0, 0.0, 1.8, 50.0, 1e3})
    for (double vd : {-1e3, -1.0, 0.0, 1e-9, 1.0, 1e3})
      for (double vs : {-1e3, 0.0, 1e3})
        for (double vg : {-1e3, 1.8, 1e3}) {
          const devices::MosEval e = cell.evaluate_gated(vth, vd, vg, vs);
          CAPTURE(vth);
          CAPTURE(vd);
          CAPTURE(vs);
          CAPTURE(vg);
          CHECK(std::isfinite(e.i_a));
          CHECK(std::isfinite(e.di_dvd_s));
          CHECK(std::isfinite(e.di_dvg_s));
          CHECK(std::isfinite(e.di_dvs_s));
          // Current flows from the higher terminal to the lower one, never backwards.
          CHECK(e.i_a * (vd - vs) >= 0);
          CHECK(e.di_dvd_s >= 0);
          CHECK(e.di_dvs_s <= 0);
        }
  // V_P - V_S = -1000 / 1.5 V: every term underflows to an exact zero, not to NaN.
  const devices::MosEval off = cell.evaluate_gated(1e3, 1.0, 0.0, 0.0);
  CHECK(off.i_a == 0.0);
  CHECK(off.di_dvd_s == 0.0);
}

TEST_CASE("flash regions switch at inversion coefficients 0.1 and 10 and at pinch-off") {
  const FlashParams p = params(1e-4, 1.5, 300);
  const double vt = p.thermal_voltage_v(), vg = 1.8;
  const FlashCell cell(p, gate(vg));
  // V_th for a given V_P - V_S with the source at 0: V_th = V_G - n (V_P - V_S).
  auto vth_at = [&](double vp_minus_vs) { return vg - p.n * vp_minus_vs; };
  // IC = ln^2(1 + e^{x}) = 0.1 at x = ln(e^{sqrt 0.1} - 1), i.e. V_P - V_S = 2 V_T x.
  const double x_weak = std::log(std::expm1(std::sqrt(0.1))), x_strong = std::log(std::expm1(std::sqrt(10.0)));
  const double eps = 1e-6;
  CHECK(cell.region(vth_at(2 * vt * x_weak - eps), 0.5, vg, 0) == int(FlashRegion::kSubthreshold));
  CHECK(cell.region(vth_at(2 * vt * x_weak + eps), 0.5, vg, 0) == int(FlashRegion::kModerate));
  CHECK(cell.region(vth_at(2 * vt * x_strong - eps), 0.5, vg, 0) == int(FlashRegion::kModerate));
  CHECK(cell.region(vth_at(2 * vt * x_strong + eps), 1.0, vg, 0) == int(FlashRegion::kSaturation));
  // Strong inversion: V_P = 0.5 V. Linear below V_D = V_P, saturated from it on.
  CHECK(cell.region(vth_at(0.5), 0.5 - eps, vg, 0) == int(FlashRegion::kLinear));
  CHECK(cell.region(vth_at(0.5), 0.5 + eps, vg, 0) == int(FlashRegion::kSaturation));
  // Symmetric: the lower terminal is the source.
  CHECK(cell.region(vth_at(0.5) - p.n * 0.1, 0.1, vg, 0.5 + 0.1 - eps) == int(FlashRegion::kLinear));
  CHECK(cell.region_names() == std::vector<std::string>{"subthreshold", "moderate", "linear", "saturation"});
  // The documented voltages: about -1.98 V_T and 6.2 V_T.
  CHECK(2 * x_weak == doctest::Approx(-1.98).epsilon(0.005));
  CHECK(2 * x_strong == doctest::Approx(6.24).epsilon(0.005));
}

TEST_CASE("the inverse read gives the threshold that reads the target current, from fA to mA") {
  const FlashParams p = params(1e-4, 1.5, 300);
  const FlashCell cell(p, gate(1.8));
  for (double i : {1e-15, 1e-12, 3e-9, 1e-7, 2e-6, 2e-5, 1e-4, 1e-3})
    for (double vd : {0.05, 0.2, 1.0}) {
      const double vth = cell.threshold_for_current(i, vd, 1.8);
      CAPTURE(i);
      CAPTURE(vd);
      // Against the literal formula: the round trip is as exact as the current itself.
      CHECK(rel(double(literal_current(p, vth, vd, 1.8, 0.0)), i) < kLiteralRelTol);
    }
  CHECK_THROWS_AS(cell.threshold_for_current(0.0, 0.2, 1.8), InputError);
  CHECK_THROWS_AS(cell.threshold_for_current(1e-6, 0.0, 1.8), InputError);
  CHECK_THROWS_AS(cell.threshold_for_current(NAN, 0.2, 1.8), InputError);
}

namespace {

// Runs f, expecting an InputError whose message contains `needle`.
template <class F>
void check_input_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("no InputError; expected one naming " << needle);
  } catch (const InputError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("bad flash parameters throw InputError naming the key") {
  for (double bad : {0.0, -1e-4, double(NAN), double(INFINITY)}) {
    devices::CellParams p;
    p.flash_beta_a_per_v2 = bad;
    check_input_error([&] { devices::make_cell_model("flash", p); }, "key flash-beta");
    p = {};
    p.flash_n = bad;
    check_input_error([&] { devices::make_cell_model("flash", p); }, "key flash-n");
    p = {};
    p.temperature_k = bad;
    check_input_error([&] { devices::make_cell_model("flash", p); }, "key temperature");
  }
  devices::CellParams p;
  p.v_gate_v = NAN;
  check_input_error([&] { devices::make_cell_model("flash", p); }, "key v-gate");
  p = {};
  p.v_gate_lines_v = {1.0, NAN};
  check_input_error([&] { devices::make_cell_model("flash", p); }, "key v-gate-lines");
  p = {};
  p.gate_global = true;
  check_input_error([&] { devices::make_cell_model("1t1r", p); }, "key gate = global");
  check_input_error([] { devices::parse_gate_layout("diagonal"); }, "key gate = 'diagonal'");
  CHECK(devices::parse_gate_layout("global") == devices::GateLayout::kGlobal);
}

TEST_CASE("a V_th matrix of the wrong shape or with NaN, or gate-line voltages that do not fit, are refused") {
  netlists::CrossbarSpec spec;
  spec.rows = 3;
  spec.cols = 4;
  devices::CellParams p;
  const auto cell = devices::make_cell_model("flash", p);
  using M = netlists::RowMatrixXd;
  check_input_error([&] { netlists::build_crossbar(spec, M::Constant(4, 3, 1.0), cell); },
                    "threshold voltage V_th matrix is 4 x 3, expected rows x cols = 3 x 4");
  M vth = M::Constant(3, 4, 1.0);
  vth(2, 1) = NAN;
  check_input_error([&] { netlists::build_crossbar(spec, vth, cell); }, "threshold voltage V_th[2, 1] = nan");
  vth(2, 1) = INFINITY;
  check_input_error([&] { netlists::build_crossbar(spec, vth, cell); }, "V_th[2, 1] = inf: must be finite volts");
  // Negative thresholds are fine (an over-erased cell); a negative conductance is not.
  vth(2, 1) = -0.7;
  CHECK_NOTHROW(netlists::build_crossbar(spec, vth, cell));
  check_input_error([&] { netlists::build_crossbar(spec, vth, devices::make_cell_model("sinh")); },
                    "conductance G[2, 1] = -0.7: must be finite and >= 0 siemens");
  // Gate lines per column: 4 voltages needed, 3 given.
  p.gate_per_row = false;
  p.v_gate_lines_v = {1.0, 1.2, 1.4};
  check_input_error([&] { netlists::build_crossbar(spec, M::Constant(3, 4, 1.0), devices::make_cell_model("flash", p)); },
                    "key v-gate-lines: 3 gate-line voltages for gate = column on a 3 x 4 array, expected 4");
}
