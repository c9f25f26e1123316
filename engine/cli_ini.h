// INI configuration files of the `xbar` command line (`--config FILE.ini`).
//
// Usage (engine/main.cc):
//   po::variables_map vm;
//   po::store(command_line, vm);                       // flags first: they win
//   xbar::engine::store_ini(vm["config"].as<std::string>(), desc, vm);
//   po::notify(vm);
//
// Contract:
//   - One `key = value` per line; blank lines, `#` / `;` comment lines and inline comments (a
//     `#` or `;` preceded by whitespace, as in Boost's own parser) are skipped; `[section]`
//     headers are accepted and ignored for lookup (DESIGN.md: `[wires] r-row = 2.5` is
//     `--r-row 2.5`).
//   - Every key must be known to `desc`; `config` and `help` are refused; a key given twice
//     in one file is an error; a value is stored with po::store, so a key already set on the
//     command line keeps the command-line value.
//   - Every problem throws xbar::InputError "<file>:<line>: <what>, <what was expected>".
//
// This translation unit is CLI-side: it is the only code besides main.cc that sees
// Boost.Program_options, and it is linked into the `xbar` executable, the tests and the fuzz
// harness (tests/fuzz/ini_fuzz.cc), never into the xbar_engine library.
#pragma once

#include <boost/program_options.hpp>
#include <istream>
#include <string>

namespace xbar::engine {

// Reads the INI file at `path` into `vm` (see the contract above).
void store_ini(const std::string& path, const boost::program_options::options_description& desc,
               boost::program_options::variables_map& vm);

// The same from an open stream; `path` only labels the messages.
void store_ini(std::istream& in, const std::string& path,
               const boost::program_options::options_description& desc,
               boost::program_options::variables_map& vm);

// What the value of a key must look like, from the type `desc` declares for it, as a suffix
// for Boost's "the argument ('abc') for option 'r-row' is invalid": ": expected a number",
// ": expected an integer". Empty when Boost's message already says it (bool lists its
// choices) or when `error` is not about a value.
std::string expected_value_hint(const boost::program_options::options_description& desc,
                                const boost::program_options::error& error);

}  // namespace xbar::engine
