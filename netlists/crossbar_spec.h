// CrossbarSpec: the physical description of one crossbar array (everything but the cell
// conductances and the inputs).
//
//   netlists::CrossbarSpec spec;
//   spec.rows = 128; spec.cols = 64;
//   spec.r_row_ohm = 2.5; spec.drive = DriveSide::kBoth;
//   spec.validate();                       // throws xbar::InputError naming the key
//   double r = spec.row_segment_ohm();     // per-segment, from ohms or from geometry
//
// Conventions (DESIGN.md): M rows (word lines, inputs) x N columns (bit lines, outputs).
// Row i is driven by an ideal source through r_driver_ohm into r(i,0) (left), r(i,N-1)
// (right) or both; row segments of row_segment_ohm() join r(i,j)-r(i,j+1). Column j has
// segments col_segment_ohm() joining c(i,j)-c(i+1,j) and is sensed at c(M-1,j) (bottom),
// c(0,j) (top) or both, each through r_sense_ohm into a 0 V virtual ground (a TIA input);
// r_sense_ohm = 0 is an ideal virtual ground.
#pragma once

#include <cstdint>
#include <string>

namespace xbar::netlists {

enum class DriveSide { kLeft, kRight, kBoth };
enum class SenseSide { kBottom, kTop, kBoth };

std::string to_string(DriveSide d);
std::string to_string(SenseSide s);
// Throw xbar::InputError naming the key ("drive" / "sense") and the accepted values.
DriveSide parse_drive_side(const std::string& s);
SenseSide parse_sense_side(const std::string& s);

// Wire cross-section and length; segment resistance = resistivity * pitch / (width * thickness).
// All zero means "not given": the per-segment ohms are used instead.
struct WireGeometry {
  double resistivity_ohm_m = 0.0;  // e.g. 1.68e-8 for bulk copper; thin lines are higher
  double width_m = 0.0;            // line width
  double thickness_m = 0.0;        // line thickness (height)
  double pitch_m = 0.0;            // segment length = cell pitch along this line
  bool given() const {
    return resistivity_ohm_m != 0 || width_m != 0 || thickness_m != 0 || pitch_m != 0;
  }
  double segment_ohm() const { return resistivity_ohm_m * pitch_m / (width_m * thickness_m); }
};

struct CrossbarSpec {
  // Array size. 1 <= rows, cols, and 2*rows*cols plus the driver and sense nodes must fit
  // the int32 node index (square arrays up to 32767 x 32767). 64 x 64 is a common macro size
  // and solves in milliseconds.
  int64_t rows = 64;
  int64_t cols = 64;
  // Per-segment wire resistance, ohms: 0 (ideal wire) or >= kMinResistanceOhm. 2.5 ohm per cell is a typical
  // figure for a scaled (~20-nm) copper word line, the case DESIGN.md's users ask about.
  double r_row_ohm = 2.5;
  double r_col_ohm = 2.5;
  // Geometry alternative to r_row_ohm / r_col_ohm; when given() it takes their place (giving
  // both is an error, see validate()).
  WireGeometry row_geometry;
  WireGeometry col_geometry;
  // Set by the CLI when r_row_ohm / r_col_ohm were given explicitly, so that validate() can
  // reject a spec that gives a line both ohms and geometry.
  bool r_row_given = false;
  bool r_col_given = false;
  // Driver output resistance per row end, ohms, >= 0 (0 = ideal source, the usual DAC model).
  double r_driver_ohm = 0.0;
  // Sense resistance per column end into the virtual ground, ohms, >= 0 (0 = ideal TIA).
  double r_sense_ohm = 0.0;
  DriveSide drive = DriveSide::kLeft;
  SenseSide sense = SenseSide::kBottom;
  // Capacitance to ground at every row (word-line) node r(i,j) and at every column (bit-line)
  // node c(i,j), farads, finite and >= 0: the wire's capacitance per segment plus the cell's,
  // lumped at the node. Only the transient analysis (solvers/transient.h) and transient decks
  // (netlists/spice_writer.h) use them: at DC a capacitor is open, so every DC result and deck
  // is the same with or without them. 0 (none) by default, which keeps DC decks unchanged.
  // Of the order of a femtofarad: a wire's capacitance per length (~0.2 fF/um on-chip) times
  // the cell pitch, plus the cell's own.
  double c_row_f = 0.0;
  double c_col_f = 0.0;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  double row_segment_ohm() const {
    return row_geometry.given() ? row_geometry.segment_ohm() : r_row_ohm;
  }
  double col_segment_ohm() const {
    return col_geometry.given() ? col_geometry.segment_ohm() : r_col_ohm;
  }
  int64_t unknowns() const { return 2 * rows * cols; }
};

}  // namespace xbar::netlists
