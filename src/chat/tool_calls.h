// Tool calls in a model's reply: when a chat request offers tools, the reply
// is watched for the calls the common tool-use templates ask models to
// write, and those become structured calls (OpenAI `message.tool_calls` with
// finish_reason "tool_calls", Ollama `message.tool_calls`) instead of text.
//
// Recognized, whichever template the model uses (as Ollama does, the names
// must be among the request's tools, else the text stays text):
//   <tool_call>{"name": ..., "arguments": {...}}</tool_call>   Hermes 2 Pro,
//       Qwen 2.5 (one block or more; also after some text; the closing tag
//       may be missing at the end)
//   {"name": ..., "parameters": {...}}   Llama 3.1 / 3.2 (a whole reply of
//       JSON: one call object, several separated by ';' or newlines, or a
//       list; "arguments" or "parameters"; arguments as an object or as a
//       string of JSON; {"function": {...}} wrappers too)
//   [TOOL_CALLS] [...], <|python_tag|> {...}, functools[...]   Mistral,
//       Llama 3.1 with these markers rendered as text, FireFunction v2
//   ```json ... ```   a fenced block of the above
// A reply that begins like a call (or `<tool_call>` mid-reply) is held back
// from streaming until it is whole; if it does not parse as calls, it is
// released as text at the end.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hearth::chat {

struct ToolCall {
  std::string name;
  nlohmann::ordered_json arguments = nlohmann::ordered_json::object();
};

struct ParsedReply {
  std::string content;          // text that is not a call
  std::vector<ToolCall> calls;  // empty: the reply is text
};

// The function names a request's `tools` offer (OpenAI/Ollama
// {"type": "function", "function": {"name"}}, or {"name"}).
std::vector<std::string> tool_names(const nlohmann::ordered_json& tools);

// A whole reply, parsed: calls and the text around them, or (no calls) the
// reply as content.
ParsedReply parse_tool_calls(std::string_view reply, const std::vector<std::string>& names);

// Streams a reply: push() returns the text that can be shown now, holding
// back what may be a call; finish() parses what was held.
class ToolCallFilter {
 public:
  explicit ToolCallFilter(std::vector<std::string> names) : names_(std::move(names)) {}
  std::string push(std::string_view text);
  ParsedReply finish();

 private:
  std::vector<std::string> names_;
  std::string held_;
  bool started_ = false;  // text other than whitespace was shown
  bool holding_ = false;  // held_ begins a call: kept to the end
};

}  // namespace hearth::chat
