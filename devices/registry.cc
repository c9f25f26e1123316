#include "devices/registry.h"

#include <cmath>

#include "support/format.h"
#include "support/input_error.h"
#include "devices/linear_cell.h"
#include "devices/mos1_transistor.h"
#include "devices/one_t_one_r_cell.h"
#include "devices/selector_cell.h"
#include "devices/sinh_cell.h"

namespace xbar::devices {

void CellParams::validate() const {
  const std::pair<const char*, double> keys[] = {
      {"nl-k", nl_k_per_v}, {"sel-i0", sel_i0_a}, {"sel-v0", sel_v0_v}, {"mos-wl", mos_w_over_l}};
  for (const auto& [key, v] : keys)
    if (!std::isfinite(v) || v <= 0)
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be > 0");
  mos_params().validate();
  if (!std::isfinite(v_gate_v))
    throw InputError("key v-gate = " + format_number(v_gate_v) + ": must be finite");
}

Mos1Params CellParams::mos_params() const {
  Mos1Params p;
  p.vto_v = mos_vto_v;
  p.kp_a_per_v2 = mos_kp_a_per_v2;
  p.lambda_per_v = mos_lambda_per_v;
  p.gmin_s = mos_gmin_s;
  return p;
}

std::vector<std::string> cell_model_names() { return {"linear", "sinh", "selector", "1t1r"}; }

std::shared_ptr<const CellModel> make_cell_model(const std::string& name, const CellParams& params) {
  params.validate();
  if (name == "linear") return std::make_shared<LinearCell>();
  if (name == "sinh") return std::make_shared<SinhCell>(params.nl_k_per_v);
  if (name == "selector") return std::make_shared<SelectorCell>(params.sel_i0_a, params.sel_v0_v);
  if (name == "1t1r")
    return std::make_shared<OneTOneRCell>(params.mos_params(), params.mos_w_over_l, params.v_gate_v,
                                          params.gate_per_row);
  std::string known;
  for (const auto& n : cell_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("key cell = '" + name + "': unknown cell model (expected one of: " + known +
                   ")");
}

}  // namespace xbar::devices
