// What `hearth run` is asked to do: the command line, a store model's
// Modelfile and an interactive session's /set commands all change these
// options; helpers say what they mean in a request (Ollama's option names,
// `think`, `format`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hearth/status.h"
#include "sampling/json_schema.h"
#include "sampling/params.h"
#include "tensor/kv_layout.h"

namespace hearth::app {

struct RunOpts {
  std::string model, tokens, prompt, system, template_name, go_template;
  std::set<std::string> cli_set;  // sampling options set by the user (command line, /set parameter)
  bool n_predict_set = false;
  bool local = false;
  int n_predict = -1;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
  tensor::KvType kv = tensor::KvType::kF16;
  bool kv_type_set = false;
  bool ignore_eos = false;
  std::string format;  // "json", a JSON schema or a file holding one: JSON mode (sampling/json_grammar.h)
  nlohmann::json format_wire;                             // as sent to a server ("json" or the schema)
  std::shared_ptr<const sampling::JsonSchema> schema;     // null: free text
  std::vector<std::string> stops;
  sampling::SamplingParams sp;
  std::string think;           // --think[=true|false|low|medium|high]; empty: the model's default
  bool hide_thinking = false;  // --hidethinking
  bool verbose = false;        // --verbose, /set verbose: timings after each reply
  std::string keep_alive;      // --keepalive: how long the server keeps the model loaded after this session's requests
};

// --think as the request's `think`: unset, on/off, and a level (which is on).
std::optional<bool> think_of(const RunOpts& o);
std::string think_level_of(const RunOpts& o);
nlohmann::json think_json(const RunOpts& o);

// o.format ("json", an inline JSON schema, or a file holding one; empty:
// none) into o.schema and o.format_wire.
Status parse_format(RunOpts& o);

// The options the user set, by their Ollama names (a request's `options`).
nlohmann::json user_options(const RunOpts& o);

}  // namespace hearth::app
