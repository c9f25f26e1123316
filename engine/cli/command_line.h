// The command line of every subcommand, parsed strictly against its key table.
//
//   po::variables_map vm;
//   std::set<std::string> from_cli;
//   parse_command_line(argc, argv, desc, "solve", vm, from_cli);   // argv[1] is the subcommand
//
// Contract (issue 17: stray words were dropped and abbreviations accepted in silence):
//   - keys are spelled out with two dashes: `--r-row 3` or `--r-row=3`; a value may start with
//     '-' (`--v-read -0.2`), so there are no single-dash options;
//   - no abbreviation: `--r-ro 3` is an unknown key, even where only --r-row would match;
//   - no positional argument: a word that is not the value of the key before it (`extra`,
//     `-r-row`, a lone `--` and everything after it) is refused, naming it;
//   - every problem throws xbar::InputError naming the argument, and "(see xbar SUB --help)".
#pragma once

#include <boost/program_options.hpp>
#include <set>
#include <string>

namespace xbar::engine::cli {

// Parses argv[2..argc) (argv[1] is the subcommand) into `vm` (po::store: the first value
// stored wins, so an INI read afterwards does not override the command line) and records in
// `from_cli` the keys given there.
void parse_command_line(int argc, const char* const* argv,
                        const boost::program_options::options_description& desc, const std::string& sub,
                        boost::program_options::variables_map& vm, std::set<std::string>& from_cli);

}  // namespace xbar::engine::cli
