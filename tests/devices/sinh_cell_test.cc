// The sinh cell's current and conductance (one expm1 for both) against the C library's sinh
// and cosh, from a microvolt to where k V is 40.
#include <doctest/doctest.h>

#include <cmath>

#include "devices/sinh_cell.h"

using namespace xbar;

namespace {
// A few ulp: the expm1 form rounds a handful of times, as std::sinh and std::cosh do internally.
constexpr double kUlpRelTol = 1e-14;
}  // namespace

TEST_CASE("the sinh cell's current and conductance are G/k sinh(kV) and G cosh(kV) to a few ulp") {
  const double g = 3e-5;
  for (double k : {0.5, 3.0, 8.0}) {
    const devices::SinhCell cell(k);
    for (double v : {1e-6, -1e-6, 1e-3, 0.05, -0.2, 0.7, 1.3, -5.0}) {
      CAPTURE(k);
      CAPTURE(v);
      const devices::CellEval e = cell.evaluate(g, v);
      const double i = g / k * std::sinh(k * v), di = g * std::cosh(k * v);
      CHECK(std::abs(e.i_a - i) <= kUlpRelTol * std::abs(i));
      CHECK(std::abs(e.di_dv_s - di) <= kUlpRelTol * di);
    }
  }
  CHECK(devices::SinhCell(3.0).evaluate(g, 0.0).i_a == 0.0);  // no offset at 0 V
}
