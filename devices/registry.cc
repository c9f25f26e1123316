#include "devices/registry.h"

#include "devices/input_error.h"
#include "devices/linear_cell.h"

namespace xbar::devices {

std::vector<std::string> cell_model_names() { return {"linear"}; }

std::shared_ptr<const CellModel> make_cell_model(const std::string& name) {
  if (name == "linear") return std::make_shared<LinearCell>();
  std::string known;
  for (const auto& n : cell_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("key cell = '" + name + "': unknown cell model (expected one of: " + known +
                   ")");
}

}  // namespace xbar::devices
