// The keys of `xbar calibrate` and `xbar size`: the compensation map, how errors are measured,
// the calibration tables and the size sweep. They come on top of the array and wire keys
// (array_keys.h) with a short solver block of their own.
//
//   desc.add(calibrate_keys("size", d)).add(general_keys("size")).add(array_keys(d))
//       .add(wire_keys(d)).add(calibrate_solver_keys(d));
//   commands::RunConfig cfg = make_array_config("size", desc, vm, from_cli);
//   fill_calib_config(cfg, vm);
#pragma once

#include <string>

#include "engine/cli/key_helpers.h"
#include "engine/commands/run_config.h"

namespace xbar::engine::cli {

// sub: calibrate (adds table-on), size (adds the sweep keys) or "all" (both, for xbar --help).
po::options_description calibrate_keys(const std::string& sub, const commands::RunConfig& d);
// back end, ordering and right-hand-side block, with the help texts of calibrate and size.
po::options_description calibrate_solver_keys(const commands::RunConfig& d);

// c.eval and c.size from the stored keys (after make_array_config filled the rest); validates
// them, throwing xbar::InputError naming the key.
void fill_calib_config(commands::RunConfig& c, const po::variables_map& vm);

}  // namespace xbar::engine::cli
