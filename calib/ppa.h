// Power, performance and area of one crossbar read (one matrix-vector product), from the solved
// circuit and a technology description (issue 20).
//
//   solvers::CrossbarTransient t = solvers::crossbar_transient(crossbar, v, options);
//   calib::PpaOptions o;                  // ADC bits, columns per ADC
//   calib::ArrayPpa p = calib::array_ppa(t, crossbar.spec, tech, o);
//   p.total_j, p.latency_s, p.total_area_m2
//
// Definitions (every figure per read, SI units):
//  - read time t_read: the array's settling time (its slowest column, CrossbarTransient::
//    max_settling_s, within settle-tol of full scale of its DC value), or read_time_s if given;
//  - array energy: static, P_static t_read (the power the row inputs deliver at DC), plus line
//    charging, E(t_stop) - P_static t_stop (what the transient drew beyond the static power: the
//    lines' capacitances charged through their resistances; the limit once the run has settled);
//  - ADC energy: N E_conv, every column converted once, E_conv = FOM 2^ENOB (technology.h);
//  - DAC energy: M dac_energy_j, one conversion per row input;
//  - TIA energy: N tia_power_w t_read;
//  - latency: t_read + columns_per_adc t_conv (the columns sharing an ADC are held and
//    converted one after the other);
//  - area: the array, M N cells of pitch_row x pitch_col (the spec's wire geometry pitches where
//    given, else the technology's cell pitch), plus ceil(N / columns_per_adc) ADCs, M DACs and
//    N TIAs.
// The array's static power and line charging come from the exact solve of every wire, driver
// and sense resistance (not from a closed formula), which is the point of computing them here.
#pragma once

#include <cstdint>
#include <string>

#include "calib/technology.h"
#include "netlists/crossbar_spec.h"
#include "solvers/crossbar_transient.h"

namespace xbar::calib {

struct PpaOptions {
  // Bits of the column read-out ADC, in [1, 24] (its energy is FOM 2^bits unless the technology
  // gives an ENOB). 8 as in `xbar calibrate`'s error ADC.
  int adc_bits = 8;
  // Columns that share one ADC, >= 1: fewer ADCs (area), longer conversion (latency).
  int64_t columns_per_adc = 1;
  // The read time, seconds, >= 0: 0 = the array's settling time from the transient.
  double read_time_s = 0;
  // Throws xbar::InputError naming the key (adc-bits, columns-per-adc, read-time).
  void validate() const;
};

struct ArrayPpa {
  // Energy per read, joules.
  double array_static_j = 0;    // P_static t_read
  double line_charging_j = 0;   // E(t_stop) - P_static t_stop
  double adc_j = 0, dac_j = 0, tia_j = 0;
  double total_j = 0;
  // Time, seconds.
  double read_s = 0;            // t_read
  double conversion_s = 0;      // columns_per_adc t_conv
  double latency_s = 0;         // read + conversion
  bool settled = true;          // false: the transient ended before every column settled (t_read = t_stop)
  // Area, m^2.
  double array_area_m2 = 0, adc_area_m2 = 0, dac_area_m2 = 0, tia_area_m2 = 0;
  double total_area_m2 = 0;
  int64_t adcs = 0;
  double static_power_w = 0;    // P_static, for reference
  std::string message;          // one line: what dominated each figure
};

// t: the transient of the array for the input whose read is costed; spec: its physical
// description (size, wire geometry). Throws InputError for bad options or technology.
ArrayPpa array_ppa(const solvers::CrossbarTransient& t, const netlists::CrossbarSpec& spec,
                   const Technology& tech, const PpaOptions& options);

}  // namespace xbar::calib
