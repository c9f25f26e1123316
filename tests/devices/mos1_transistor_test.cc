// The level-1 access NMOS: the Shichman-Hodges regions at hand-computed points, derivatives
// against central differences in every region and both modes, the drain/source symmetry,
// continuity at the region boundaries, and the 1t1r cell built on it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "support/input_error.h"
#include "devices/mos1_transistor.h"
#include "devices/one_t_one_r_cell.h"
#include "devices/registry.h"

using namespace xbar;
using devices::Mos1Params;
using devices::Mos1Transistor;

namespace {

// Closed forms evaluated in double: a few ulps of the largest term.
constexpr double kExactRelTol = 1e-14;
// Central differences with step 1e-6 V on a piecewise polynomial: truncation error zero inside
// a region (cubic at most in V_ds, exact for h^2 terms up to rounding), rounding ~1e-16 / 1e-6.
constexpr double kDerivativeTol = 1e-8;

Mos1Params params(double lambda) {
  Mos1Params p;
  p.vto_v = 0.5;
  p.kp_a_per_v2 = 2e-4;
  p.lambda_per_v = lambda;
  p.gmin_s = 1e-12;
  return p;
}

}  // namespace

TEST_CASE("the level-1 drain current follows the Shichman-Hodges regions") {
  const Mos1Transistor t(params(0.1));
  const double wl = 2.0, beta = 4e-4, gmin = 1e-12;
  // Cut off: V_gs = 0.4 V < VTO. Only the junction's gmin remains.
  CHECK(t.evaluate(wl, 1.0, 0.4, 0.0).i_a == doctest::Approx(gmin * 1.0).epsilon(kExactRelTol));
  // Saturation: V_gs - VTO = 0.5 V <= V_ds = 1 V.
  const double sat = beta / 2 * 0.25 * (1 + 0.1 * 1.0) + gmin * 1.0;
  CHECK(t.evaluate(wl, 1.0, 1.0, 0.0).i_a == doctest::Approx(sat).epsilon(kExactRelTol));
  // Linear: V_ds = 0.2 V < 0.5 V.
  const double lin = beta * (0.5 - 0.1) * 0.2 * (1 + 0.1 * 0.2) + gmin * 0.2;
  CHECK(t.evaluate(wl, 0.2, 1.0, 0.0).i_a == doctest::Approx(lin).epsilon(kExactRelTol));
  // Only differences matter: the same point shifted by 0.7 V.
  CHECK(t.evaluate(wl, 0.9, 1.7, 0.7).i_a == doctest::Approx(lin).epsilon(1e-12));
}

TEST_CASE("the device is symmetric: swapping drain and source reverses the current") {
  const Mos1Transistor t(params(0.08));
  for (double vd : {-0.9, -0.3, 0.0, 0.25, 1.1})
    for (double vs : {-0.4, 0.0, 0.3})
      for (double vg : {0.2, 0.9, 2.0}) {
        CAPTURE(vd);
        CAPTURE(vs);
        CAPTURE(vg);
        const auto a = t.evaluate(1.5, vd, vg, vs);
        const auto b = t.evaluate(1.5, vs, vg, vd);
        CHECK(a.i_a == doctest::Approx(-b.i_a).epsilon(kExactRelTol).scale(1e-18));
        // I(v_d, v_g, v_s) = -I'(v_s, v_g, v_d): the drain derivative is minus the mirrored
        // device's source derivative.
        CHECK(a.di_dvd_s == doctest::Approx(-b.di_dvs_s).epsilon(kExactRelTol));
        CHECK(a.di_dvg_s == doctest::Approx(-b.di_dvg_s).epsilon(kExactRelTol));
      }
}

TEST_CASE("the derivatives match central differences in every region and both modes") {
  const Mos1Transistor t(params(0.05));
  const double h = 1e-6, wl = 1.3;
  // (V_d, V_g, V_s) away from region boundaries: cutoff, saturation, linear, each also in
  // inverse mode (V_ds < 0), and with the source off ground.
  const double points[][3] = {{1.0, 0.3, 0.0}, {1.0, 1.0, 0.0}, {0.2, 1.5, 0.0},
                              {0.0, 0.3, 1.0}, {0.0, 1.0, 1.0}, {-0.2, 1.5, 0.0},
                              {1.3, 1.6, 0.4}, {0.5, 2.4, 0.6}};
  for (const auto& p : points) {
    CAPTURE(p[0]);
    CAPTURE(p[1]);
    CAPTURE(p[2]);
    const auto e = t.evaluate(wl, p[0], p[1], p[2]);
    const double scale = std::max({std::abs(e.di_dvd_s), std::abs(e.di_dvg_s), std::abs(e.di_dvs_s), 1e-6});
    auto fd = [&](int k) {
      double plus[3] = {p[0], p[1], p[2]}, minus[3] = {p[0], p[1], p[2]};
      plus[k] += h;
      minus[k] -= h;
      return (t.evaluate(wl, plus[0], plus[1], plus[2]).i_a -
              t.evaluate(wl, minus[0], minus[1], minus[2]).i_a) / (2 * h);
    };
    CHECK(std::abs(fd(0) - e.di_dvd_s) < kDerivativeTol * scale);
    CHECK(std::abs(fd(1) - e.di_dvg_s) < kDerivativeTol * scale);
    CHECK(std::abs(fd(2) - e.di_dvs_s) < kDerivativeTol * scale);
    // Only voltage differences matter.
    CHECK(std::abs(e.di_dvd_s + e.di_dvg_s + e.di_dvs_s) < 1e-15 * scale);
  }
}

TEST_CASE("current and conductance are continuous across the region boundaries") {
  const Mos1Transistor t(params(0.1));
  const double eps = 1e-9;
  // Saturation edge: V_ds = V_gs - VTO = 0.7 V; V_ds = 0 (mode change); threshold V_gs = VTO.
  for (double vd : {0.7, 0.0}) {
    const auto lo = t.evaluate(1.0, vd - eps, 1.2, 0.0), hi = t.evaluate(1.0, vd + eps, 1.2, 0.0);
    CHECK(std::abs(lo.i_a - hi.i_a) < 1e-12);
    CHECK(std::abs(lo.di_dvd_s - hi.di_dvd_s) < 1e-9);
  }
  const auto off = t.evaluate(1.0, 1.0, 0.5 - eps, 0.0), on = t.evaluate(1.0, 1.0, 0.5 + eps, 0.0);
  CHECK(std::abs(off.i_a - on.i_a) < 1e-15);
}

TEST_CASE("the .model card is level 1 with no body effect and no junction current") {
  CHECK(Mos1Transistor(params(0.02)).spice_model_card("xbar_nmos0") ==
        ".model xbar_nmos0 nmos level=1 vto=0.5 kp=2e-04 lambda=0.02 gamma=0 is=0");
}

TEST_CASE("bad transistor parameters name their key") {
  devices::CellParams p;
  p.mos_kp_a_per_v2 = 0;
  CHECK_THROWS_WITH_AS(devices::make_cell_model("1t1r", p), doctest::Contains("key mos-kp = 0"), InputError);
  p = {};
  p.mos_lambda_per_v = -0.1;
  CHECK_THROWS_WITH_AS(devices::make_cell_model("1t1r", p), doctest::Contains("key mos-lambda = -0.1"), InputError);
  p = {};
  p.mos_w_over_l = -1;
  CHECK_THROWS_WITH_AS(devices::make_cell_model("1t1r", p), doctest::Contains("key mos-wl = -1"), InputError);
  p = {};
  p.v_gate_v = std::nan("");
  CHECK_THROWS_WITH_AS(devices::make_cell_model("1t1r", p), doctest::Contains("key v-gate = nan"), InputError);
}

TEST_CASE("the 1t1r cell reports its parameters and carries its access transistor") {
  devices::CellParams p;
  p.v_gate_v = 2.2;
  p.gate_per_row = false;
  const auto cell = devices::make_cell_model("1t1r", p);
  CHECK(cell->name() == "1t1r");
  CHECK(!cell->is_linear());
  const devices::AccessTransistor* acc = cell->access_transistor();
  REQUIRE(acc != nullptr);
  CHECK(acc->v_gate_v == 2.2);
  CHECK(!acc->gate_per_row);
  CHECK(acc->w_over_l == 1.0);
  bool seen_gate = false;
  for (const auto& [key, value] : cell->parameters())
    if (key == "v-gate") seen_gate = value == 2.2;
  CHECK(seen_gate);
  // The other cells have no access transistor.
  CHECK(devices::make_cell_model("sinh")->access_transistor() == nullptr);
  // Its two-terminal view: G in series with the channel; at small V the on-resistance
  // 1 / (beta (V_g - VTO)) = 1 / (2e-4 * 1.7) adds to 1/G.
  const double g = 1e-4, v = 1e-4;
  const double r_on = 1.0 / (2e-4 * 1.7);
  CHECK(cell->evaluate(g, v).i_a == doctest::Approx(v / (1 / g + r_on)).epsilon(1e-4));
  CHECK(cell->evaluate(0.0, 0.3).i_a == 0.0);
}
