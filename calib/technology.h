// Technology description for power, performance and area (issue 20): the energy, time and area
// of what surrounds a crossbar array, every default with its source.
//
//   calib::Technology tech;               // documented defaults
//   tech.adc_fom_j = 10e-15;              // or from the `xbar ppa` technology INI
//   tech.validate();                      // InputError naming the key
//   double e = tech.adc_energy_j(8);      // per conversion: FOM * 2^ENOB
//   tech = calib::read_technology_ini("tech.ini");   // technology_ini.h: every key given
//
// What the array itself costs is not here: its static power, its line charging energy and its
// settling time come from the solved circuit (solvers/crossbar_transient.h); calib/ppa.h
// combines the two. Figures left at 0 are not modelled (no published figure fits every design);
// they are there for the user's own numbers.
//
// Source of the ADC defaults: B. Murmann, "ADC Performance Survey 1997-2025",
// https://github.com/bmurmann/ADC-survey, file xls/ADCsurvey_latest.xlsx of revision
// 2025-06-09, ISSCC and VLSI sheets: the 12 SAR-based designs (architecture containing "SAR":
// single-channel and time-interleaved) with 44-56 dB SNDR (the 8-bit class, ENOB 7-9) and a
// Nyquist rate of 0.1-2 GS/s (the rates compute-in-memory read-outs run at). Their medians:
// Walden FOM (column FOMW_hf) 24.9 fJ/conversion-step, rate 1.225 GS/s, area 0.0268 mm^2.
#pragma once

#include <string>
#include <vector>

namespace xbar::calib {

struct Technology {
  // ADC energy per conversion step (Walden figure of merit P / (2^ENOB f_s)), joules, > 0:
  // energy per conversion = adc_fom_j * 2^ENOB. 25 fJ: the survey median above.
  double adc_fom_j = 25e-15;
  // ADC effective number of bits, in [0, 24]: 0 = the read-out's nominal bits (an ideal
  // quantizer); a real converter's ENOB is lower by its noise and distortion.
  double adc_enob = 0;
  // Time of one conversion, seconds, > 0: 1 / 1.225 GS/s, the survey median rate above.
  double adc_conversion_s = 1 / 1.225e9;
  // Area of one ADC, m^2, >= 0: 0.0268 mm^2, the survey median area above.
  double adc_area_m2 = 0.0268e-6;
  // Energy of one DAC conversion (one row input), joules, >= 0. 0: not modelled beyond the
  // row line itself, whose charging (C V^2 drawn from the driver, half of it dissipated in
  // the line) the transient computes exactly; give a DAC's own logic and reference energy here.
  double dac_energy_j = 0;
  // Area of one DAC, m^2, >= 0; 0: not modelled.
  double dac_area_m2 = 0;
  // Power of one column's sense amplifier / TIA while the array settles, watts, >= 0; 0: not
  // modelled (an ideal virtual ground, as the circuit assumes).
  double tia_power_w = 0;
  // Area of one column's sense amplifier / TIA, m^2, >= 0; 0: not modelled.
  double tia_area_m2 = 0;
  // Cell pitch, metres, > 0 (a cell occupies pitch^2): 100 nm, the 4F^2 cross-point cell at
  // F = 50 nm (one line and one space of F each way); with wire geometry given in the spec,
  // its row and column pitches are used instead (calib/ppa.h).
  double cell_pitch_m = 100e-9;

  // Throws xbar::InputError naming the key (adc-fom, adc-enob, adc-conversion-time, adc-area,
  // dac-energy, dac-area, tia-power, tia-area, cell-pitch) and the constraint it broke.
  void validate() const;
  // Energy of one conversion of a `bits`-bit read-out: adc_fom_j * 2^(adc_enob or bits).
  double adc_energy_j(int bits) const;
};

// The technology's keys, in the order of the template file (calib/technology.ini): the key of
// the INI file and of the JSON results, the field it sets and its unit.
struct TechnologyKey {
  const char* key;
  double Technology::*field;
  const char* unit;
};
const std::vector<TechnologyKey>& technology_keys();

}  // namespace xbar::calib
