#include "devices/registry.h"

#include <cmath>

#include "devices/flash_cell.h"
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
  flash_params().validate();
  if (!std::isfinite(v_gate_v))
    throw InputError("key v-gate = " + format_number(v_gate_v) + ": must be finite");
  for (size_t k = 0; k < v_gate_lines_v.size(); ++k)
    if (!std::isfinite(v_gate_lines_v[k]))
      throw InputError("key v-gate-lines: entry " + std::to_string(k) + " = " +
                       format_number(v_gate_lines_v[k]) + ": must be finite volts");
}

FlashParams CellParams::flash_params() const {
  FlashParams p;
  p.beta_a_per_v2 = flash_beta_a_per_v2;
  p.n = flash_n;
  p.temperature_k = temperature_k;
  return p;
}

GateLayout CellParams::gate_layout() const {
  return gate_global ? GateLayout::kGlobal : gate_per_row ? GateLayout::kPerRow : GateLayout::kPerColumn;
}

void CellParams::set_gate_layout(GateLayout g) {
  gate_global = g == GateLayout::kGlobal;
  gate_per_row = g != GateLayout::kPerColumn;
}

GateLines CellParams::gate_lines() const {
  GateLines g;
  g.layout = gate_layout();
  g.v_gate_v = v_gate_v;
  g.v_line_v = v_gate_lines_v;
  return g;
}

Mos1Params CellParams::mos_params() const {
  Mos1Params p;
  p.vto_v = mos_vto_v;
  p.kp_a_per_v2 = mos_kp_a_per_v2;
  p.lambda_per_v = mos_lambda_per_v;
  p.gmin_s = mos_gmin_s;
  return p;
}

std::vector<std::string> cell_model_names() { return {"linear", "sinh", "selector", "1t1r", "flash"}; }

std::shared_ptr<const CellModel> make_cell_model(const std::string& name, const CellParams& params) {
  params.validate();
  if (name == "linear") return std::make_shared<LinearCell>();
  if (name == "sinh") return std::make_shared<SinhCell>(params.nl_k_per_v);
  if (name == "selector") return std::make_shared<SelectorCell>(params.sel_i0_a, params.sel_v0_v);
  if (name == "flash") return std::make_shared<FlashCell>(params.flash_params(), params.gate_lines());
  if (name == "1t1r" && (params.gate_global || !params.v_gate_lines_v.empty()))
    throw InputError(std::string("key ") + (params.gate_global ? "gate = global" : "v-gate-lines") +
                     ": only the flash cell has it (1t1r gate lines run per row or per column, "
                     "all at v-gate)");
  if (name == "1t1r")
    return std::make_shared<OneTOneRCell>(params.mos_params(), params.mos_w_over_l, params.v_gate_v,
                                          params.gate_per_row);
  std::string known;
  for (const auto& n : cell_model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("key cell = '" + name + "': unknown cell model (expected one of: " + known +
                   ")");
}

}  // namespace xbar::devices
