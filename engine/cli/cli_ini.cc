#include "engine/cli/cli_ini.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "support/input_error.h"
#include "support/text.h"
#include "support/utf8.h"

namespace po = boost::program_options;

namespace xbar::engine::cli {
namespace {

// ": expected ..." for a key declared with value type T; "" for types Boost describes itself.
std::string hint_for(const po::value_semantic* semantic) {
  auto is = [&](auto* typed) { return dynamic_cast<decltype(typed)>(semantic) != nullptr; };
  if (is(static_cast<const po::typed_value<double>*>(nullptr))) return ": expected a number";
  if (is(static_cast<const po::typed_value<int64_t>*>(nullptr)))
    return ": expected an integer (64-bit)";
  if (is(static_cast<const po::typed_value<int>*>(nullptr)))
    return ": expected an integer (32-bit)";
  if (is(static_cast<const po::typed_value<uint64_t>*>(nullptr)))
    return ": expected an integer >= 0 (64-bit)";
  return "";
}

// error_with_option_name::substitute_placeholders() replaces each "%name%" placeholder in a
// loop that never ends when the replacement contains the placeholder itself (Boost 1.74,
// errors.cpp replace_token()). Text with two '%' may hold one: treated as unsafe to quote.
bool may_hold_boost_placeholder(const std::string& text) {
  const auto first = text.find('%');
  return first != std::string::npos && text.find('%', first + 1) != std::string::npos;
}

}  // namespace

std::string describe_option_error(const po::options_description& desc, const po::error& error,
                                  const std::string& user_text) {
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&error);
  std::string hint;
  std::string name;
  if (named != nullptr) {
    name = named->get_option_name();  // no placeholder substitution: safe for any input
    if (dynamic_cast<const po::invalid_option_value*>(&error) != nullptr) {
      std::string key = name;
      key.erase(0, key.find_first_not_of('-'));  // "--r-row" on the command line, "r-row" in a file
      if (const po::option_description* option = desc.find_nothrow(key, false))
        hint = hint_for(option->semantic().get());
    }
  }
  if (!may_hold_boost_placeholder(user_text)) return error.what() + hint;
  if (named == nullptr) return "invalid option or value" + hint;
  if (dynamic_cast<const po::unknown_option*>(&error) != nullptr)
    return "unrecognised option '" + name + "'";
  if (dynamic_cast<const po::validation_error*>(&error) != nullptr)
    return "the argument for option '" + name + "' is invalid" + hint;
  return "option '" + name + "' is used incorrectly";
}

void store_ini(const std::string& path, const po::options_description& desc, po::variables_map& vm) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot open config file '" + path + "': " + std::strerror(errno));
  store_ini(in, path, desc, vm);
}

void store_ini(std::istream& in, const std::string& path, const po::options_description& desc,
               po::variables_map& vm) {
  std::string raw;
  std::set<std::string> seen;
  for (int line_no = 1; std::getline(in, raw); ++line_no) {
    const std::string line = trim_ini(raw);
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (const auto bad = first_invalid_utf8(line)) throw InputError(where + describe_invalid_utf8(line, *bad));
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') throw InputError(where + "section header '" + line + "' lacks ']'");
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) throw InputError(where + "expected `key = value`, got '" + line + "'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key.empty()) throw InputError(where + "missing key before '='");
    if (value.empty()) throw InputError(where + "key '" + key + "' has no value after '='");
    if (key == "config" || key == "help") throw InputError(where + "key '" + key + "' is not allowed in a config file");
    if (!desc.find_nothrow(key, false))
      throw InputError(where + "unknown key '" + key + "' (see `xbar SUBCOMMAND --help` for the keys)");
    if (!seen.insert(key).second) throw InputError(where + "key '" + key + "' given twice");
    store_value(desc, vm, key, value, where);
  }
}

void store_value(const po::options_description& desc, po::variables_map& vm,
                 const std::string& key, const std::string& value, const std::string& where) {
  for (const std::string* text : {&key, &value})
    if (const auto bad = first_invalid_utf8(*text))
      throw InputError(where + "key " + key + ": " + (text == &key ? "the key is " : "the value is ") +
                       describe_invalid_utf8(*text, *bad));
  po::parsed_options parsed(&desc);
  po::option opt;
  opt.string_key = key;
  opt.value.push_back(value);
  opt.original_tokens = {key, value};
  parsed.options.push_back(opt);
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw InputError(where + "key " + key + " = '" + value + "': " +
                     describe_option_error(desc, e, key + "\n" + value));
  }
}

void require_utf8_arguments(int argc, const char* const* argv) {
  for (int k = 1; k < argc; ++k)
    if (const auto bad = first_invalid_utf8(argv[k]))
      throw InputError("argument " + std::to_string(k) + " ('" + argv[k] + "'): " +
                       describe_invalid_utf8(argv[k], *bad));
}

}  // namespace xbar::engine::cli
