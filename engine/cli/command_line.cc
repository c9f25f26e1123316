#include "engine/cli/command_line.h"

#include "engine/cli/cli_ini.h"
#include "support/input_error.h"

namespace po = boost::program_options;

namespace xbar::engine::cli {

void parse_command_line(int argc, const char* const* argv, const po::options_description& desc,
                        const std::string& sub, po::variables_map& vm, std::set<std::string>& from_cli) {
  const std::string see = " (see xbar " + sub + " --help)";
  // Boost would end the options at "--" and hand the rest over as positional words, which
  // xbar has none of: a key after it would be dropped without a word.
  for (int k = 2; k < argc; ++k)
    if (std::string(argv[k]) == "--")
      throw InputError("argument " + std::to_string(k) + " ('--'): xbar takes no positional arguments, so "
                       "nothing may follow '--'; give every key as --key value" + see);
  // No short options: "-0.2" must read as a negative value, not as an option "-0". No
  // guessing: "--r-ro" is not taken for --r-row (a typo would silently become another key).
  const auto style = (po::command_line_style::unix_style ^ po::command_line_style::allow_short) &
                     ~po::command_line_style::allow_guessing;
  po::parsed_options parsed(&desc);
  try {
    parsed = po::command_line_parser(argc - 1, const_cast<char**>(argv + 1)).options(desc).style(style).run();
  } catch (const po::error& e) {
    std::string user_text;  // everything Boost may quote in its message
    for (int k = 1; k < argc; ++k) user_text += std::string(argv[k]) + "\n";
    throw InputError(describe_option_error(desc, e, user_text) + see);
  }
  for (const auto& o : parsed.options) {
    // Words that are not the value of a key: the subcommand itself (position 0) is expected.
    if (o.position_key < 0) continue;
    if (o.position_key == 0 && o.value.size() == 1 && o.value[0] == sub) continue;
    const std::string word = o.value.empty() ? o.string_key : o.value[0];
    const size_t name_at = word.find_first_not_of('-');
    const bool dash = !word.empty() && word[0] == '-' && name_at != std::string::npos;
    throw InputError("unexpected argument '" + word + "': " +
                     (dash ? "keys are spelled with two dashes (--" + word.substr(name_at) + ")"
                           : std::string("every value follows its key (--key value); xbar takes no "
                                         "positional arguments")) +
                     see);
  }
  for (const auto& o : parsed.options) from_cli.insert(o.string_key);
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    std::string user_text;
    for (int k = 1; k < argc; ++k) user_text += std::string(argv[k]) + "\n";
    throw InputError(describe_option_error(desc, e, user_text) + see);
  }
}

}  // namespace xbar::engine::cli
