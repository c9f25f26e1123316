#include "devices/mos1_transistor.h"

#include <cmath>

#include "devices/cell_model.h"
#include "support/format.h"
#include "support/input_error.h"

namespace xbar::devices {

void Mos1Params::validate() const {
  if (!std::isfinite(vto_v))
    throw InputError("key mos-vto = " + format_number(vto_v) + ": must be finite");
  const std::pair<const char*, double> positive[] = {{"mos-kp", kp_a_per_v2}, {"mos-gmin", gmin_s}};
  for (const auto& [key, v] : positive)
    if (!std::isfinite(v) || v <= 0)
      throw InputError(std::string("key ") + key + " = " + format_number(v) + ": must be > 0");
  if (!std::isfinite(lambda_per_v) || lambda_per_v < 0)
    throw InputError("key mos-lambda = " + format_number(lambda_per_v) + ": must be >= 0");
}

Mos1Transistor::Mos1Transistor(const Mos1Params& params) : p_(params) { p_.validate(); }

MosEval Mos1Transistor::evaluate(double w_over_l, double v_d_v, double v_g_v, double v_s_v) const {
  // The same differences as mos1load.c forms them (vgd = vgs - vds), so that the region
  // boundaries fall on the same side to the last bit.
  const double vgs = v_g_v - v_s_v;
  const double vds = v_d_v - v_s_v;
  const double vgd = vgs - vds;
  const bool normal = vds >= 0;              // MOS1mode = +1; else -1 and the roles swap
  const double vdsm = normal ? vds : -vds;   // vds * mode
  const double vgst = (normal ? vgs : vgd) - p_.vto_v;
  const double beta = p_.kp_a_per_v2 * w_over_l;
  const double lambda = p_.lambda_per_v;
  double cdrain = 0, gm = 0, gds = 0;  // in the device's own (mode) orientation
  if (vgst > 0) {
    const double betap = beta * (1 + lambda * vdsm);
    if (vgst <= vdsm) {  // saturation
      cdrain = betap * vgst * vgst * .5;
      gm = betap * vgst;
      gds = lambda * beta * vgst * vgst * .5;
    } else {  // linear
      cdrain = betap * vdsm * (vgst - .5 * vdsm);
      gm = betap * vdsm;
      gds = betap * (vgst - vdsm) + lambda * beta * vdsm * (vgst - .5 * vdsm);
    }
  }
  MosEval e;
  if (normal) {  // cdrain(V_g - V_s, V_d - V_s)
    e.i_a = cdrain;
    e.di_dvd_s = gds;
    e.di_dvg_s = gm;
    e.di_dvs_s = -gds - gm;
  } else {  // I = -cdrain(V_g - V_d, V_s - V_d)
    e.i_a = -cdrain;
    e.di_dvd_s = gm + gds;
    e.di_dvg_s = -gm;
    e.di_dvs_s = -gds;
  }
  // The bulk-drain junction with IS = 0: gmin from drain to the bulk, which is the source.
  e.i_a += p_.gmin_s * vds;
  e.di_dvd_s += p_.gmin_s;
  e.di_dvs_s -= p_.gmin_s;
  return e;
}

std::string Mos1Transistor::spice_model_card(const std::string& model_name) const {
  return ".model " + model_name + " nmos level=1 vto=" + spice_number(p_.vto_v) +
         " kp=" + spice_number(p_.kp_a_per_v2) + " lambda=" + spice_number(p_.lambda_per_v) +
         " gamma=0 is=0";
}

std::vector<std::pair<std::string, double>> Mos1Transistor::parameters() const {
  return {{"mos-vto", p_.vto_v},
          {"mos-kp", p_.kp_a_per_v2},
          {"mos-lambda", p_.lambda_per_v},
          {"mos-gmin", p_.gmin_s}};
}

}  // namespace xbar::devices
