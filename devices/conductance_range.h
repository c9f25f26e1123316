// ConductanceRange: the physical programming window of a memory cell, [g_min_s, g_max_s].
//
//   devices::ConductanceRange range;           // 1 uS .. 100 uS
//   range.g_min_s = 2e-6; range.validate();    // throws xbar::InputError naming g-min / g-max
//   double g = range.clip(target_s);
//
// Every programming stage shares it: uniform levels span it, stuck-at-ON goes to g_max_s and
// stuck-at-OFF to g_min_s, and programming variation is clipped to it (a cell cannot be
// programmed outside its window). Drift and read noise are not clipped to it: they act after
// programming and are physical departures from the programmed state.
#pragma once

namespace xbar::devices {

struct ConductanceRange {
  // Lowest programmable conductance (fully RESET, high-resistance state) [key g-min], siemens,
  // finite and >= 0. 1 uS (1 Mohm) is a typical RRAM HRS and equals the CLI's random-array
  // g-off default, so random targets and the device window agree unless told otherwise.
  double g_min_s = 1e-6;
  // Highest programmable conductance (SET, low-resistance state) [key g-max], siemens, finite
  // and > g_min_s. 100 uS (10 kohm) is a typical RRAM LRS and equals the g-on default.
  double g_max_s = 1e-4;

  // Throws xbar::InputError naming the key, the value and the constraint it broke.
  void validate() const;
  double clip(double g_s) const {
    return g_s < g_min_s ? g_min_s : (g_s > g_max_s ? g_max_s : g_s);
  }
};

}  // namespace xbar::devices
