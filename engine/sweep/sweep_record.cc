#include "engine/sweep/sweep_record.h"

#include <ctime>

#include "support/format.h"
#include "engine/sweep/sweep_commands.h"

namespace xbar::engine::sweep {

using nlohmann::json;

namespace {

json keys_json(const std::vector<PointKey>& keys) {
  json a = json::array();
  for (const auto& k : keys) a.push_back({{"key", k.key}, {"value", k.value}, {"from", k.where}});
  return a;
}

std::vector<PointKey> keys_from(const json& a) {
  std::vector<PointKey> out;
  for (const auto& k : a) out.push_back({k.at("key").get<std::string>(), k.at("value").get<std::string>(), k.at("from").get<std::string>()});
  return out;
}

}  // namespace

json PointRecord::to_json() const {
  json m = json::object();
  for (const auto& [k, v] : metrics) m[k] = v;
  json swept_obj = json::object();
  for (const auto& k : swept) swept_obj[k.key] = k.value;
  return {{"tool", "xbar"},
          {"record", "sweep point"},
          {"id", id},
          {"index", index},
          {"command", command},
          {"swept", swept_obj},
          {"swept_keys", keys_json(swept)},
          {"keys", keys_json(keys)},
          {"seed", seed},
          {"status", ok() ? "ok" : "failed"},
          {"exit_code", exit_code},
          {"error", error},
          {"metrics", m},
          {"metrics_text", "CSV text: doubles as the shortest text that reads back exactly, bools as 1/0"},
          {"result_file", find_sweep_command(command) ? find_sweep_command(command)->result_file : ""},
          {"version", version},
          {"time_s", time_s},
          {"started_utc", started_utc},
          {"finished_utc", finished_utc},
          {"rank", rank},
          {"host", host},
          {"threads", threads},
          {"sweep_fingerprint", fingerprint}};
}

PointRecord PointRecord::from_json(const json& j) {
  PointRecord r;
  r.id = j.at("id").get<std::string>();
  r.index = j.at("index").get<int64_t>();
  r.command = j.at("command").get<std::string>();
  r.swept = keys_from(j.at("swept_keys"));
  r.keys = keys_from(j.at("keys"));
  r.seed = j.at("seed").get<uint64_t>();
  r.exit_code = j.at("exit_code").get<int>();
  r.error = j.at("error").get<std::string>();
  for (const auto& [k, v] : j.at("metrics").items()) r.metrics[k] = v.get<std::string>();
  r.version = j.at("version").get<std::string>();
  r.time_s = j.at("time_s").get<double>();
  r.started_utc = j.value("started_utc", "");
  r.finished_utc = j.value("finished_utc", "");
  r.rank = j.value("rank", 0);
  r.host = j.value("host", "");
  r.threads = j.value("threads", 0);
  r.fingerprint = j.at("sweep_fingerprint").get<std::string>();
  return r;
}

std::vector<std::string> sweep_csv_columns(const SweepDefinition& def) {
  std::vector<std::string> c = {"id"};
  for (const auto& k : def.swept_keys()) c.push_back(k);
  for (const char* k : {"command", "seed", "status", "exit_code"}) c.push_back(k);
  for (const auto& m : find_sweep_command(def.command)->metrics) c.push_back(m.column);
  for (const char* k : {"error", "version"}) c.push_back(k);
  for (const auto& k : kTimingColumns) c.push_back(k);
  return c;
}

std::vector<std::string> sweep_csv_row(const PointRecord& r, const std::vector<std::string>& columns) {
  std::map<std::string, std::string> v = r.metrics;
  for (const auto& k : r.swept) v[k.key] = k.value;
  v["id"] = r.id;
  v["command"] = r.command;
  v["seed"] = std::to_string(r.seed);
  v["status"] = r.ok() ? "ok" : "failed";
  v["exit_code"] = std::to_string(r.exit_code);
  v["error"] = r.error;
  v["version"] = r.version;
  v["time_s"] = format_number(r.time_s);
  v["finished_utc"] = r.finished_utc;
  std::vector<std::string> row;
  for (const auto& c : columns) row.push_back(v.count(c) ? v[c] : "");
  return row;
}

std::string csv_field(const std::string& s) {
  std::string t = s;
  for (char& ch : t)
    if (ch == '\n' || ch == '\r') ch = ' ';
  if (t.find_first_of(",\"") == std::string::npos) return t;
  std::string q = "\"";
  for (char ch : t) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

void write_sweep_csv(std::ostream& os, const std::vector<std::string>& columns,
                     const std::vector<const PointRecord*>& records) {
  auto line = [&](const std::vector<std::string>& fields) {
    for (size_t k = 0; k < fields.size(); ++k) os << (k ? "," : "") << csv_field(fields[k]);
    os << "\n";
  };
  line(columns);
  for (const PointRecord* r : records) line(sweep_csv_row(*r, columns));
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace xbar::engine::sweep
