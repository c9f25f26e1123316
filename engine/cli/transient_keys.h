// The keys of the transient analysis (issue 20): `xbar transient`, `xbar ppa` (which runs one
// per array or tile), `xbar check --transient` (ngspice's .tran as the referee) and the
// transient deck of `xbar netlist --t-stop`.
//
//   desc.add(general_keys("transient")).add(array_keys(d)).add(wire_keys(d))
//       .add(capacitance_keys(d)).add(transient_keys("transient", d)).add(transient_solver_keys(d));
//   commands::RunConfig cfg = make_array_config("transient", desc, vm, from_cli);
//   fill_transient_config(cfg, vm);
#pragma once

#include <string>

#include "engine/cli/key_helpers.h"
#include "engine/commands/run_config.h"

namespace xbar::engine::cli {

// c-row, c-col: farads to ground at every row and column node (netlist, check, transient, ppa).
po::options_description capacitance_keys(const commands::RunConfig& d);
// The analysis: t-stop, time-step, t-rise, integrator, lte-tol, max-steps,
// max-cached-factorizations and the settling band (settle-tol, error-adc-bits, full-scale).
// sub = "netlist": only t-stop (no default: without it the deck is a DC one), time-step and
// t-rise; "check": the analysis keys without the band's error-adc-bits / full-scale helps
// changed; "all": every key once, for `xbar --help`.
po::options_description transient_keys(const std::string& sub, const commands::RunConfig& d);
// check --transient: the switch, the comparison's tolerances and the referee's settings.
po::options_description transient_check_keys(const commands::RunConfig& d);
// backend, ordering and the Newton keys of nonlinear cells, with the transient's help texts.
po::options_description transient_solver_keys(const commands::RunConfig& d);

// c.spec.c_row_f / c_col_f, c.transient (Newton and ordering from what make_array_config
// read), c.check_transient and c.transient_deck from the stored keys; validates them, throwing
// xbar::InputError naming the key.
void fill_transient_config(commands::RunConfig& c, const po::variables_map& vm);

}  // namespace xbar::engine::cli
