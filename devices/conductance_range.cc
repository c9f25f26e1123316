#include "devices/conductance_range.h"

#include <cmath>
#include <string>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

void ConductanceRange::validate() const {
  if (!std::isfinite(g_min_s) || g_min_s < 0)
    throw InputError("key g-min = " + format_number(g_min_s) + ": must be a finite value >= 0 S");
  if (!std::isfinite(g_max_s) || !(g_max_s > g_min_s))
    throw InputError("key g-max = " + format_number(g_max_s) +
                     ": must be finite and > g-min = " + format_number(g_min_s) + " S");
}

}  // namespace xbar::devices
