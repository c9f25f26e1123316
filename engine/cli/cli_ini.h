// INI configuration files of the `xbar` command line (`--config FILE.ini`).
//
// Usage (engine/cli/main.cc; the sweep's points: engine/cli/sweep_keys.cc):
//   po::variables_map vm;
//   po::store(command_line, vm);                       // flags first: they win
//   xbar::engine::cli::store_ini(vm["config"].as<std::string>(), desc, vm);
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
// This translation unit is CLI-side: Boost.Program_options is seen only in engine/cli/, which is
// linked into the `xbar` executable, the tests and (this file alone) the fuzz harness
// (tests/fuzz/ini_fuzz.cc), never into the engine rooms below it.
#pragma once

#include <boost/program_options.hpp>
#include <istream>
#include <string>

namespace xbar::engine::cli {

// Stores one `key = value` as an INI line would (po::store: an earlier value wins); `where`
// ("file:line: ") prefixes errors: "S.ini:4: key r-row = 'abc': ...: expected a number".
// The sweep (engine/cli/sweep_keys.cc) stores every key of a point this way.
void store_value(const boost::program_options::options_description& desc,
                 boost::program_options::variables_map& vm, const std::string& key,
                 const std::string& value, const std::string& where);

// Reads the INI file at `path` into `vm` (see the contract above).
void store_ini(const std::string& path, const boost::program_options::options_description& desc,
               boost::program_options::variables_map& vm);

// The same from an open stream; `path` only labels the messages.
void store_ini(std::istream& in, const std::string& path,
               const boost::program_options::options_description& desc,
               boost::program_options::variables_map& vm);

// The message of a Boost.Program_options error, completed with what the value must look like
// (from the type `desc` declares for the key: ": expected a number", ": expected an integer
// (64-bit)"; nothing for bool, whose message lists its choices).
//
// `user_text` is every piece of user input the error can quote (the arguments, or the INI
// key and value). Boost 1.74's error::what() loops forever when a quoted token contains its
// own placeholder ("%value%", "%option%", ...), e.g. `--r-row %value%` (found by
// tests/fuzz/ini_fuzz.cc): when user_text holds two '%', the message is built here without
// what(), naming the option but not quoting the value.
std::string describe_option_error(const boost::program_options::options_description& desc,
                                  const boost::program_options::error& error,
                                  const std::string& user_text);

// Throws InputError "argument K ('...'): not valid UTF-8 ..." for the first command-line
// argument (after the program name) that is not UTF-8: every argument is recorded in the
// JSON results (support/utf8.h). INI lines and stored values are checked the same way.
void require_utf8_arguments(int argc, const char* const* argv);

}  // namespace xbar::engine::cli
