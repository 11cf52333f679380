// The subset of Go's text/template that Ollama Modelfile TEMPLATEs use:
// {{ .Field }} / {{ $.Field }} / {{ .A.B }}, {{ if }}/{{ else if }}/{{ else }}/{{ end }},
// {{ range .List }} ... {{ else }} ... {{ end }}, the functions eq, ne, and,
// or, not, len, json, string literals, {{/* comments */}} and {{- -}} trimming.
// Data is JSON. Parsing and rendering are bounded; errors name the problem.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hearth/status.h"

namespace hearth::store {

class GoTemplate {
 public:
  static Result<std::shared_ptr<const GoTemplate>> parse(const std::string& text);
  Result<std::string> render(const nlohmann::ordered_json& data) const;
  // Whether an action refers to the field .`name` (as Ollama decides that a
  // template supports fill-in-the-middle by its use of .Suffix).
  bool uses_field(std::string_view name) const;
  const std::string& source() const { return source_; }
  ~GoTemplate();

  struct Node;

 private:
  std::unique_ptr<Node> root_;
  std::string actions_;  // the text inside every {{ }}, newline-separated
  std::string source_;
};

}  // namespace hearth::store
