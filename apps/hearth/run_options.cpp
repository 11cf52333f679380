#include "core/json_depth.h"
#include "run_options.h"

#include <fstream>
#include <iterator>
#include <map>

namespace hearth::app {

std::optional<bool> think_of(const RunOpts& o) {
  if (o.think.empty()) return std::nullopt;
  return o.think != "false";
}

std::string think_level_of(const RunOpts& o) { return o.think == "true" || o.think == "false" ? "" : o.think; }

nlohmann::json think_json(const RunOpts& o) {
  return o.think == "true" || o.think == "false" ? nlohmann::json(o.think == "true") : nlohmann::json(o.think);
}

Status parse_format(RunOpts& o) {
  o.schema.reset();
  o.format_wire = nullptr;
  if (o.format.empty()) return Status();
  if (o.format == "json") {
    o.format_wire = "json";
    o.schema = sampling::JsonSchema::any_object();
    return Status();
  }
  std::string text = o.format;
  if (text.find('{') == std::string::npos) {  // a path
    std::ifstream in(o.format, std::ios::binary);
    if (!in) return invalid_argument("--format: '" + o.format + "' is neither json, a JSON schema nor a readable file");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  nlohmann::json j = core::parse_json_bounded<nlohmann::json>(text);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("--format: the schema is not a JSON object");
  auto schema = sampling::JsonSchema::compile(j, "--format");
  if (!schema.ok()) return schema.status();
  o.format_wire = std::move(j);
  o.schema = schema.value();
  return Status();
}

nlohmann::json user_options(const RunOpts& o) {
  nlohmann::json opt = nlohmann::json::object();
  const auto& sp = o.sp;
  const std::map<std::string, nlohmann::json> values = {
      {"temperature", sp.temperature}, {"top_k", sp.top_k}, {"top_p", sp.top_p}, {"min_p", sp.min_p}, {"tfs_z", sp.tfs_z},
      {"typical_p", sp.typical_p}, {"repeat_penalty", sp.repeat_penalty}, {"repeat_last_n", sp.repeat_last_n},
      {"presence_penalty", sp.presence_penalty}, {"frequency_penalty", sp.frequency_penalty}, {"mirostat", sp.mirostat},
      {"mirostat_tau", sp.mirostat_tau}, {"mirostat_eta", sp.mirostat_eta}, {"seed", sp.seed}};
  for (const auto& name : o.cli_set) opt[name] = values.at(name);
  if (o.n_predict_set) opt["num_predict"] = o.n_predict;
  if (o.ctx > 0) opt["num_ctx"] = o.ctx;
  if (!o.stops.empty()) opt["stop"] = o.stops;
  return opt;
}

}  // namespace hearth::app
