// The crossbar spec and builder: geometry to ohms, validation messages, and the circuit each
// drive/sense option produces (element and source counts follow from the definition).
#include <doctest/doctest.h>

#include "support/input_error.h"
#include "devices/registry.h"
#include "netlists/crossbar_builder.h"

using namespace xbar;
using netlists::CrossbarSpec;
using netlists::DriveSide;
using netlists::ElementKind;
using netlists::RowMatrixXd;
using netlists::SenseSide;

TEST_CASE("wire geometry gives resistivity times pitch over cross-section per segment") {
  CrossbarSpec spec;
  // 20 nm x 40 nm copper-like line (rho = 2.0e-8 ohm m, thin-film value), 50 nm pitch:
  // R = 2e-8 * 50e-9 / (20e-9 * 40e-9) = 1.25 ohm per segment.
  spec.row_geometry = {2.0e-8, 20e-9, 40e-9, 50e-9};
  spec.col_geometry = {1.0e-8, 20e-9, 40e-9, 100e-9};
  CHECK(spec.row_segment_ohm() == doctest::Approx(1.25).epsilon(1e-15));
  CHECK(spec.col_segment_ohm() == doctest::Approx(1.25).epsilon(1e-15));
  spec.validate();
}

TEST_CASE("invalid specs are rejected with the key and the constraint") {
  CrossbarSpec spec;
  SUBCASE("negative row resistance") {
    spec.r_row_ohm = -1;
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("key r-row = -1: must be"), InputError);
  }
  SUBCASE("NaN sense resistance") {
    spec.r_sense_ohm = std::nan("");
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("key r-sense"), InputError);
  }
  SUBCASE("zero rows") {
    spec.rows = 0;
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("key rows = 0"), InputError);
  }
  SUBCASE("incomplete geometry") {
    spec.row_geometry.resistivity_ohm_m = 2e-8;
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("key row-width"), InputError);
  }
  SUBCASE("ohms and geometry for the same line") {
    spec.col_geometry = {2.0e-8, 20e-9, 40e-9, 50e-9};
    spec.r_col_given = true;
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("not both"), InputError);
  }
  SUBCASE("two ideal drivers joined by an ideal wire") {
    spec.drive = DriveSide::kBoth;
    spec.r_row_ohm = 0;
    CHECK_THROWS_WITH_AS(spec.validate(), doctest::Contains("undefined"), InputError);
  }
  SUBCASE("conductance matrix of the wrong size or sign") {
    spec.rows = 3;
    spec.cols = 4;
    CHECK_THROWS_WITH_AS(
        netlists::build_crossbar(spec, RowMatrixXd::Constant(4, 3, 1e-5), devices::make_cell_model("linear")),
        doctest::Contains("expected rows x cols = 3 x 4"), InputError);
    RowMatrixXd g = RowMatrixXd::Constant(3, 4, 1e-5);
    g(2, 1) = -1e-6;
    CHECK_THROWS_WITH_AS(netlists::build_crossbar(spec, g, devices::make_cell_model("linear")),
                         doctest::Contains("G[2, 1]"), InputError);
  }
  SUBCASE("unknown option words") {
    CHECK_THROWS_WITH_AS(netlists::parse_drive_side("up"), doctest::Contains("key drive = 'up'"), InputError);
    CHECK_THROWS_WITH_AS(netlists::parse_sense_side("left"), doctest::Contains("key sense = 'left'"), InputError);
    CHECK_THROWS_WITH_AS(devices::make_cell_model("pcm"), doctest::Contains("key cell = 'pcm'"), InputError);
  }
}

TEST_CASE("every drive and sense option builds the elements its definition implies") {
  const int64_t m = 5, n = 7;
  for (auto drive : {DriveSide::kLeft, DriveSide::kRight, DriveSide::kBoth})
    for (auto sense : {SenseSide::kBottom, SenseSide::kTop, SenseSide::kBoth})
      for (double r_end : {0.0, 10.0}) {
        CrossbarSpec spec;
        spec.rows = m;
        spec.cols = n;
        spec.drive = drive;
        spec.sense = sense;
        spec.r_driver_ohm = spec.r_sense_ohm = r_end;
        const auto x = netlists::build_crossbar(spec, RowMatrixXd::Constant(m, n, 1e-5),
                                                devices::make_cell_model("linear"));
        const int64_t ends_r = drive == DriveSide::kBoth ? 2 : 1;
        const int64_t ends_c = sense == SenseSide::kBoth ? 2 : 1;
        int64_t cells = 0, resistors = 0, vsrc = 0;
        for (const auto& e : x.circuit.elements()) {
          cells += e.kind == ElementKind::kCell;
          resistors += e.kind == ElementKind::kResistor;
          vsrc += e.kind == ElementKind::kVoltageSource;
        }
        CHECK(cells == m * n);
        const int64_t wires = m * (n - 1) + n * (m - 1);
        CHECK(resistors == wires + (r_end > 0 ? ends_r * m + ends_c * n : 0));
        CHECK(vsrc == ends_r * m + ends_c * n);
        CHECK(x.circuit.num_nodes() == 2 * m * n + (r_end > 0 ? ends_r * m + ends_c * n : 0));
        // Every column has as many virtual grounds as sensed ends.
        for (const auto& ss : x.sense_sources) CHECK((ss[1] >= 0) == (ends_c == 2));
        // Sources of rows carry that row's voltage; virtual grounds carry 0 V.
        RowMatrixXd v(1, m);
        for (int64_t i = 0; i < m; ++i) v(0, i) = 0.1 * double(i + 1);
        const Eigen::MatrixXd s = x.source_values(v);
        for (size_t k = 0; k < x.source_row.size(); ++k)
          CHECK(s(Eigen::Index(k), 0) == (x.source_row[k] >= 0 ? v(0, x.source_row[k]) : 0.0));
      }
}

TEST_CASE("grid node names and ids map one to one") {
  netlists::Circuit c;
  c.set_grid(3, 4);
  CHECK(c.node_name(c.row_node(2, 3)) == "r2_3");
  CHECK(c.node_name(c.col_node(1, 0)) == "c1_0");
  CHECK(c.find_node("c1_0") == c.col_node(1, 0));
  CHECK(c.find_node("r3_0") == -2);   // outside the grid
  CHECK(c.find_node("r01_2") == -2);  // not the canonical spelling
  CHECK(c.find_node("gnd") == netlists::kGround);
}
