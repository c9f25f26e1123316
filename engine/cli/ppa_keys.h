// The keys of `xbar ppa` (issue 20): the technology file, the read-out (ADC bits, columns per
// ADC, read time) and, with --model, the tiles a network is mapped onto. The array, wire,
// capacitance, transient and solver keys come from array_keys.h and transient_keys.h.
//
//   desc.add(ppa_keys(d)) ...;
//   commands::RunConfig cfg = make_array_config("ppa", desc, vm, from_cli);
//   fill_transient_config(cfg, vm);
//   fill_ppa_config(cfg, vm);
#pragma once

#include "engine/cli/key_helpers.h"
#include "engine/commands/run_config.h"

namespace xbar::engine::cli {

po::options_description ppa_keys(const commands::RunConfig& d);

// c.ppa from the stored keys: reads and checks the technology file (every key required),
// validates the read-out and mapping options. Throws xbar::InputError naming the key, or the
// technology file's line and key.
void fill_ppa_config(commands::RunConfig& c, const po::variables_map& vm);

}  // namespace xbar::engine::cli
