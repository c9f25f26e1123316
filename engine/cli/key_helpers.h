// Pieces every subcommand's key table uses (Boost.Program_options stays in engine/cli/):
//
//   desc.add_options()("r-row", num(d.spec.r_row_ohm), "...");   // default shown as "2.5"
//   get_opt(vm, "r-row", c.spec.r_row_ohm);                       // only when stored
//   c.config_json = config_to_json(desc, vm, from_cli);           // every key, value, origin
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/format.h"

namespace xbar::engine::cli {

namespace po = boost::program_options;

// A double key with default `v`, listed by --help as the shortest text that reads back as v.
inline po::typed_value<double>* num(double v) {
  return po::value<double>()->default_value(v, xbar::format_number(v));
}

// Copies the stored value of `key` (given or defaulted) into `out`; false when not stored.
template <typename T>
bool get_opt(const po::variables_map& vm, const std::string& key, T& out) {
  if (!vm.count(key)) return false;
  out = vm[key].as<T>();
  return true;
}

// The effective configuration: every stored key of `desc` with its value and where it came
// from ("default", "command line" or "config file"), copied into every result JSON.
nlohmann::json config_to_json(const po::options_description& desc, const po::variables_map& vm,
                              const std::set<std::string>& from_cli);

// The options named in `keys`, taken from another subcommand's description.
po::options_description pick_options(const std::string& title, const po::options_description& from,
                                     std::initializer_list<const char*> keys);

}  // namespace xbar::engine::cli
