#include "calib/technology.h"

#include <cmath>
#include <utility>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::calib {

void Technology::validate() const {
  auto finite = [](const char* key, double v, const char* unit, bool positive) {
    if (!std::isfinite(v) || (positive ? !(v > 0) : v < 0))
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be finite and " +
                       (positive ? "> 0 " : ">= 0 ") + unit);
  };
  finite("adc-fom", adc_fom_j, "J per conversion step", true);
  finite("adc-conversion-time", adc_conversion_s, "s", true);
  finite("adc-area", adc_area_m2, "m^2", false);
  finite("dac-energy", dac_energy_j, "J", false);
  finite("dac-area", dac_area_m2, "m^2", false);
  finite("tia-power", tia_power_w, "W", false);
  finite("tia-area", tia_area_m2, "m^2", false);
  finite("cell-pitch", cell_pitch_m, "m", true);
  if (!(adc_enob >= 0 && adc_enob <= 24))
    throw InputError("key adc-enob = " + format_number(adc_enob) + ": must be in [0, 24] (0 = the ADC's nominal bits)");
}

const std::vector<TechnologyKey>& technology_keys() {
  static const std::vector<TechnologyKey> keys = {
      {"adc-fom", &Technology::adc_fom_j, "J per conversion step"},
      {"adc-enob", &Technology::adc_enob, "bits"},
      {"adc-conversion-time", &Technology::adc_conversion_s, "s"},
      {"adc-area", &Technology::adc_area_m2, "m^2"},
      {"dac-energy", &Technology::dac_energy_j, "J"},
      {"dac-area", &Technology::dac_area_m2, "m^2"},
      {"tia-power", &Technology::tia_power_w, "W"},
      {"tia-area", &Technology::tia_area_m2, "m^2"},
      {"cell-pitch", &Technology::cell_pitch_m, "m"},
  };
  return keys;
}

double Technology::adc_energy_j(int bits) const {
  return adc_fom_j * std::exp2(adc_enob > 0 ? adc_enob : double(bits));
}

}  // namespace xbar::calib
