#include <doctest/doctest.h>

#include "devices/registry.h"

using namespace xbar;

TEST_CASE("the linear cell is Ohm's law with its conductance as the derivative") {
  const auto cell = devices::make_cell_model("linear");
  CHECK(cell->is_linear());
  CHECK(cell->name() == "linear");
  const devices::CellEval e = cell->evaluate(2e-5, -0.35);
  CHECK(e.i_a == -0.35 * 2e-5);
  CHECK(e.di_dv_s == 2e-5);
}
