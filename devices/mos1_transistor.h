// The access NMOS of a 1T1R cell: the SPICE level-1 (Shichman-Hodges) DC drain current,
// computed exactly as ngspice's level-1 MOSFET computes it (src/spicelib/devices/mos1/
// mos1load.c) for an instance whose bulk is tied to its source, with gamma = 0 and is = 0, so
// that ngspice with the .model card of spice_model_card() is an exact referee.
//
//   devices::Mos1Transistor t(params);                  // VTO, KP, lambda, gmin
//   devices::MosEval e = t.evaluate(w_over_l, v_d_v, v_g_v, v_s_v);
//   // e.i_a: current into the drain (through the channel to the source), amperes;
//   // e.di_dvd_s, e.di_dvg_s, e.di_dvs_s: its derivatives by each terminal voltage
//
// Equations, with beta = KP * W/L and, for V_ds >= 0 ("normal mode"), V_gst = V_gs - VTO:
//   cutoff      V_gst <= 0:          I = 0
//   saturation  0 < V_gst <= V_ds:   I = beta/2 * V_gst^2 * (1 + lambda V_ds)
//   linear      V_ds < V_gst:        I = beta * (V_gst - V_ds/2) * V_ds * (1 + lambda V_ds)
// For V_ds < 0 ("inverse mode") the device is symmetric: drain and source swap roles, the same
// formulas run on V_gd and -V_ds and the current flows from source to drain. Derivatives in
// normal mode: dI/dV_d = g_ds, dI/dV_g = g_m, dI/dV_s = -(g_ds + g_m) (they sum to zero: only
// voltage differences matter).
//
// Bulk junctions: ngspice always puts gmin (its CKTgmin, `.options gmin`, 1e-12 S by default)
// in parallel with each bulk junction diode. With IS = 0 and the bulk on the source the
// bulk-source diode is shorted and the bulk-drain one is exactly a conductance gmin from drain
// to source, which this model includes (Mos1Params::gmin_s): a cut-off cell carries ngspice's
// leakage to the last bit, and an internal node behind an open memory element keeps a DC path.
// With gamma = 0 there is no body effect, so tying the bulk to the source is exact in both
// modes. The deck must set `.options gmin=` to the same value (the SPICE writer does).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace xbar::devices {

struct Mos1Params {
  // Threshold voltage VTO, volts, finite. 0.5 V: a typical thick-oxide access device.
  double vto_v = 0.5;
  // Transconductance parameter KP = mu Cox, A/V^2, > 0. 200 uA/V^2 is a textbook level-1 NMOS;
  // with W/L = 1 and 1.3 V of overdrive the channel is about 3.8 kOhm near V_ds = 0.
  double kp_a_per_v2 = 2e-4;
  // Channel-length modulation lambda, 1/V, >= 0. 0: an ideal current source in saturation.
  double lambda_per_v = 0.0;
  // Drain-source leakage, siemens, > 0: ngspice's gmin across the bulk-drain junction (see the
  // file comment). 1e-12 S is ngspice's default; keep the two equal for an exact comparison.
  double gmin_s = 1e-12;
  // Throws xbar::InputError naming the CLI key (mos-vto, mos-kp, mos-lambda, mos-gmin).
  void validate() const;
};

// One evaluation at an operating point: current into the drain and its partial derivatives.
struct MosEval {
  double i_a = 0.0;        // current from drain to source through the device, amperes
  double di_dvd_s = 0.0;   // dI/dV_drain, siemens
  double di_dvg_s = 0.0;   // dI/dV_gate, siemens
  double di_dvs_s = 0.0;   // dI/dV_source, siemens
};

class Mos1Transistor {
 public:
  explicit Mos1Transistor(const Mos1Params& params);  // validates
  const Mos1Params& params() const { return p_; }
  // Drain current for an instance of width-to-length ratio w_over_l (> 0, dimensionless) at
  // terminal voltages v_d_v, v_g_v, v_s_v (volts, any reference). Never touches a matrix.
  MosEval evaluate(double w_over_l, double v_d_v, double v_g_v, double v_s_v) const;
  // The `.model` card for ngspice under `model_name`: level=1 with vto, kp, lambda as given and
  // gamma=0 is=0 (no body effect, junctions reduced to gmin). W/L goes on the instance line.
  std::string spice_model_card(const std::string& model_name) const;
  // Parameters as (CLI key, value) pairs for result metadata.
  std::vector<std::pair<std::string, double>> parameters() const;

 private:
  Mos1Params p_;
};

}  // namespace xbar::devices
