// The neural-network keys: `xbar train`, `xbar evaluate` and the keys `xbar program --model`
// adds (issue 6). A network's tiles take their array, wire, cell, solver and compensation keys
// from solve and calibrate (array_keys.h, calibrate_keys.h: picked by name, so each help text
// lives in one place) and their device keys from program (program_keys.h).
//
//   const po::options_description desc = nn_keys("evaluate");
//   ... store and notify vm ...
//   commands::NnRunConfig cfg = make_nn_config("evaluate", desc, vm, from_cli);
#pragma once

#include <set>
#include <string>

#include "engine/cli/key_helpers.h"
#include "engine/commands/nn_commands.h"

namespace xbar::engine::cli {

// sub: train, evaluate, or program: the keys `program --model` adds to `program`, without
// defaults so that a plain `program` run records none of them (the cell keys and v-read are
// a plain program's own: program_keys.h).
po::options_description nn_keys(const std::string& sub);

// `program` without --model: the network keys would be ignored, so each one given is an
// xbar::InputError.
void reject_nn_keys_without_model(const po::variables_map& vm);

// The hardware of a network's tiles (evaluate's keys, also program --model's): mapping, wires,
// cells, devices, DAC/ADC, read noise, compensation, solver, seed, threads. Throws
// xbar::InputError naming the key. xbar.torch (python/) configures its layers through this.
nn::HardwareOptions make_hardware_options(const po::variables_map& vm);

// The configuration of train, evaluate or program --model. Throws xbar::InputError naming the key.
commands::NnRunConfig make_nn_config(const std::string& sub, const po::options_description& desc,
                                     const po::variables_map& vm, const std::set<std::string>& from_cli);

}  // namespace xbar::engine::cli
