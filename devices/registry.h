// The registry of cell models selectable with --cell. To add a device, write one file and
// add one line to registry.cc; no static-initialization tricks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "devices/cell_model.h"

namespace xbar::devices {

// Names accepted by make_cell_model(), in the order --help lists them.
std::vector<std::string> cell_model_names();

// Throws xbar::InputError naming the key "cell" and the accepted names when `name` is unknown.
std::shared_ptr<const CellModel> make_cell_model(const std::string& name);

}  // namespace xbar::devices
