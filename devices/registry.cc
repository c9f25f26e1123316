#include "devices/registry.h"

#include <cmath>

#include "devices/format.h"
#include "devices/input_error.h"
#include "devices/linear_cell.h"
#include "devices/selector_cell.h"
#include "devices/sinh_cell.h"

namespace xbar::devices {

void CellParams::validate() const {
  const std::pair<const char*, double> keys[] = {
      {"nl-k", nl_k_per_v}, {"sel-i0", sel_i0_a}, {"sel-v0", sel_v0_v}};
  for (const auto& [key, v] : keys)
    if (!std::isfinite(v) || v <= 0)
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be > 0");
}

std::vector<std::string> cell_model_names() { return {"linear", "sinh", "selector"}; }

std::shared_ptr<const CellModel> make_cell_model(const std::string& name, const CellParams& params) {
  params.validate();
  if (name == "linear") return std::make_shared<LinearCell>();
  if (name == "sinh") return std::make_shared<SinhCell>(params.nl_k_per_v);
  if (name == "selector") return std::make_shared<SelectorCell>(params.sel_i0_a, params.sel_v0_v);
  std::string known;
  for (const auto& n : cell_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("key cell = '" + name + "': unknown cell model (expected one of: " + known +
                   ")");
}

}  // namespace xbar::devices
