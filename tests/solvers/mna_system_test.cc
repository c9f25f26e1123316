// The nodal solver on small hand-solved circuits: floating voltage sources (MNA branches,
// KLU), current sources, chains of sources, and the topology errors it must name. Each
// circuit is also solved by ngspice, the second referee.
#include <doctest/doctest.h>

#include <sstream>

#include "support/input_error.h"
#include "netlists/spice_reader.h"
#include "solvers/circuit_solver.h"

using namespace xbar;
using solvers::BackendChoice;

namespace {

// Hand-solved values are exact decimals; the direct solve adds a few ulps.
constexpr double kHandTol = 1e-12;

netlists::Circuit deck(const std::string& text) {
  std::istringstream in(text);
  return netlists::read_spice(in, "test.cir");
}

Eigen::MatrixXd values(const netlists::Circuit& c) {
  const auto src = c.source_indices();
  Eigen::MatrixXd s(Eigen::Index(src.size()), 1);
  for (size_t k = 0; k < src.size(); ++k) s(Eigen::Index(k), 0) = c.elements()[src[k]].value;
  return s;
}

struct Solved {
  solvers::CircuitSolution sol;
  std::string backend_used;
};

Solved solve(const netlists::Circuit& c, BackendChoice be) {
  solvers::SolverOptions opt;
  opt.backend = be;
  solvers::CircuitSolver cs(c, opt);
  Solved s{cs.solve(values(c)), cs.summary().backend_used};
  return s;
}

double v(const netlists::Circuit& c, const Solved& s, const char* node) {
  return s.sol.node_voltages(c.find_node(node), 0);
}

double i(const netlists::Circuit& c, const Solved& s, const char* name) {
  const auto src = c.source_indices();
  for (size_t k = 0; k < src.size(); ++k)
    if (c.element_name(src[k]) == name) return s.sol.source_currents(Eigen::Index(k), 0);
  FAIL("no source " << name);
  return 0;
}

}  // namespace

TEST_CASE("a floating voltage source becomes an MNA branch solved by KLU, matching hand and ngspice") {
  // Loop: 10 V = 1k I + 2 V + 1k I, so I = 4 mA; v(a) = 10, v(b) = 6, v(c) = 4.
  const auto c = deck("t\nv1 a 0 10\nr1 a b 1k\nv2 b c 2\nr2 c 0 1k\n.end\n");
  for (BackendChoice be : {BackendChoice::kNative, BackendChoice::kCholmod, BackendChoice::kNgspice}) {
    CAPTURE(solvers::to_string(be));
    const Solved s = solve(c, be);
    if (be != BackendChoice::kNgspice) CHECK(s.backend_used == "klu");  // not SPD: KLU, even when cholmod asked
    CHECK(v(c, s, "a") == doctest::Approx(10).epsilon(kHandTol));
    CHECK(v(c, s, "b") == doctest::Approx(6).epsilon(kHandTol));
    CHECK(v(c, s, "c") == doctest::Approx(4).epsilon(kHandTol));
    // SPICE sign: current entering the + terminal. v1 delivers 4 mA out of its + terminal.
    CHECK(i(c, s, "v1") == doctest::Approx(-4e-3).epsilon(kHandTol));
    CHECK(i(c, s, "v2") == doctest::Approx(4e-3).epsilon(kHandTol));
  }
}

TEST_CASE("current sources inject with the SPICE sign") {
  // i1 flows from node 0 through the source into a: v(a) = 1 mA * 1k = 1 V; i2 drains b.
  const auto c = deck("t\ni1 0 a 1m\nr1 a 0 1k\ni2 b 0 2m\nr2 b 0 500\n.end\n");
  for (BackendChoice be : {BackendChoice::kNative, BackendChoice::kNgspice}) {
    const Solved s = solve(c, be);
    CHECK(v(c, s, "a") == doctest::Approx(1).epsilon(kHandTol));
    CHECK(v(c, s, "b") == doctest::Approx(-1).epsilon(kHandTol));
  }
}

TEST_CASE("chained voltage sources fix nodes and report currents through the whole chain") {
  // b = 1 + 2 = 3 V; 3 mA through r1; both sources carry it out of their + terminals.
  // r2 hangs between the two fixed nodes: 2 V / 2k = 1 mA more through v2, which v1 absorbs.
  const auto c = deck("t\nv1 a 0 1\nv2 b a 2\nr1 b 0 1k\nr2 b a 2k\nr3 a x 1k\nr4 x 0 1k\n.end\n");
  for (BackendChoice be : {BackendChoice::kNative, BackendChoice::kNgspice}) {
    CAPTURE(solvers::to_string(be));
    const Solved s = solve(c, be);
    CHECK(v(c, s, "b") == doctest::Approx(3).epsilon(kHandTol));
    CHECK(v(c, s, "x") == doctest::Approx(0.5).epsilon(kHandTol));
    CHECK(i(c, s, "v2") == doctest::Approx(-4e-3).epsilon(kHandTol));
    // v1 supplies r1 + r2 through v2 (4 mA) and r3 (0.5 mA), and takes back r2's 1 mA.
    CHECK(i(c, s, "v1") == doctest::Approx(-(4e-3 + 0.5e-3 - 1e-3)).epsilon(kHandTol));
  }
}

TEST_CASE("a 2x3 crossbar deck matches a dense nodal solve assembled by hand") {
  // Rows driven at the left through 10 ohm, 1 ohm segments, cells 1k..6k, columns sensed at
  // the bottom into ideal virtual grounds through 2-ohm column segments.
  const auto c = deck(
      "crossbar\n"
      "v0 d0 0 0.3\nv1 d1 0 -0.1\nrd0 d0 r00 10\nrd1 d1 r10 10\n"
      "rr00 r00 r01 1\nrr01 r01 r02 1\nrr10 r10 r11 1\nrr11 r11 r12 1\n"
      "rg00 r00 c00 1k\nrg01 r01 c01 2k\nrg02 r02 c02 3k\nrg10 r10 c10 4k\nrg11 r11 c11 5k\nrg12 r12 c12 6k\n"
      "rc0 c00 c10 2\nrc1 c01 c11 2\nrc2 c02 c12 2\n"
      "vs0 c10 0 0\nvs1 c11 0 0\nvs2 c12 0 0\n.end\n");
  // Unknowns: r00 r01 r02 r10 r11 r12 c00 c01 c02 (c1j are grounded by the 0 V sources).
  const char* names[] = {"r00", "r01", "r02", "r10", "r11", "r12", "c00", "c01", "c02"};
  Eigen::MatrixXd g = Eigen::MatrixXd::Zero(9, 9);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(9);
  auto stamp = [&](int p, int q, double r) {  // q = -1: to a node held at 0 V
    g(p, p) += 1 / r;
    if (q >= 0) {
      g(q, q) += 1 / r;
      g(p, q) -= 1 / r;
      g(q, p) -= 1 / r;
    }
  };
  g(0, 0) += 0.1; b(0) += 0.3 / 10;
  g(3, 3) += 0.1; b(3) += -0.1 / 10;
  stamp(0, 1, 1); stamp(1, 2, 1); stamp(3, 4, 1); stamp(4, 5, 1);
  stamp(0, 6, 1e3); stamp(1, 7, 2e3); stamp(2, 8, 3e3);
  stamp(3, -1, 4e3); stamp(4, -1, 5e3); stamp(5, -1, 6e3);  // row-1 cells end on grounded c1j
  stamp(6, -1, 2); stamp(7, -1, 2); stamp(8, -1, 2);
  const Eigen::VectorXd x = g.partialPivLu().solve(b);
  for (BackendChoice be : {BackendChoice::kCholmod, BackendChoice::kKlu, BackendChoice::kNgspice}) {
    CAPTURE(solvers::to_string(be));
    const Solved s = solve(c, be);
    for (int k = 0; k < 9; ++k) CHECK(v(c, s, names[k]) == doctest::Approx(x(k)).epsilon(kHandTol));
    // Column 0 current = what flows into vs0: through rc0 from c00 plus cell g10.
    const double i0 = x(6) / 2 + x(3) / 4e3;
    CHECK(i(c, s, "vs0") == doctest::Approx(i0).epsilon(kHandTol));
  }
}

TEST_CASE("topology errors name the element or node") {
  SUBCASE("two voltage sources in parallel form a loop") {
    const auto c = deck("t\nv1 a 0 1\nv2 a 0 1\nr1 a 0 1k\n.end\n");
    CHECK_THROWS_WITH_AS(solve(c, BackendChoice::kNative),
                         doctest::Contains("'v2' closes a loop of voltage sources"), NumericalError);
  }
  SUBCASE("an island without a DC path to any source is rejected before factoring") {
    // Rounding gives such a singular matrix a tiny positive pivot, so the factorization
    // alone would "solve" it; the topology check must catch it, with or without a current
    // source driving the island.
    for (const char* extra : {"", "i1 x y 1m\n"}) {
      const auto c = deck(std::string("t\nv1 a 0 1\nr1 a 0 1k\nr2 x y 1k\nr3 y z 3.3k\nr4 z x 7.1k\n") +
                          extra + ".end\n");
      CHECK_THROWS_WITH_AS(solve(c, BackendChoice::kNative),
                           doctest::Contains("singular circuit: node 'x' is in a floating island of 3 node(s)"),
                           NumericalError);
    }
  }
  SUBCASE("two floating voltage sources in a loop are rejected") {
    const auto c = deck("t\nv1 a b 1\nv2 b a 1\nr1 a 0 1k\nr2 b 0 1k\n.end\n");
    CHECK_THROWS_WITH_AS(solve(c, BackendChoice::kNative),
                         doctest::Contains("'v2' closes a loop of voltage sources"), NumericalError);
  }
  SUBCASE("a resistance too small to be a physical wire is rejected, naming it") {
    const auto c = deck("t\nv1 a 0 1\nr1 a b 1e-320\nr2 b 0 1k\n.end\n");
    CHECK_THROWS_WITH_AS(solve(c, BackendChoice::kNative), doctest::Contains("element 'r1'"), InputError);
  }
  SUBCASE("a voltage source shorted by a zero-ohm wire is rejected") {
    netlists::Circuit c;
    const int32_t a = c.node("a"), b = c.node("b");
    c.add_element(netlists::ElementKind::kVoltageSource, a, b, 1.0, "v1");
    c.add_element(netlists::ElementKind::kResistor, a, b, 0.0, "r0");
    c.add_element(netlists::ElementKind::kResistor, a, netlists::kGround, 1.0, "r1");
    CHECK_THROWS_WITH_AS(solve(c, BackendChoice::kNative), doctest::Contains("'v1' is shorted"),
                         InputError);
  }
}
