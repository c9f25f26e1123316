// Flash program-verify (issue 18): every cell verified within pv-tol on a seeded draw, read
// back with the EKV current written out independently; the pulse counts against what the
// step and spread imply (exactly ceil(D / step) without spread, the first-passage mean and
// variance of a Gaussian random walk with it); the erase distribution; failures reported;
// reproducibility; bad options naming their keys.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "devices/flash_programming.h"
#include "support/input_error.h"
#include "support/random_array.h"
#include "tests/devices/sampling_checks.h"

using namespace xbar;
using devices::FlashCell;
using devices::FlashProgramOptions;
using devices::FlashTarget;
using devices::FlashVerify;
using devices::RowMatrix;
using test::check_within_se;

namespace {

// The read current and its inverse against the implementation's: both are the same closed
// form, so they agree to rounding, amplified at most ~2^6 by the difference of squares.
constexpr double kReadRelTol = 1e-12;

devices::FlashParams flash_params() {
  devices::FlashParams p;
  p.beta_a_per_v2 = 1e-4;
  p.n = 1.5;
  p.temperature_k = 300;
  return p;
}

FlashCell cell_at(double v_gate) {
  devices::GateLines g;
  g.v_gate_v = v_gate;
  return FlashCell(flash_params(), g);
}

// The verify read (drain at v_read, source at 0, gate at v_gate), EKV written out here.
double read_current(double vth, double v_read, double v_gate) {
  const devices::FlashParams p = flash_params();
  const double vt = 1.380649e-23 / 1.602176634e-19 * p.temperature_k;
  const double vp = (v_gate - vth) / p.n;
  auto f = [](double x) {
    const double l = x > 30 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
    return l * l;
  };
  return 2 * p.n * p.beta_a_per_v2 * vt * vt * (f(vp / (2 * vt)) - f((vp - v_read) / (2 * vt)));
}

// The threshold reading exactly i_a: bisection on the independent read (it falls with V_th).
double threshold_reading(double i_a, double v_read, double v_gate) {
  double lo = -10, hi = 20;
  for (int k = 0; k < 200; ++k) {
    const double mid = 0.5 * (lo + hi);
    (read_current(mid, v_read, v_gate) > i_a ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// P(N > n) = P(S_n < D) for N = min{n : S_n >= D}, S_n a sum of n independent N(mu, s^2) steps
// (nondecreasing: the steps are clipped at 0, which at mu = 5 s happens with P = 3e-7 and is
// neglected). Returns E[N] and Var[N] from sum P(N > n) and sum (2n + 1) P(N > n).
void first_passage_moments(double d, double mu, double s, double& mean, double& var) {
  double e1 = 0, e2 = 0;
  for (int64_t n = 0;; ++n) {
    const double p = n == 0 ? (d > 0 ? 1.0 : 0.0)
                            : 0.5 * std::erfc(-(d - double(n) * mu) / (s * std::sqrt(double(n))) / std::sqrt(2.0));
    e1 += p;
    e2 += double(2 * n + 1) * p;
    if (n > 0 && double(n) * mu > d && p < 1e-18) break;
  }
  mean = e1;
  var = e2 - e1 * e1;
}

}  // namespace

TEST_CASE("program-verify brings every cell of a seeded array within pv-tol of its target read current") {
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;  // the defaults: 1 mV steps, 20 % spread, 2 %, read at 0.2 V
  o.seed = 11;
  const RowMatrix g = support::uniform_matrix(16, 16, 1e-6, 1e-4, 5);  // the default window
  const auto r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  CHECK(r.stats.verified == 256);
  CHECK(r.stats.overshoot + r.stats.pulse_limit + r.stats.above_erased == 0);
  for (Eigen::Index k = 0; k < g.size(); ++k) {
    const double target = g.data()[k] * o.v_read_v;
    const double i = read_current(r.vth_v.data()[k], o.v_read_v, 1.8);
    CHECK(std::abs(i - target) <= o.pv_tol * target);
    CHECK(std::abs(r.read_a.data()[k] - i) <= kReadRelTol * i);
    CHECK(r.target_a.data()[k] == target);
    // The reported target threshold reads the target exactly.
    CHECK(std::abs(read_current(r.vth_target_v.data()[k], o.v_read_v, 1.8) - target) <= kReadRelTol * target);
    CHECK(r.status.data()[k] == uint8_t(FlashVerify::kVerified));
  }
  CHECK(r.stats.pulses_total == r.pulses.cast<int64_t>().sum());
  CHECK(r.stats.read_rel_error_max <= o.pv_tol);
  CHECK(r.stats.message.find("256 verified") != std::string::npos);
}

TEST_CASE("without pulse spread every cell takes exactly ceil(D / pv-step) pulses") {
  // D: from the erased threshold to the window's low edge, the threshold that reads
  // I_target (1 + pv-tol), found here by bisection on the independent read.
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;
  o.seed = 3;
  o.pv_step_v = 0.004;
  o.pv_sigma_v = 0;
  const RowMatrix g = support::uniform_matrix(12, 12, 2e-5, 1e-4, 8);
  const auto r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  int checked = 0;
  for (Eigen::Index k = 0; k < g.size(); ++k) {
    const double lo = threshold_reading(g.data()[k] * o.v_read_v * (1 + o.pv_tol), o.v_read_v, 1.8);
    const double steps = (lo - r.vth_erased_v.data()[k]) / o.pv_step_v;
    // Skip a cell whose edge falls within rounding of a whole number of steps.
    if (std::abs(steps - std::round(steps)) < 1e-6) continue;
    ++checked;
    CHECK(r.pulses.data()[k] == int32_t(std::ceil(steps)));
  }
  CHECK(checked >= 140);
  CHECK(r.stats.verified == 144);
}

TEST_CASE("with pulse spread the pulse counts have the mean and variance of the first passage the step and spread imply") {
  // N_ij = first n with S_n >= D_ij; over 1024 independent cells the total pulse count and the
  // summed squared deviations are checked against sum E[N] and sum Var[N] from
  // first_passage_moments() (5 standard errors). A step 1 % off would move the total by
  // ~1.5 % of ~1.4e5 pulses, tens of standard errors.
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;
  o.seed = 21;
  o.pv_step_v = 0.005;
  o.pv_sigma_v = 0.001;
  // Targets of 50-100 uS: windows of >= 20 mV, never jumped by a 5 mV (+- 1 mV) pulse.
  const RowMatrix g = support::uniform_matrix(32, 32, 5e-5, 1e-4, 9);
  const auto r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  REQUIRE(r.stats.verified == 1024);
  double total = 0, expect = 0, var_total = 0, sq_dev = 0, sq_dev_var = 0;
  for (Eigen::Index k = 0; k < g.size(); ++k) {
    const double lo = threshold_reading(g.data()[k] * o.v_read_v * (1 + o.pv_tol), o.v_read_v, 1.8);
    double mean = 0, var = 0;
    first_passage_moments(lo - r.vth_erased_v.data()[k], o.pv_step_v, o.pv_sigma_v, mean, var);
    const double n = r.pulses.data()[k];
    total += n;
    expect += mean;
    var_total += var;
    sq_dev += (n - mean) * (n - mean);
    // (N - E)^2 has mean Var and, N being close to Gaussian (a sum of ~140 steps), variance
    // ~2 Var^2.
    sq_dev_var += 2 * var * var;
  }
  check_within_se("total pulses", total, expect, std::sqrt(var_total));
  check_within_se("sum of squared deviations", sq_dev, var_total, std::sqrt(sq_dev_var));
  // Every pulse drew once from N(5 mV, 1 mV): a clip below 0 (P = Phi(-5) = 2.9e-7) would be
  // counted; over ~1.4e5 pulses none is expected.
  CHECK(r.stats.pulses_clipped <= 2);
}

TEST_CASE("the erased thresholds have the requested mean and spread") {
  // One pulse at most per cell, so 40 000 cells cost nothing.
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;
  o.seed = 5;
  o.erase_vth_v = -0.3;
  o.erase_sigma_v = 0.08;
  o.pv_max_pulses = 1;
  const RowMatrix g = RowMatrix::Constant(200, 200, 1e-5);
  const auto r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  const double n = double(g.size());
  const Eigen::ArrayXXd e = r.vth_erased_v.array();
  const double mean = e.mean(), sd = std::sqrt((e - mean).square().sum() / (n - 1));
  check_within_se("erased mean", mean, -0.3, 0.08 / std::sqrt(n));
  check_within_se("erased SD", sd, 0.08, 0.08 / std::sqrt(2 * (n - 1)));
  // One pulse cannot travel ~1.9 V: every cell stops at the limit, and says so.
  CHECK(r.stats.pulse_limit == int64_t(n));
  CHECK((r.pulses.array() == 1).all());
}

TEST_CASE("cells that cannot verify are reported: above the erased level, overshoot, pulse limit") {
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;
  o.seed = 2;
  RowMatrix g(1, 4);
  // 1 mS at 0.2 V needs V_th far below the 0.2 V erase level; 1 uS has a 2.5 mV window that
  // 50 mV pulses jump over; 30 uS with 50 mV pulses lands or overshoots (window ~8 mV); the
  // last cell's target cannot be reached in 3 pulses.
  g << 1e-3, 1e-6, 3e-5, 1e-5;
  o.pv_step_v = 0.05;
  o.pv_sigma_v = 0.0;
  o.erase_sigma_v = 0.0;  // every cell erased to 0.2 V: its thresholds are 0.2 + 0.05 k
  o.pv_max_pulses = 40;  // 2 V of travel: enough for every cell here
  // The 1 uS cell's window lies strictly between two of those thresholds.
  const double w_lo = threshold_reading(1e-6 * o.v_read_v * (1 + o.pv_tol), o.v_read_v, 1.8);
  const double w_hi = threshold_reading(1e-6 * o.v_read_v * (1 - o.pv_tol), o.v_read_v, 1.8);
  REQUIRE(std::floor((w_lo - 0.2) / 0.05) == std::floor((w_hi - 0.2) / 0.05));
  auto r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  CHECK(r.status(0, 0) == uint8_t(FlashVerify::kAboveErased));
  CHECK(r.pulses(0, 0) == 0);
  CHECK(r.read_a(0, 0) < g(0, 0) * o.v_read_v * (1 - o.pv_tol));
  CHECK(r.status(0, 1) == uint8_t(FlashVerify::kOvershoot));
  CHECK(read_current(r.vth_v(0, 1), o.v_read_v, 1.8) < g(0, 1) * o.v_read_v * (1 - o.pv_tol));
  // Whatever the outcome of cells 2 and 3, the status says what the independent read shows.
  for (int j = 2; j < 4; ++j) {
    const double t = g(0, j) * o.v_read_v, i = read_current(r.vth_v(0, j), o.v_read_v, 1.8);
    const uint8_t expect = i > t * (1 + o.pv_tol)   ? uint8_t(FlashVerify::kPulseLimit)
                           : i < t * (1 - o.pv_tol) ? uint8_t(FlashVerify::kOvershoot)
                                                    : uint8_t(FlashVerify::kVerified);
    CHECK(r.status(0, j) == expect);
  }
  o.pv_max_pulses = 3;
  r = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  CHECK(r.status(0, 3) == uint8_t(FlashVerify::kPulseLimit));
  CHECK(r.pulses(0, 3) == 3);
  CHECK(r.stats.verified + r.stats.overshoot + r.stats.pulse_limit + r.stats.above_erased == 4);
  CHECK(r.stats.above_erased == 1);
  // Read-current targets are the same thing without the factor v-read.
  const auto ri = devices::program_flash(cell, RowMatrix(g * o.v_read_v), FlashTarget::kReadCurrent, o);
  CHECK(ri.vth_v == r.vth_v);
  CHECK(ri.stats.target == "read-current");
}

TEST_CASE("program-verify is reproducible from its seed and each cell's pulses are its own") {
  const FlashCell cell = cell_at(1.8);
  FlashProgramOptions o;
  o.seed = 99;
  o.pv_step_v = 0.005;
  o.pv_sigma_v = 0.001;
  RowMatrix g = support::uniform_matrix(6, 7, 4e-5, 1e-4, 1);
  const auto a = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  const auto b = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  CHECK(a.vth_v == b.vth_v);
  CHECK(a.pulses == b.pulses);
  // Another target for one cell changes only that cell's pulses and threshold.
  g(2, 3) = 6e-5;
  const auto c = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  for (Eigen::Index k = 0; k < g.size(); ++k)
    if (k != 2 * 7 + 3) CHECK(c.vth_v.data()[k] == a.vth_v.data()[k]);
  o.seed = 100;
  const auto d = devices::program_flash(cell, g, FlashTarget::kConductance, o);
  CHECK(d.vth_erased_v != c.vth_erased_v);
}

TEST_CASE("bad program-verify options and targets throw InputError naming the key or the cell") {
  const FlashCell cell = cell_at(1.8);
  const RowMatrix g = RowMatrix::Constant(2, 2, 1e-5);
  auto expect_error = [&](const FlashProgramOptions& o, const RowMatrix& t, const std::string& needle) {
    try {
      devices::program_flash(cell, t, FlashTarget::kConductance, o);
      FAIL("no InputError; expected one naming " << needle);
    } catch (const InputError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
    }
  };
  FlashProgramOptions o;
  o.pv_step_v = 0;
  expect_error(o, g, "key pv-step = 0");
  o = {};
  o.pv_sigma_v = -1e-3;
  expect_error(o, g, "key pv-sigma");
  for (double tol : {0.0, 1.0, double(NAN)}) {
    o = {};
    o.pv_tol = tol;
    expect_error(o, g, "key pv-tol");
  }
  o = {};
  o.pv_max_pulses = 0;
  expect_error(o, g, "key pv-max-pulses = 0");
  o = {};
  o.erase_sigma_v = -0.1;
  expect_error(o, g, "key flash-erase-sigma");
  o = {};
  o.erase_vth_v = INFINITY;
  expect_error(o, g, "key flash-erase-vth");
  o = {};
  o.v_read_v = 0;
  expect_error(o, g, "key v-read = 0");
  RowMatrix t = g;
  t(1, 0) = 0;
  expect_error({}, t, "target conductance (1, 0) = 0: must be finite and > 0 siemens");
  t(1, 0) = NAN;
  expect_error({}, t, "target conductance (1, 0) = nan");
}

TEST_CASE("pv-target names parse both ways and anything else is refused naming the key") {
  for (FlashTarget t : {FlashTarget::kConductance, FlashTarget::kReadCurrent})
    CHECK(devices::parse_flash_target(devices::to_string(t)) == t);
  CHECK_THROWS_WITH_AS(devices::parse_flash_target("current"), doctest::Contains("key pv-target = 'current'"),
                       InputError);
}
