// The registry of cell models selectable with --cell. To add a device, write one file and
// add one line to registry.cc; no static-initialization tricks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "devices/cell_model.h"

namespace xbar::devices {

// Parameters of the nonlinear cells (CLI keys in brackets); unused by the linear cell.
struct CellParams {
  // sinh cell nonlinearity k [nl-k], 1/V, > 0. 2/V: about 7 % above linear at 0.2 V read,
  // 60 % at 0.6 V, a moderate RRAM-like nonlinearity.
  double nl_k_per_v = 2.0;
  // selector scale current i0 [sel-i0], A, > 0, and voltage v0 [sel-v0], V, > 0. With 10 uA and
  // 50 mV a 100 uS cell read at 0.2 V loses about a third of its voltage across the selector.
  double sel_i0_a = 1e-5;
  double sel_v0_v = 0.05;
  // Throws xbar::InputError naming the key, the value and the constraint.
  void validate() const;
};

// Names accepted by make_cell_model(), in the order --help lists them.
std::vector<std::string> cell_model_names();

// Throws xbar::InputError naming the key "cell" and the accepted names when `name` is unknown,
// or naming a parameter key when `params` is out of range.
std::shared_ptr<const CellModel> make_cell_model(const std::string& name,
                                                 const CellParams& params = {});

}  // namespace xbar::devices
