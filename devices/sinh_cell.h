// The sinh cell: a memory element with a symmetric nonlinear I-V,
//
//   I = (G / k) * sinh(k * V),   dI/dV = G * cosh(k * V),
//
// so G stays the small-signal conductance at 0 V (what a conductance map specifies) and
// k (1/V, --nl-k) sets the nonlinearity: at V = 1/k the current is 17.5 % above G*V. The form
// is the usual compact description of RRAM/PCM read nonlinearity (hopping/tunnelling
// conduction; e.g. Chen, "ReRAM: history, status, and future", IEEE TED 67, 1420 (2020)).
// In ngspice it is the B-source  I = G/k * sinh(k * V(pos, neg)).
#pragma once

#include "devices/cell_model.h"

namespace xbar::devices {

class SinhCell final : public CellModel {
 public:
  explicit SinhCell(double k_per_v) : k_(k_per_v) {}
  std::string name() const override { return "sinh"; }
  bool is_linear() const override { return false; }
  CellEval evaluate(double g_s, double v_v) const override;
  std::vector<std::string> spice_card(const std::string& name, const std::string& pos,
                                      const std::string& neg, double g_s) const override;
  std::vector<std::pair<std::string, double>> parameters() const override { return {{"nl-k", k_}}; }
  double k_per_v() const { return k_; }

 private:
  double k_;
};

}  // namespace xbar::devices
