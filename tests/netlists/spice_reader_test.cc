// Tests of netlists::read_spice: the ngspice subset it accepts and the file:line of every
// error it reports.
#include "netlists/spice_reader.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/input_error.h"

namespace xbar::netlists {
namespace {

// Decks in these tests are built from lines so a line number in an expected message can be
// counted by eye: line 1 is the title.
std::string deck(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

Circuit read(const std::string& text) {
  std::istringstream in(text);
  return read_spice(in, "deck.cir");
}

// The InputError message reading `text` produces, or "(no error)".
std::string read_error(const std::string& text) {
  try {
    read(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// doctest::Contains matches doctest::String only.
doctest::String as_doctest(const std::string& s) { return doctest::String(s.c_str()); }

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Index of the element called `name`, or SIZE_MAX.
size_t find_element(const Circuit& c, const std::string& name) {
  for (size_t k = 0; k < c.elements().size(); ++k)
    if (c.element_name(k) == name) return k;
  return SIZE_MAX;
}

double value_of(const Circuit& c, const std::string& name) {
  const size_t k = find_element(c, name);
  REQUIRE_MESSAGE(k != SIZE_MAX, "no element " << name);
  return c.elements()[k].value;
}

TEST_CASE("every engineering suffix scales the value by its power of ten") {
  using internal::parse_spice_number;
  // Suffixed values are parsed in one correctly rounded step, so they equal the double
  // literal exactly, not merely within a tolerance.
  CHECK(parse_spice_number("1f") == 1e-15);
  CHECK(parse_spice_number("2p") == 2e-12);
  CHECK(parse_spice_number("4n") == 4e-9);
  CHECK(parse_spice_number("3u") == 3e-6);
  CHECK(parse_spice_number("1.5m") == 1.5e-3);
  CHECK(parse_spice_number("2.5k") == 2500.0);
  CHECK(parse_spice_number("10meg") == 1e7);
  CHECK(parse_spice_number("1g") == 1e9);
  CHECK(parse_spice_number("1t") == 1e12);
  CHECK(parse_spice_number("1mil") == 25.4e-6);
  CHECK(parse_spice_number("2mil") == 2 * 25.4e-6);
  // 1.1 * 1000 is one ulp above 1100: the suffix must not be applied by multiplying.
  CHECK(bits(*parse_spice_number("1.1k")) == bits(1100.0));
  CHECK(bits(*parse_spice_number("0.3u")) == bits(0.3e-6));
}

TEST_CASE("suffixes are case-insensitive and trailing unit letters are ignored") {
  using internal::parse_spice_number;
  CHECK(parse_spice_number("2.5K") == 2500.0);
  CHECK(parse_spice_number("10MEG") == 1e7);
  CHECK(parse_spice_number("10Meg") == 1e7);
  CHECK(parse_spice_number("1MIL") == 25.4e-6);
  CHECK(parse_spice_number("1M") == 1e-3);  // SPICE: M is milli, not mega
  CHECK(parse_spice_number("2.5kohm") == 2500.0);
  CHECK(parse_spice_number("5ohm") == 5.0);
  CHECK(parse_spice_number("10V") == 10.0);
  CHECK(parse_spice_number("1mA") == 1e-3);
  CHECK(parse_spice_number("1megohm") == 1e6);
}

TEST_CASE("plain numbers parse with signs, fractions and exponents") {
  using internal::parse_spice_number;
  CHECK(parse_spice_number("1e-3") == 1e-3);
  CHECK(parse_spice_number("1E+3") == 1e3);
  CHECK(parse_spice_number("1e3k") == 1e6);
  CHECK(parse_spice_number(".5") == 0.5);
  CHECK(parse_spice_number("5.") == 5.0);
  CHECK(parse_spice_number("+2") == 2.0);
  CHECK(parse_spice_number("-0.25") == -0.25);
  CHECK(parse_spice_number("-1.5m") == -1.5e-3);
  CHECK(parse_spice_number("0.1") == 0.1);
  CHECK(bits(*parse_spice_number("4.9406564584124654e-324")) == bits(4.9406564584124654e-324));
}

TEST_CASE("text that is not a SPICE number is rejected, and overflow becomes infinite") {
  using internal::parse_spice_number;
  for (const char* bad : {"", "k", "abc", "1.2.3", "1k5", "nan", "inf", "1e3.5", "--1", "1_k",
                          ".", "e3", "1%"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_spice_number(bad).has_value());
  }
  CHECK(std::isinf(*parse_spice_number("1e999")));
  CHECK(std::isinf(*parse_spice_number("1e306t")));
  CHECK(*parse_spice_number("1e-999") == 0.0);
}

TEST_CASE("a deck of resistors and sources becomes named elements with nodes in order") {
  const Circuit c = read(deck({
      "simple divider",         // 1
      "v1 in 0 dc 1",           // 2
      "r1 in mid 2.5k",         // 3
      "r2 mid 0 r=7.5k",        // 4
      "i1 0 mid 1m",            // 5
      ".op",                    // 6
      ".end",                   // 7
  }));
  REQUIRE(c.elements().size() == 4);
  CHECK(c.num_nodes() == 2);
  CHECK(c.node_name(0) == "in");  // ids in order of first appearance
  CHECK(c.node_name(1) == "mid");
  const Element& v1 = c.elements()[0];
  CHECK(c.element_name(0) == "v1");
  CHECK(v1.kind == ElementKind::kVoltageSource);
  CHECK(v1.role == Role::kNamed);
  CHECK(v1.pos == 0);
  CHECK(v1.neg == kGround);
  CHECK(v1.value == 1.0);
  CHECK(c.elements()[1].kind == ElementKind::kResistor);
  CHECK(c.elements()[1].value == 2500.0);
  CHECK(c.elements()[2].value == 7500.0);
  const Element& i1 = c.elements()[3];
  CHECK(i1.kind == ElementKind::kCurrentSource);
  CHECK(i1.pos == kGround);
  CHECK(i1.neg == 1);
  CHECK(i1.value == 1e-3);
}

TEST_CASE("the first line is the title even when it looks like an element") {
  const Circuit c = read(deck({"r9 a b 1k", "v1 a 0 1", "r1 a 0 1k"}));
  CHECK(c.elements().size() == 2);
  CHECK(find_element(c, "r9") == SIZE_MAX);
}

TEST_CASE("names, nodes and keywords are case-insensitive and lowercased") {
  const Circuit c = read(deck({"TITLE", "V1 NodeA GND DC 1", "R1 NODEA 0 R=1K", "Rx nodea Gnd 2K"}));
  REQUIRE(c.elements().size() == 3);
  CHECK(c.element_name(0) == "v1");
  CHECK(c.element_name(1) == "r1");
  CHECK(c.element_name(2) == "rx");
  CHECK(c.num_nodes() == 1);
  CHECK(c.node_name(0) == "nodea");
  CHECK(c.elements()[0].neg == kGround);  // GND is ground
  CHECK(c.elements()[1].value == 1000.0);
}

TEST_CASE("comments of every kind are skipped") {
  const Circuit c = read(deck({
      "title",
      "* a whole-line comment",
      "   * an indented comment",
      "",
      "v1 a 0 dc 1 ; semicolon comment with c1 a b 1p",
      "r1 a b 1k $ dollar comment",
      "r2 b 0 2k\t$ after a tab",
      "r3 a 0 3k;no space needed before a semicolon",
      "   ",
  }));
  REQUIRE(c.elements().size() == 4);
  CHECK(value_of(c, "r1") == 1000.0);
  CHECK(value_of(c, "r2") == 2000.0);
  CHECK(value_of(c, "r3") == 3000.0);
}

TEST_CASE("decks with CRLF line endings read like LF ones") {
  const Circuit c = read("title\r\nv1 a 0 dc 1\r\nr1 a 0\r\n+ 2k\r\n.end\r\n");
  REQUIRE(c.elements().size() == 2);
  CHECK(c.node_name(0) == "a");
  CHECK(value_of(c, "r1") == 2000.0);
}

TEST_CASE("a '$' inside a word is part of the name, not a comment") {
  const Circuit c = read(deck({"title", "v1 a$b 0 1", "r1 a$b 0 1k"}));
  CHECK(c.node_name(0) == "a$b");
}

TEST_CASE("continuation lines join the line before, across comments") {
  const Circuit c = read(deck({
      "title",
      "v1 a 0",
      "+ dc 1",
      "r1 a",
      "* a comment inside the element",
      "+ b",
      "",
      "+   1k",
      "r2 b 0 2k",
  }));
  REQUIRE(c.elements().size() == 3);
  CHECK(value_of(c, "v1") == 1.0);
  CHECK(value_of(c, "r1") == 1000.0);
  CHECK(c.node_name(c.elements()[1].neg) == "b");
}

TEST_CASE("source values may be bare, after dc, or after dc=") {
  const Circuit c = read(deck({
      "title", "v1 a 0 2", "v2 b 0 dc 3", "v3 c 0 dc=4", "v4 d 0 DC = 5", "i1 a b 1u",
      "i2 c d dc 2u", "r1 a 0 1", "r2 b 0 1", "r3 c 0 1", "r4 d 0 1",
  }));
  CHECK(value_of(c, "v1") == 2.0);
  CHECK(value_of(c, "v2") == 3.0);
  CHECK(value_of(c, "v3") == 4.0);
  CHECK(value_of(c, "v4") == 5.0);
  CHECK(value_of(c, "i1") == 1e-6);
  CHECK(value_of(c, "i2") == 2e-6);
}

TEST_CASE("harmless dot cards and control blocks are ignored and .end stops reading") {
  const Circuit c = read(deck({
      "title",
      ".title another title",
      ".options gmin=1e-12 reltol=1e-6",
      ".option klu",
      "v1 a 0 1",
      ".save all",
      ".print dc v(a)",
      ".probe i(v1)",
      ".control",
      "run",
      "let x = 1",
      "c1 a b 1p",  // not circuit: inside a control block
      ".endc",
      "r1 a 0 1k",
      ".op",
      ".end",
      "c2 a b 1p",  // after .end: never read
      ".subckt junk",
  }));
  CHECK(c.elements().size() == 2);
}

TEST_CASE("a deck from a file reads like one from a stream") {
  const auto path = std::filesystem::temp_directory_path() / "xbar_spice_reader_test.cir";
  {
    std::ofstream f(path);
    f << deck({"title", "v1 a 0 1", "r1 a 0 1k", ".end"});
  }
  const Circuit c = read_spice_file(path.string());
  CHECK(c.elements().size() == 2);
  std::filesystem::remove(path);
}

TEST_CASE("a missing file is an error naming its path") {
  const std::string path = "/nonexistent/xbar/deck.cir";
  CHECK_THROWS_WITH_AS(read_spice_file(path),
                       doctest::Contains("/nonexistent/xbar/deck.cir: cannot open SPICE deck"),
                       InputError);
}

TEST_CASE("unsupported elements are errors naming the element and its line") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "c1 a 0 1p"})) ==
        "deck.cir:3: unsupported element 'c1' (this reader handles R, V and I)");
  for (const char* line : {"L1 a 0 1n", "d1 a 0 dmod", "m1 a a 0 0 nmos", "q1 a a 0 npn",
                           "x1 a 0 sub", "b1 a 0 v=1", "e1 a 0 a 0 1", "g1 a 0 a 0 1"}) {
    CAPTURE(line);
    CHECK(as_doctest(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1", line}))) ==
          doctest::Contains("deck.cir:4: unsupported element '"));
  }
}

TEST_CASE("unsupported dot cards are errors naming the card and its line") {
  for (const char* card : {".subckt sub a b", ".ends", ".include x.cir", ".param r=1k",
                           ".model dm d", ".tran 1n 1u", ".dc v1 0 1 0.1", ".lib x.lib tt",
                           ".global vdd", ".ac dec 10 1 1g", ".ic v(a)=1", ".endc"}) {
    CAPTURE(card);
    const std::string head = std::string(card).substr(0, std::string(card).find(' '));
    CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1", card})) ==
          "deck.cir:4: unsupported dot card '" + head +
              "' (this reader handles .op, .option(s), .title, .save, .print, .probe, "
              ".control ... .endc and .end)");
  }
}

TEST_CASE("source forms other than dc are errors") {
  CHECK(read_error(deck({"t", "r1 a 0 1", "v1 a 0 ac 1"})) ==
        "deck.cir:3: voltage source 'v1': unsupported source specification 'ac' (this reader "
        "handles 'dc value' and a bare value)");
  CHECK(as_doctest(read_error(deck({"t", "r1 a 0 1", "v1 a 0 pulse(0 1 0 1n 1n 5n 10n)"}))) ==
        doctest::Contains("deck.cir:3: voltage source 'v1': unsupported source specification "
                          "'pulse(0'"));
  CHECK(as_doctest(read_error(deck({"t", "r1 a 0 1", "i1 a 0 sin(0 1m 1k)"}))) ==
        doctest::Contains("deck.cir:3: current source 'i1': unsupported source specification "
                          "'sin(0'"));
  CHECK(as_doctest(read_error(deck({"t", "r1 a 0 1", "v1 a 0 dc 1 ac 1"}))) ==
        doctest::Contains("deck.cir:3: voltage source 'v1': unsupported source specification "
                          "'ac'"));
}

TEST_CASE("missing fields are errors naming the element") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0"})) ==
        "deck.cir:3: resistor 'r1' needs 2 nodes and a value");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 r="})) ==
        "deck.cir:3: resistor 'r1' needs 2 nodes and a value");
  CHECK(read_error(deck({"t", "r1 a 0 1", "v1 a 0 dc"})) ==
        "deck.cir:3: voltage source 'v1' needs 2 nodes and a value");
  CHECK(read_error(deck({"t", "r1 a 0 1", "i1 a"})) ==
        "deck.cir:3: current source 'i1' needs 2 nodes and a value");
}

TEST_CASE("resistor parameters after the value are errors") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1k tc1=0.001"})) ==
        "deck.cir:3: resistor 'r1': unexpected field 'tc1' after the value (this reader takes "
        "no resistor parameters)");
}

TEST_CASE("bad and non-finite numbers are errors quoting the text") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1.2.3"})) ==
        "deck.cir:3: resistor 'r1': '1.2.3' is not a number");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 NaN"})) ==
        "deck.cir:3: resistor 'r1': 'nan' is not a number");
  CHECK(read_error(deck({"t", "r1 a 0 1", "v1 a 0 dc 1e999"})) ==
        "deck.cir:3: voltage source 'v1': value '1e999' is not finite");
  CHECK(read_error(deck({"t", "r1 a 0 1", "i1 a 0 -1e308meg"})) ==
        "deck.cir:3: current source 'i1': value '-1e308meg' is not finite");
}

TEST_CASE("a resistance that is not positive is an error") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 -5"})) ==
        "deck.cir:3: resistor 'r1': resistance must be > 0 ohm, got -5");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 0"})) ==
        "deck.cir:3: resistor 'r1': resistance must be > 0 ohm, got 0");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1e-999"})) ==
        "deck.cir:3: resistor 'r1': resistance must be > 0 ohm, got 0");
}

TEST_CASE("a duplicate element name is an error naming both lines") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a b 1k", "r2 b 0 1k", "R1 a 0 2k"})) ==
        "deck.cir:5: duplicate element name 'r1' (first on line 3)");
  // Of two duplicates the one met first in the deck is reported.
  CHECK(read_error(deck({"t", "v1 a 0 1", "r2 a b 1k", "r1 b 0 1k", "r1 a 0 2k", "r2 a 0 3k"})) ==
        "deck.cir:5: duplicate element name 'r1' (first on line 4)");
}

TEST_CASE("an element with both terminals on one node is an error") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a a 1k"})) ==
        "deck.cir:3: resistor 'r1': both terminals on node 'a'");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1", "i1 gnd 0 1m"})) ==
        "deck.cir:4: current source 'i1': both terminals on node '0'");
}

TEST_CASE("a node touched by one terminal only is a dangling-node error") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1k", "r2 a x 1k", "r3 a 0 1k"})) ==
        "deck.cir:4: dangling node 'x': only 'r2' connects to it (a node needs at least two "
        "element terminals)");
  CHECK(as_doctest(read_error(deck({"t", "i1 0 y 1m", "r1 a 0 1k", "r2 a 0 1k"}))) ==
        doctest::Contains("deck.cir:2: dangling node 'y': only 'i1' connects to it"));
}

TEST_CASE("errors in continued elements name the line where the element starts") {
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1k", "* note", "r2 a", "+ 0", "+ 1.2.3"})) ==
        "deck.cir:5: resistor 'r2': '1.2.3' is not a number");
  CHECK(read_error(deck({"t", "+ r1 a 0 1"})) ==
        "deck.cir:2: continuation line '+' has no line to continue");
}

TEST_CASE("an empty deck and an unclosed control block are errors") {
  CHECK(read_error(deck({"t", "* nothing", ".op", ".end"})) ==
        "deck.cir:4: deck has no elements (this reader expects R, V and I lines)");
  CHECK(read_error("") == "deck.cir:1: deck has no elements (this reader expects R, V and I lines)");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1", ".control", "run", ".end"})) ==
        "deck.cir:4: .control without a closing .endc");
}

TEST_CASE("numeric node names are names like any other, as in ngspice") {
  // ngspice keeps "1", "0012" and "1e3" as three nodes (not numbers: "0012" is not "12"), and
  // only "0" and "gnd" are ground (checked with `ngspice -b`; issue 17).
  const Circuit c = read(deck({"t", "v1 1 0 1", "r1 1 0012 1k", "r2 0012 12 1k", "r3 12 1e3 1k", "r4 1e3 00 1k",
                               "r5 00 gnd 1k"}));
  CHECK(c.num_nodes() == 5);
  for (const char* name : {"1", "0012", "12", "1e3", "00"}) CHECK(c.find_node(name) >= 0);
  CHECK(c.find_node("gnd") == kGround);
}

TEST_CASE("names that ngspice reads differently are refused with the line and the reason") {
  // Each of these makes ngspice see another circuit than the one written (ngspice 39, `-b`):
  // ',' and ')' split the field ("unknown parameter"), '{' and quotes start expressions (a
  // fatal error), and every byte outside ASCII becomes '_' (two such names merge).
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a x,y 1k", "r2 x,y 0 1k"})) ==
        "deck.cir:3: resistor 'r1': node name 'x,y' holds ',', a field separator to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a b(1) 1k", "r2 b(1) 0 1k"})) ==
        "deck.cir:3: resistor 'r1': node name 'b(1)' holds '(', a field separator to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a{1} 0 1k"})) ==
        "deck.cir:3: resistor 'r1': node name 'a{1}' holds '{', which starts an expression to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a \"b\" 1k"})) ==
        "deck.cir:3: resistor 'r1': node name '\"b\"' holds '\"', which starts an expression to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a \xce\xa9n 1k", "r2 \xce\xa9n 0 1k"})) ==
        "deck.cir:3: resistor 'r1': node name '\xce\xa9n' holds a byte outside ASCII, which ngspice turns into '_' "
        "(merging names that differ only there); use ASCII names");
  // '=' is a token of its own, so it can only stand where a node belongs; ngspice reads
  // "r1 a = 1k" as a resistor from a to a node "1k" without a value.
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a = 1k", "r2 a 0 1k"})) ==
        "deck.cir:3: resistor 'r1': node name '=' holds '=', a field separator to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 = 0 1", "r1 = 0 1k"})) ==
        "deck.cir:2: voltage source 'v1': node name '=' holds '=', a field separator to ngspice; rename it");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r{1} a 0 1k"})) ==
        "deck.cir:3: element name 'r{1}' holds '{', which starts an expression to ngspice; rename it");
  // Other punctuation means the same to ngspice: accepted.
  CHECK(read(deck({"t", "v1 a 0 1", "r1 a b.c/d 1k", "r2 b.c/d v1#branch 1k", "r3 v1#branch 0 1k"})).num_nodes() == 3);
}

TEST_CASE("a resistance below 1e-12 ohm is refused where it is written, and 1f is explained") {
  // "1f" is 1e-15 ohm in SPICE (f is femto, not farad); the solvers refuse such a resistance
  // too, but only the reader can say where it is (issue 17).
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1k", "r2 a 0 1f"})) ==
        "deck.cir:4: resistor 'r2': 1e-15 ohm is below 1e-12 ohm, the smallest resistance xbar solves (the "
        "suffix f is femto, 1e-15, in SPICE)");
  CHECK(read_error(deck({"t", "v1 a 0 1", "r1 a 0 1e-13"})) ==
        "deck.cir:3: resistor 'r1': 1e-13 ohm is below 1e-12 ohm, the smallest resistance xbar solves");
  CHECK(read(deck({"t", "v1 a 0 1", "r1 a 0 1e-12"})).elements()[1].value == 1e-12);
}

TEST_CASE("a deck line beyond the bound, a NUL byte or a deck beyond its size are refused") {
  CHECK(read_error("t\nv1 a 0 1\nr1 a 0 1k" + std::string(2 << 20, ' ') + "\n") ==
        "deck.cir:3: line longer than 1 MiB (a binary file, or a device read as text?)");
  CHECK(read_error(std::string("t\nv1 a 0 1\nr1 a 0 1k\0\n", 21)) ==
        "deck.cir:3: NUL byte at column 10 (text files hold none; is this a binary file?)");
  std::istringstream in(deck({"t", "v1 a 0 1", "r1 a 0 1k", "r2 a 0 1k"}));
  CHECK_THROWS_WITH_AS(read_spice(in, "deck.cir", TextLimits{1 << 10, 16}),
                       "deck.cir: more than 16 bytes (the largest input of this kind; a device or an endless pipe?)",
                       InputError);
}

TEST_CASE("a directory or a device is refused as a deck by name") {
  CHECK_THROWS_WITH_AS(read_spice_file("/tmp"), "/tmp: cannot open SPICE deck: it is a directory (expected a file)",
                       InputError);
  CHECK_THROWS_WITH_AS(read_spice_file("/dev/zero"),
                       "/dev/zero: cannot open SPICE deck: it is a device, not a file (expected a regular file or a pipe)",
                       InputError);
}

}  // namespace
}  // namespace xbar::netlists
