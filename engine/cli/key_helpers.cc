#include "engine/cli/key_helpers.h"

#include <typeinfo>

namespace xbar::engine::cli {

nlohmann::json config_to_json(const po::options_description& desc, const po::variables_map& vm,
                              const std::set<std::string>& from_cli) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& o : desc.options()) {
    const std::string key = o->long_name();
    if (key == "help" || !vm.count(key)) continue;
    const auto& v = vm[key];
    nlohmann::json val;
    const auto& t = v.value().type();
    if (t == typeid(double)) val = v.as<double>();
    else if (t == typeid(int64_t)) val = v.as<int64_t>();
    else if (t == typeid(uint64_t)) val = v.as<uint64_t>();
    else if (t == typeid(int)) val = v.as<int>();
    else if (t == typeid(bool)) val = v.as<bool>();
    else if (t == typeid(std::string)) val = v.as<std::string>();
    j[key] = {{"value", val},
              {"from", v.defaulted() ? "default" : from_cli.count(key) ? "command line" : "config file"}};
  }
  return j;
}

po::options_description pick_options(const std::string& title, const po::options_description& from,
                                     std::initializer_list<const char*> keys) {
  po::options_description r(title);
  for (const char* k : keys)
    for (const auto& o : from.options())
      if (o->long_name() == k) r.add(o);
  return r;
}

}  // namespace xbar::engine::cli
