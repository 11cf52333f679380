// Ollama Modelfiles: FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE,
// ADAPTER; case-insensitive instructions, # comments, """multi-line""" and
// "quoted" values. Errors name the line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hearth/status.h"

namespace hearth::store {

struct Modelfile {
  std::string from;
  // PARAMETER values, type-checked, as JSON (numbers, booleans; stop as an array).
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();
  std::string template_text;
  bool has_template = false;
  std::string system;
  bool has_system = false;
  std::vector<std::pair<std::string, std::string>> messages;  // (role, content)
  std::vector<std::string> licenses;
  std::vector<std::string> adapters;

  // Back to text (for `show --modelfile`).
  std::string to_text() const;
};

Result<Modelfile> parse_modelfile(const std::string& text);

// Checks one parameter by name and converts its text to JSON; the error names
// the parameter. Shared with `hearth run /set parameter`.
Result<nlohmann::ordered_json> parse_parameter(const std::string& name, const std::string& value);

}  // namespace hearth::store
