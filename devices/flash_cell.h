// The Flash cell: a floating-gate (or charge-trap) transistor whose stored charge sets its
// threshold voltage V_th, the cell's weight. In a NOR array cell (i, j) has its drain on the
// row node r(i,j) (bit-line side of the read), its source on the column node c(i,j) (the
// source line, sensed at virtual ground) and its control gate on a word line held at v_gate
// (per row, per column or one line for the array: GateLines, cell_model.h); the bulk (p-well)
// is at 0 V, the reference of every voltage below.
//
//   devices::FlashParams p;  p.beta_a_per_v2 = 1e-4;  p.n = 1.5;  p.temperature_k = 300;
//   auto cell = std::make_shared<devices::FlashCell>(p, gates);   // or make_cell_model("flash")
//   auto x = netlists::build_crossbar(spec, vth_v, cell);         // the M x N V_th matrix
//
// Current (long-channel EKV, Enz, Krummenacher and Vittoz, "An analytical MOS transistor model
// valid in all regions of operation", Analog Integr. Circuits Signal Process. 8, 83 (1995)),
// continuous from subthreshold to strong inversion and symmetric in drain and source:
//
//   I   = 2 n beta V_T^2 [ F(x_f) - F(x_r) ],   F(x) = ln^2(1 + e^x)
//   x_f = (V_P - V_S) / (2 V_T),  x_r = (V_P - V_D) / (2 V_T),  V_P = (V_G - V_th) / n,
//   V_T = k T / q.
//
// beta = mu C_ox W/L (A/V^2, --flash-beta), n the slope factor (--flash-n), T the temperature
// (K, --temperature). Limits: in strong inversion with V_S = 0 it is the square law
// beta (V_G - V_th - n V_D / 2) V_D; in subthreshold
// 2 n beta V_T^2 e^{(V_G - V_th)/(n V_T)} (e^{-V_S/V_T} - e^{-V_D/V_T}).
//
// Numerics. F is evaluated with the softplus s(x) = ln(1 + e^x) = max(x, 0) + log1p(e^{-|x|})
// (never overflows, and keeps full relative accuracy for very negative x, where s(x) ~ e^x),
// and I = K (s_f - s_r)(s_f + s_r). Derivatives, with the logistic l(x) = s'(x):
//   dI/dV_D = 2 n beta V_T s_r l_r,   dI/dV_S = -2 n beta V_T s_f l_f,
//   dI/dV_G = 2 beta V_T (s_f l_f - s_r l_r).
// They do not sum to zero: the fourth terminal, the grounded bulk, takes up the difference
// (that is the body effect the slope factor n describes). Far below threshold (x < -370)
// everything underflows to an exact 0, never to inf or NaN.
//
// In ngspice the cell is one B-source per cell from drain to source whose expression spells
// out the same formula, with s(x) = (x + |x|)/2 + 2 atanh(e^{-|x|} / (2 + e^{-|x|})): the
// identity log1p(u) = 2 atanh(u / (2 + u)) keeps log1p's accuracy for tiny u (ngspice has no
// log1p; ln(1 + u) would lose every digit below u ~ 1e-16), and e^{-|x|} <= 1 never
// overflows. ngspice differentiates the expression itself: abs -> sgn, so (x + |x|)/2 has the
// exact derivative 1/2 at 0 too. ngspice keeps 11 significant digits of each constant in a
// B-source expression (measured with ngspice 39: 12.345678901234567 evaluates as
// 12.345678901), and far below threshold the current goes as e^{2 x_f}: the deck's current
// differs from the native one by up to ~1e-9 relative (tests/solvers/flash_array_test.cc),
// far inside the 1e-6 the cross-checks ask for. The SPICE reader reads no B-sources, so flash
// decks do not read back.
//
// Regions (region(), region_names()), by the inversion coefficient of the source end,
// IC = s(x_f)^2 (Enz and Vittoz's normalised forward current), with the lower of the two
// channel ends taken as the source (the device is symmetric):
//   subthreshold (weak inversion)  IC < 0.1   i.e. V_P - V_S < -1.98 V_T
//   moderate inversion             0.1 <= IC <= 10
//   linear (strong inversion)      IC > 10    (V_P - V_S > 6.2 V_T) and V_D < V_P
//   saturation (strong inversion)  IC > 10    and V_D >= V_P (the channel pinched off at the
//                                             drain: V_DS >= V_DSsat = V_P - V_S)
// with V_D the higher end. The boundaries 0.1 and 10 are the customary ones of the EKV
// literature (Enz and Vittoz, "Charge-based MOS transistor modeling", Wiley 2006, ch. 3).
#pragma once

#include <cstdint>

#include "devices/cell_model.h"

namespace xbar::devices {

// Boltzmann constant / elementary charge, V/K (exact in the 2019 SI).
inline constexpr double kBoltzmannOverCharge_v_per_k = 1.380649e-23 / 1.602176634e-19;

struct FlashParams {
  // Current factor beta = mu C_ox W/L [key flash-beta], A/V^2, finite, > 0. 100 uA/V^2: with
  // 1 V of gate overdrive and 0.1 V across it a cell carries ~9 uA (~90 uS), the conductance
  // range of the resistive cells xbar's defaults describe.
  double beta_a_per_v2 = 1e-4;
  // Subthreshold slope factor n [key flash-n], finite, > 0 (physically >= 1). 1.5: a
  // subthreshold swing n V_T ln 10 of 90 mV/decade at 300 K, typical of floating-gate cells
  // (their gate couples to the channel through the inter-poly dielectric).
  double n = 1.5;
  // Temperature [key temperature], kelvin, finite, > 0. 300 K: room temperature.
  double temperature_k = 300.0;
  // Throws xbar::InputError naming the key, the value and the constraint.
  void validate() const;
  // Thermal voltage k T / q, volts (25.85 mV at 300 K).
  double thermal_voltage_v() const { return kBoltzmannOverCharge_v_per_k * temperature_k; }
};

// Operating regions, the values of region() (see the file comment).
enum class FlashRegion : uint8_t { kSubthreshold = 0, kModerate = 1, kLinear = 2, kSaturation = 3 };
// Inversion-coefficient boundaries of the regions.
inline constexpr double kWeakInversionMaxIc = 0.1;
inline constexpr double kStrongInversionMinIc = 10.0;

// ln(1 + e^x) without overflow, accurate to a few ulp for every x (e^x for x << 0).
double softplus(double x);
// 1 / (1 + e^-x), the derivative of softplus, without overflow.
double logistic(double x);

class FlashCell final : public CellModel {
 public:
  // Validates params (flash-beta, flash-n, temperature) and the nominal gate voltage (v-gate);
  // the per-line voltages are checked against the array by the crossbar builder.
  FlashCell(const FlashParams& params, const GateLines& gates);
  std::string name() const override { return "flash"; }
  bool is_linear() const override { return false; }
  // The wire-free read: drain at v_v, source at 0 V, gate at gates.v_gate_v; value = V_th.
  CellEval evaluate(double vth_v, double v_v) const override;
  // Throws xbar::InputError: a Flash cell needs its gate line (build the circuit with
  // netlists::build_crossbar(), which gives every cell one).
  std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                      const std::string& neg, double vth_v) const override;
  std::vector<std::pair<std::string, double>> parameters() const override;
  CellValueKind cell_value() const override { return {"threshold voltage V_th", "volts", false}; }
  const GateLines* gate_lines() const override { return &gates_; }
  MosEval evaluate_gated(double vth_v, double v_d_v, double v_g_v, double v_s_v) const override;
  // One B-source from drain to source (see the file comment).
  std::vector<std::string> gated_spice_card(const std::string& name, const std::string& drain,
                                            const std::string& gate, const std::string& source,
                                            double vth_v) const override;
  // A FlashRegion as int.
  int region(double vth_v, double v_d_v, double v_g_v, double v_s_v) const override;
  std::vector<std::string> region_names() const override;

  const FlashParams& params() const { return p_; }
  // The threshold voltage at which a cell read with v_d_v on its drain, its source at 0 V and
  // v_g_v on its gate carries i_a (the inverse of the read characteristic, which falls
  // monotonically with V_th). Throws xbar::InputError unless i_a > 0, v_d_v > 0 and both finite.
  double threshold_for_current(double i_a, double v_d_v, double v_g_v) const;

 private:
  FlashParams p_;
  GateLines gates_;
  double vt_ = 0;  // thermal voltage, volts
};

}  // namespace xbar::devices
