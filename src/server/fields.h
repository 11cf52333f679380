// Reading request bodies: JSON parsing and typed field access whose errors
// name the field ("temperature must be a number between 0 and 2").
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sampling/params.h"

namespace hearth::server {

using Json = nlohmann::ordered_json;

// A client error with its HTTP status; caught by the router.
struct HttpError : std::runtime_error {
  HttpError(int s, const std::string& m, std::string p = "", std::string t = "")
      : std::runtime_error(m), status(s), param(std::move(p)), type(std::move(t)) {}
  int status;
  std::string param;
  std::string type;
};

[[noreturn]] void bad_request(const std::string& message, const std::string& param = "");

// The body as a JSON object (400 for invalid JSON, invalid UTF-8 or a non-object).
Json parse_object(const std::string& body);

std::optional<std::string> opt_string(const Json& j, const std::string& key, const std::string& path = "");
std::string req_string(const Json& j, const std::string& key, const std::string& path = "");
std::optional<double> opt_number(const Json& j, const std::string& key, double lo, double hi, const std::string& path = "");
std::optional<int64_t> opt_int(const Json& j, const std::string& key, int64_t lo, int64_t hi, const std::string& path = "");
std::optional<bool> opt_bool(const Json& j, const std::string& key, const std::string& path = "");
// A string or an array of strings (OpenAI `stop`), at most `max` items.
std::vector<std::string> string_or_list(const Json& j, const std::string& key, size_t max, const std::string& path = "");

// Ollama `options` (and the same names at the top level of OpenAI requests):
// sampling parameters plus num_ctx / num_predict / stop.
struct GenerationOptions {
  sampling::SamplingParams sampling;
  std::optional<int64_t> num_ctx;
  std::optional<int64_t> num_predict;
  std::vector<std::string> stop;
};
void apply_options(const Json& options, GenerationOptions* out, const std::string& path);

// keep_alive: "5m", "30s", "1h", "0", "-1", or a number of seconds.
std::optional<double> parse_keep_alive(const Json& j);

// A duration as Ollama reads keep_alive (and OLLAMA_KEEP_ALIVE): a number
// of seconds ("300", "-1"), or Go's duration syntax ("5m", "1h30m", "1.5h",
// "500ms", "-1s"); in seconds, or nullopt when it is neither.
std::optional<double> parse_duration(const std::string& text);

}  // namespace hearth::server
