// The keys of the array subcommands, `xbar netlist`, `solve` and `check`, and the RunConfig
// they give. `calibrate` and `size` (calibrate_keys.h) and the networks' tiles (nn_keys.h) take
// the array, wire, cell and solver keys from here, so each key's help text lives in one place.
//
//   po::options_description desc;
//   desc.add(general_keys("solve")).add(array_keys(d)).add(wire_keys(d)).add(solver_keys("solve", d));
//   ... store and notify vm ...
//   commands::RunConfig cfg = make_array_config("solve", desc, vm, from_cli);
//
// Defaults come from a default-constructed commands::RunConfig `d` (STYLE: no hidden defaults).
#pragma once

#include <set>
#include <string>

#include "engine/cli/key_helpers.h"
#include "engine/commands/run_config.h"

namespace xbar::engine::cli {

// help, config, out, quiet. `sub` picks the help of --out (a file for netlist, else a directory).
po::options_description general_keys(const std::string& sub);
// The array: size, conductances (file or random), inputs, the cell model and its parameters.
po::options_description array_keys(const commands::RunConfig& d);
// Row and column wires (per segment or from geometry), drivers and sensing.
po::options_description wire_keys(const commands::RunConfig& d);
// Back end, ordering, Newton, PCG; solve adds DAC, ADC, read noise and batching; check its
// tolerance. sub = "all": the union, with the help texts `xbar --help` lists.
po::options_description solver_keys(const std::string& sub, const commands::RunConfig& d);

// The RunConfig of netlist, solve, check, calibrate or size from the stored keys (calibrate and
// size then add theirs: fill_calib_config). Throws xbar::InputError naming the key.
commands::RunConfig make_array_config(const std::string& sub, const po::options_description& desc,
                                      const po::variables_map& vm, const std::set<std::string>& from_cli);

}  // namespace xbar::engine::cli
