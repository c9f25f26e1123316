// Flash arrays as circuits and decks (issue 18): each cell stays element i N + j from r(i,j)
// (drain) to c(i,j) (source) with its gate on its word line; the lines per row, per column or
// one for the array, each an ideal source at its own voltage after the sense ends; the deck
// is one B-source per cell whose softplus never exponentiates a positive argument.
#include <doctest/doctest.h>

#include <string>

#include "support/input_error.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_writer.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::ElementKind;
using netlists::RowMatrixXd;

TEST_CASE("every flash cell sits on the word line of its row, its column, or the array's one line") {
  CrossbarSpec spec;
  spec.rows = 3;
  spec.cols = 4;
  spec.r_sense_ohm = 5;
  struct Case {
    devices::GateLayout layout;
    std::vector<double> volts;
    const char* node_prefix;
    const char* source_prefix;
  };
  const Case cases[] = {{devices::GateLayout::kPerRow, {1.1, 1.2, 1.3}, "gr", "vgrow_"},
                        {devices::GateLayout::kPerColumn, {1.4, 1.5, 1.6, 1.7}, "gc", "vgcol_"},
                        {devices::GateLayout::kGlobal, {}, "gw", "vgate"}};
  for (const Case& c : cases) {
    CAPTURE(devices::to_string(c.layout));
    devices::CellParams p;
    p.v_gate_v = 1.8;
    p.gate_per_row = c.layout == devices::GateLayout::kPerRow;
    p.gate_global = c.layout == devices::GateLayout::kGlobal;
    p.v_gate_lines_v = c.volts;
    const RowMatrixXd vth = RowMatrixXd::Constant(3, 4, 0.9);
    const auto x = netlists::build_crossbar(spec, vth, devices::make_cell_model("flash", p));
    const netlists::Circuit& circ = x.circuit;
    const auto& el = circ.elements();
    for (int32_t i = 0; i < 3; ++i)
      for (int32_t j = 0; j < 4; ++j) {
        const auto& e = el[size_t(i * 4 + j)];
        CHECK(e.kind == ElementKind::kCell);
        CHECK(e.pos == circ.row_node(i, j));
        CHECK(e.neg == circ.col_node(i, j));
        CHECK(e.value == 0.9);
        const int k = c.layout == devices::GateLayout::kPerRow ? i : c.layout == devices::GateLayout::kPerColumn ? j : -1;
        CHECK(circ.node_name(e.gate) == std::string(c.node_prefix) + (k >= 0 ? std::to_string(k) : ""));
      }
    // The line sources: the last sources, fixed (no input row), at each line's voltage.
    const auto src = circ.source_indices();
    const Eigen::VectorXd fixed = x.fixed_source_values();
    const size_t lines = c.volts.empty() ? 1 : c.volts.size();
    for (size_t k = 0; k < lines; ++k) {
      const size_t pos = src.size() - lines + k;
      CHECK(x.source_row[pos] == -1);
      const std::string name = circ.element_name(src[pos]);
      CHECK(name == std::string(c.source_prefix) + (c.layout == devices::GateLayout::kGlobal ? "" : std::to_string(k)));
      CHECK(fixed(Eigen::Index(pos)) == (c.volts.empty() ? 1.8 : c.volts[k]));
    }
  }
}

TEST_CASE("the flash deck is one B-source per cell on its word line, with the overflow-free softplus") {
  CrossbarSpec spec;
  spec.rows = 2;
  spec.cols = 3;
  devices::CellParams p;
  p.v_gate_v = 1.8;
  p.gate_global = true;
  const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(2, 3, 1.2), devices::make_cell_model("flash", p));
  const auto lines = netlists::spice_lines(x.circuit, {});
  int b_sources = 0, gate_sources = 0;
  for (const auto& l : lines) {
    if (l.rfind("bcell_", 0) == 0) {
      ++b_sources;
      CHECK(l.find("v(gw)") != std::string::npos);            // the global word line
      CHECK(l.find("atanh(exp(-abs(") != std::string::npos);  // e^{-|x|}: never overflows
      CHECK(l.find("ln(") == std::string::npos);              // no log(1 + tiny)
      CHECK(l.find("-(1.2)") != std::string::npos);           // the cell's V_th
    }
    if (l.rfind("vgate ", 0) == 0) {
      ++gate_sources;
      CHECK(l == "vgate gw 0 dc 1.8");
    }
  }
  CHECK(b_sources == 6);
  CHECK(gate_sources == 1);
  CHECK(lines[1].rfind("bcell_0_0 r0_0 c0_0 i=", 0) == 0);  // after the title: cell (0, 0)
  // Without its gate line a flash cell has no card.
  CHECK_THROWS_AS(devices::make_cell_model("flash", p)->spice_card("cell_0_0", "r0_0", "c0_0", 1.2), InputError);
}
