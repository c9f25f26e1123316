// Tests of netlists::write_spice / spice_lines: the line forms, a bitwise round trip through
// read_spice, and that ngspice itself accepts the deck.
#include "devices/registry.h"
#include "netlists/spice_writer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/input_error.h"
#include "devices/linear_cell.h"
#include "netlists/crossbar_builder.h"
#include "netlists/spice_reader.h"

namespace xbar::netlists {
namespace {

// A stand-in nonlinear model: the writer must refuse it rather than write it as a resistor.
uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

std::string written(const Circuit& c, const std::vector<std::string>& header,
                    const SpiceWriteOptions& opt = {}) {
  std::ostringstream out;
  write_spice(out, c, header, opt);
  return out.str();
}

// A 2 x 3 crossbar with every element kind and role: left drivers from named input nodes,
// row and column wires (one of them an ideal 0-ohm short), cells with awkward conductances
// (one open, G = 0), sense resistors into 0 V virtual grounds, plus a named current source.
// Values are chosen to need all 17 significant digits.
Circuit small_crossbar() {
  constexpr int32_t kRows = 2, kCols = 3;
  Circuit c;
  c.set_grid(kRows, kCols);
  const uint16_t linear = c.add_cell_model(std::make_shared<devices::LinearCell>());
  for (int32_t i = 0; i < kRows; ++i) {
    const int32_t in = c.add_node("in" + std::to_string(i));
    c.add_element(ElementKind::kVoltageSource, Role::kSourceLeft, i, 0, in, kGround,
                  0.1 + 0.2 * i);
    c.add_element(ElementKind::kResistor, Role::kDriverLeft, i, 0, in, c.row_node(i, 0),
                  1.0 / 3.0 + i);
    for (int32_t j = 0; j + 1 < kCols; ++j)
      c.add_element(ElementKind::kResistor, Role::kRowWire, i, j, c.row_node(i, j),
                    c.row_node(i, j + 1), 2.5 + 0.1 * j);
    for (int32_t j = 0; j < kCols; ++j) {
      // (1, 1) is open; its nodes keep two terminals each through wires and sense resistors.
      const double g_s = (i == 1 && j == 1) ? 0.0 : 1e-6 / (3.0 + 7 * i + j);
      c.add_element(ElementKind::kCell, Role::kCell, i, j, c.row_node(i, j), c.col_node(i, j),
                    g_s, linear);
    }
  }
  for (int32_t j = 0; j < kCols; ++j) {
    // Column 2's wire is an ideal short: it must come back as a 0 V source.
    c.add_element(ElementKind::kResistor, Role::kColWire, 0, j, c.col_node(0, j),
                  c.col_node(1, j), j == 2 ? 0.0 : 2.5e-1 + j / 7.0);
    const int32_t vg = c.add_node("vg" + std::to_string(j));
    c.add_element(ElementKind::kResistor, Role::kSenseBottom, 0, j, c.col_node(1, j), vg,
                  1e-3 * (j + 1) / 3.0);
    c.add_element(ElementKind::kVoltageSource, Role::kVgndBottom, 0, j, vg, kGround, 0.0);
  }
  c.add_element(ElementKind::kCurrentSource, c.node("in0"), kGround, -1.0 / 7e6, "ileak");
  return c;
}

TEST_CASE("the deck opens with the title line and the header comments") {
  Circuit c;
  const int32_t a = c.add_node("a");
  c.add_element(ElementKind::kVoltageSource, a, kGround, 1.0, "v1");
  c.add_element(ElementKind::kResistor, a, kGround, 1e3, "r1");
  const auto lines = spice_lines(c, {"rows 1, cols 1", "two\nlines"});
  const std::vector<std::string> expected = {
      "* xbar crossbar deck", "* rows 1, cols 1", "* two", "* lines",
      "v1 a 0 dc 1",          "r1 a 0 1000",      ".op",   ".end"};
  CHECK(lines == expected);
}

TEST_CASE("options choose the title and whether .op and .end are written") {
  Circuit c;
  const int32_t a = c.add_node("a");
  c.add_element(ElementKind::kResistor, a, kGround, 1e3, "r1");
  SpiceWriteOptions opt;
  opt.title = "my array";
  opt.add_op = false;
  opt.add_end = false;
  CHECK(written(c, {}, opt) == "* my array\nr1 a 0 1000\n");
  opt.title = "two\nlines";
  CHECK_THROWS_WITH_AS(written(c, {}, opt), doctest::Contains("title"), InputError);
}

TEST_CASE("each element kind is written in its documented form") {
  Circuit c;
  const uint16_t linear = c.add_cell_model(std::make_shared<devices::LinearCell>());
  const int32_t in = c.add_node("in"), mid = c.add_node("mid"), out = c.add_node("out");
  c.add_element(ElementKind::kVoltageSource, in, kGround, 0.1, "vin");
  c.add_element(ElementKind::kResistor, in, mid, 1.0 / 3.0, "r1");
  c.add_element(ElementKind::kResistor, mid, out, 0.0, "rshort");
  c.add_element(ElementKind::kResistor, out, kGround, 50.0, "load");  // no 'r': one is added
  c.add_element(ElementKind::kCell, Role::kCell, 0, 1, mid, kGround, 1e-4, linear);
  c.add_element(ElementKind::kCell, Role::kCell, 0, 2, out, kGround, 0.0, linear);
  c.add_element(ElementKind::kCurrentSource, kGround, mid, 1e-6, "i1");
  c.add_element(ElementKind::kVoltageSource, Role::kSourceLeft, 3, 0, out, kGround, -2.5);
  const auto lines = spice_lines(c, {});
  const std::vector<std::string> expected = {
      "* xbar crossbar deck",
      "vin in 0 dc 0.1",
      "r1 in mid 0.3333333333333333",
      "vrshort mid out dc 0",  // an ideal short is a 0 V source
      "rload out 0 50",
      "rcell_0_1 mid 0 10000",  // R = 1/G
      "* rcell_0_2 open (G = 0)",
      "i1 0 mid dc 1e-06",
      "vrowl_3 out 0 dc -2.5",
      ".op",
      ".end"};
  CHECK(lines == expected);
}

TEST_CASE("write_spice writes exactly the lines spice_lines returns") {
  const Circuit c = small_crossbar();
  const std::vector<std::string> header = {"a 2 x 3 test array"};
  std::string joined;
  for (const std::string& line : spice_lines(c, header)) joined += line + "\n";
  CHECK(written(c, header) == joined);
}

TEST_CASE("nonlinear cells are written as behavioural sources, with internal nodes where needed") {
  Circuit c;
  c.set_grid(1, 2);
  const uint16_t sinh = c.add_cell_model(devices::make_cell_model("sinh", {}));
  devices::CellParams p;
  p.sel_i0_a = 2e-6;
  p.sel_v0_v = 0.04;
  const uint16_t sel = c.add_cell_model(devices::make_cell_model("selector", p));
  c.add_element(ElementKind::kCell, Role::kCell, 0, 0, c.row_node(0, 0), c.col_node(0, 0), 1e-5, sinh);
  c.add_element(ElementKind::kCell, Role::kCell, 0, 1, c.row_node(0, 1), c.col_node(0, 1), 0x1p-15, sel);  // 1/G = 32768 exactly
  c.add_element(ElementKind::kCell, Role::kCell, 0, 1, c.row_node(0, 1), c.col_node(0, 0), 0.0, sinh);
  const auto lines = spice_lines(c, {});
  // I = G/k sinh(k V) with the default k = 2 / V.
  CHECK(std::find(lines.begin(), lines.end(), "bcell_0_0 r0_0 c0_0 i=5e-06*sinh(2*v(r0_0,c0_0))") != lines.end());
  // 1S1R: the memory resistor to an internal node, then the selector B-source.
  CHECK(std::find(lines.begin(), lines.end(), "rcell_0_1 r0_1 mcell_0_1 32768") != lines.end());
  CHECK(std::find(lines.begin(), lines.end(), "bscell_0_1 mcell_0_1 c0_1 i=2e-06*sinh(v(mcell_0_1,c0_1)/0.04)") != lines.end());
  // G = 0 is an open cell: a comment, no element.
  CHECK(std::find(lines.begin(), lines.end(), "* cell_0_1 open (G = 0)") != lines.end());
}

TEST_CASE("a 1T1R array is written as memory resistors, level-1 MOSFETs, gate lines and one .model") {
  CrossbarSpec spec;
  spec.rows = 2;
  spec.cols = 2;
  devices::CellParams p;
  p.mos_w_over_l = 3;
  p.mos_lambda_per_v = 0.04;
  p.v_gate_v = 1.2;
  RowMatrixXd g = RowMatrixXd::Constant(2, 2, 1e-4);
  g(1, 1) = 0;  // open memory element: its transistor stays, the resistor is a comment
  for (bool per_row : {true, false}) {
    p.gate_per_row = per_row;
    const auto x = build_crossbar(spec, g, devices::make_cell_model("1t1r", p));
    const auto lines = spice_lines(x.circuit, {});
    auto has = [&](const std::string& l) {
      return std::find(lines.begin(), lines.end(), l) != lines.end();
    };
    CAPTURE(per_row);
    CHECK(has("rcell_0_1 r0_1 m0_1 10000"));  // row node to internal node, 1/G
    CHECK(has("* rcell_1_1 open (G = 0)"));
    // drain = internal node, gate = gate line, source = bulk = column node; W/L on W, L = 1.
    CHECK(has(per_row ? "macc_0_1 m0_1 gr0 c0_1 c0_1 xbar_nmos0 w=3 l=1"
                      : "macc_0_1 m0_1 gc1 c0_1 c0_1 xbar_nmos0 w=3 l=1"));
    CHECK(has("macc_1_1 m1_1 " + std::string(per_row ? "gr1" : "gc1") + " c1_1 c1_1 xbar_nmos0 w=3 l=1"));
    CHECK(has(per_row ? "vgrow_1 gr1 0 dc 1.2" : "vgcol_1 gc1 0 dc 1.2"));
    const auto model = std::find(lines.begin(), lines.end(),
                                 ".model xbar_nmos0 nmos level=1 vto=0.5 kp=2e-04 lambda=0.04 gamma=0 is=0");
    const auto gmin = std::find(lines.begin(), lines.end(), ".options gmin=1e-12");
    const auto op = std::find(lines.begin(), lines.end(), ".op");
    REQUIRE(model != lines.end());
    REQUIRE(gmin != lines.end());
    CHECK(model < op);
    CHECK(gmin < op);
    CHECK(std::count_if(lines.begin(), lines.end(),
                        [](const std::string& l) { return l.rfind(".model", 0) == 0; }) == 1);
    // The internal nodes are grid names: they read back to their ids.
    CHECK(x.circuit.find_node("m1_0") == x.circuit.cell_node(1, 0));
    CHECK(x.circuit.node_name(x.circuit.cell_node(0, 1)) == "m0_1");
  }
  // A 1t1r cell left unexpanded has no two-terminal card.
  Circuit c;
  c.set_grid(1, 1);
  const uint16_t m = c.add_cell_model(devices::make_cell_model("1t1r", p));
  c.add_element(ElementKind::kCell, Role::kCell, 0, 0, c.row_node(0, 0), c.col_node(0, 0), 1e-4, m);
  CHECK_THROWS_WITH_AS(spice_lines(c, {}), doctest::Contains("no two-terminal SPICE card"), InputError);
}

TEST_CASE("a non-finite element value is refused with the element's name") {
  Circuit c;
  const int32_t a = c.add_node("a");
  c.add_element(ElementKind::kResistor, a, kGround, std::numeric_limits<double>::quiet_NaN(),
                "r7");
  CHECK_THROWS_WITH_AS(spice_lines(c, {}), doctest::Contains("resistor 'r7' has a non-finite"),
                       InputError);
}

TEST_CASE("a written deck reads back with every name, node and value bitwise equal") {
  const Circuit c = small_crossbar();
  std::istringstream in(written(c, {"round trip"}));
  const Circuit back = read_spice(in, "roundtrip.cir");

  // What each written element becomes: cells turn into resistors of 1/G, ideal shorts into
  // 0 V sources named 'v' + name, open cells disappear.
  size_t expected_count = 0;
  std::map<std::string, size_t> back_index;
  for (size_t k = 0; k < back.elements().size(); ++k) back_index[back.element_name(k)] = k;
  for (size_t k = 0; k < c.elements().size(); ++k) {
    const Element& e = c.elements()[k];
    std::string name = c.element_name(k);
    ElementKind kind = e.kind;
    double value = e.value;
    if (e.kind == ElementKind::kCell) {
      if (e.value == 0.0) {
        CHECK_MESSAGE(back_index.count(name) == 0, name << " is open and must not be written");
        continue;
      }
      kind = ElementKind::kResistor;
      value = 1.0 / e.value;
    } else if (e.kind == ElementKind::kResistor && e.value == 0.0) {
      kind = ElementKind::kVoltageSource;
      name = "v" + name;
    }
    ++expected_count;
    CAPTURE(name);
    REQUIRE(back_index.count(name) == 1);
    const Element& b = back.elements()[back_index[name]];
    CHECK(b.kind == kind);
    CHECK(b.role == Role::kNamed);
    CHECK(back.node_name(b.pos) == c.node_name(e.pos));
    CHECK(back.node_name(b.neg) == c.node_name(e.neg));
    CHECK(bits(b.value) == bits(value));
  }
  CHECK(back.elements().size() == expected_count);
  // One cell is open, so all 2 * 2 * 3 grid nodes and the 5 named ones are still connected.
  CHECK(back.num_nodes() == c.num_nodes());
}

TEST_CASE("ngspice -b accepts a written deck and solves it") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("xbar_spice_writer_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path deck = dir / "array.cir", log = dir / "ngspice.log";
  {
    std::ofstream f(deck);
    write_spice(f, small_crossbar(), {"written by spice_writer_test"});
  }
  const std::string command =
      "ngspice -b '" + deck.string() + "' > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream f(log);
  const std::string output((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CAPTURE(output);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(output.find("Error") == std::string::npos);
  // The operating point was actually computed: ngspice lists the node voltages.
  CHECK(output.find("c1_2") != std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace xbar::netlists
