#include "netlists/crossbar_spec.h"

#include <cmath>
#include <sstream>

#include "support/format.h"
#include "support/input_error.h"
#include "netlists/circuit.h"

namespace xbar::netlists {

namespace {

std::string num(double v) { return format_number(v); }

void require_nonnegative(const char* key, double v, const char* unit) {
  if (!std::isfinite(v) || v < 0)
    throw InputError(std::string("key ") + key + " = " + num(v) + ": must be a finite value >= 0 " +
                     unit);
}

// A resistance is 0 (ideal) or at least kMinResistanceOhm, and finite.
void require_resistance(const char* key, double v) {
  require_nonnegative(key, v, "ohm");
  if (v > 0 && v < kMinResistanceOhm)
    throw InputError(std::string("key ") + key + " = " + num(v) + ": must be 0 (ideal) or >= " +
                     num(kMinResistanceOhm) + " ohm");
}

void validate_geometry(const char* line, const WireGeometry& g, bool ohms_given) {
  if (!g.given()) return;
  const std::string p = std::string(line) + "-";
  if (ohms_given)
    throw InputError("keys r-" + std::string(line) + " and " + p +
                     "resistivity/width/thickness/pitch both set: give the " + line +
                     " wire either in ohms per segment or as geometry, not both");
  const std::pair<const char*, double> fields[] = {{"resistivity", g.resistivity_ohm_m},
                                                    {"width", g.width_m},
                                                    {"thickness", g.thickness_m},
                                                    {"pitch", g.pitch_m}};
  for (const auto& [name, v] : fields) {
    if (!std::isfinite(v) || v <= 0)
      throw InputError("key " + p + name + " = " + num(v) +
                       ": must be > 0 (geometry needs resistivity [ohm*m], width, thickness "
                       "and pitch [m] all set)");
  }
  const double r = g.segment_ohm();
  if (!std::isfinite(r) || r < kMinResistanceOhm)
    throw InputError("keys " + p + "resistivity/width/thickness/pitch give " + num(r) +
                     " ohm per segment: must be finite and >= " + num(kMinResistanceOhm) + " ohm");
}

}  // namespace

std::string to_string(DriveSide d) {
  switch (d) {
    case DriveSide::kLeft: return "left";
    case DriveSide::kRight: return "right";
    case DriveSide::kBoth: return "both";
  }
  return "?";
}

std::string to_string(SenseSide s) {
  switch (s) {
    case SenseSide::kBottom: return "bottom";
    case SenseSide::kTop: return "top";
    case SenseSide::kBoth: return "both";
  }
  return "?";
}

DriveSide parse_drive_side(const std::string& s) {
  if (s == "left") return DriveSide::kLeft;
  if (s == "right") return DriveSide::kRight;
  if (s == "both") return DriveSide::kBoth;
  throw InputError("key drive = '" + s + "': expected left, right or both");
}

SenseSide parse_sense_side(const std::string& s) {
  if (s == "bottom") return SenseSide::kBottom;
  if (s == "top") return SenseSide::kTop;
  if (s == "both") return SenseSide::kBoth;
  throw InputError("key sense = '" + s + "': expected bottom, top or both");
}

void CrossbarSpec::validate() const {
  if (rows < 1) throw InputError("key rows = " + std::to_string(rows) + ": must be >= 1");
  if (cols < 1) throw InputError("key cols = " + std::to_string(cols) + ": must be >= 1");
  // Node ids are int32: 2MN grid nodes plus a few per row and column must stay below 2^31.
  // Bound each side first so that the product cannot overflow.
  if (rows > (int64_t(1) << 30) || cols > (int64_t(1) << 30) ||
      2 * rows * cols > int64_t(2147483647) - 4 * (rows + cols))
    throw InputError("keys rows x cols = " + std::to_string(rows) + " x " + std::to_string(cols) +
                     ": 2*rows*cols unknowns exceed the 2^31 node index");
  require_resistance("r-row", r_row_ohm);
  require_resistance("r-col", r_col_ohm);
  require_resistance("r-driver", r_driver_ohm);
  require_resistance("r-sense", r_sense_ohm);
  validate_geometry("row", row_geometry, r_row_given);
  validate_geometry("col", col_geometry, r_col_given);
  // Two ideal sources tied together by an ideal wire: their currents are undefined (SPICE
  // reports a singular matrix for such a voltage-source loop), so say so up front.
  if (drive == DriveSide::kBoth && r_driver_ohm == 0 && (row_segment_ohm() == 0 || cols == 1))
    throw InputError(
        "keys drive = both and r-driver = 0 with r-row = 0 or cols = 1: both ends of each row "
        "would be ideal sources joined by an ideal wire, so their currents are undefined; give r-driver > 0 "
        "or r-row > 0");
  if (sense == SenseSide::kBoth && r_sense_ohm == 0 && (col_segment_ohm() == 0 || rows == 1))
    throw InputError(
        "keys sense = both and r-sense = 0 with r-col = 0 or rows = 1: both ends of each column "
        "would be ideal virtual grounds joined by an ideal wire, so their split is undefined; give "
        "r-sense > 0 or r-col > 0");
}

}  // namespace xbar::netlists
