#include "devices/cell_model.h"

#include "support/format.h"

namespace xbar::devices {

std::string spice_number(double v) { return format_number(v); }

}  // namespace xbar::devices
