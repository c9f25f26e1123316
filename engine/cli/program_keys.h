// The keys of `xbar program`: the target conductances (a file or a random array) and the
// device non-idealities of programming (window, levels, variation, stuck cells, drift). The
// device keys are also the hardware's in `xbar evaluate` and `program --model` (nn_keys.h).
//
//   desc.add(general_keys("program")).add(target_keys(d)).add(device_keys(d));
//   commands::RunConfig cfg = make_program_config(desc, vm, from_cli);
#pragma once

#include <set>
#include <string>

#include "engine/cli/key_helpers.h"
#include "engine/commands/run_config.h"

namespace xbar::engine::cli {

// rows, cols, g, g-on, g-off and the seed of the target and of every programming stage.
po::options_description target_keys(const commands::RunConfig& d);
// The device window and the programming non-idealities.
po::options_description device_keys(const commands::RunConfig& d);

// Flash cells: program-verify (pulses, spread, tolerance, erase) and retention. Also keys of
// netlist, solve, check (their --g targets are programmed) and evaluate (the tiles).
po::options_description flash_program_keys(const commands::RunConfig& d);
// The cell keys of a plain `program` (cell, flash-*, v-gate, gate, v-gate-lines, v-read): flash
// cells are programmed by program-verify at their read point, every other cell as conductances.
po::options_description program_cell_keys(const commands::RunConfig& d);

// c.programming (and the level-table / stuck-mask paths) from the device keys; c.seed first.
void fill_program_config(commands::RunConfig& c, const po::variables_map& vm);
// c.flash_program (seed and v_read from c), c.flash_target and c.retention from the flash
// programming keys, validated. Throws xbar::InputError naming the key.
void fill_flash_program_config(commands::RunConfig& c, const po::variables_map& vm);

// The RunConfig of a plain `program` (no --model). Throws xbar::InputError naming the key.
commands::RunConfig make_program_config(const po::options_description& desc, const po::variables_map& vm,
                                        const std::set<std::string>& from_cli);

}  // namespace xbar::engine::cli
