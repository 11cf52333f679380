// Chat formatting: turns messages (role, content, tool_calls, name,
// tool_call_id) and tools into the prompt text a model expects, with the
// model's own Jinja template (`tokenizer.chat_template`) or a built-in one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja/template.h"
#include "hearth/status.h"

namespace hearth::chat {

struct RenderRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, ...}]
  std::optional<nlohmann::ordered_json> tools;                         // OpenAI-style tool list
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  // Thinking models' switches, as llama.cpp passes them: `enable_thinking`
  // (Qwen 3; unset: left undefined) and `reasoning_effort` (empty: undefined).
  std::optional<bool> enable_thinking;
  std::string reasoning_effort;
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // more globals (chat_template_kwargs)
  jinja::RenderOptions options;
};

// Renders `tmpl` for the request. Errors (bad messages, template errors,
// raise_exception) come back as kInvalidArgument with the template's message.
Result<std::string> render(const jinja::Template& tmpl, const RenderRequest& req);

// Built-in templates for files without one, by name: chatml, llama-2, llama-3,
// mistral, gemma, phi-3, zephyr, and "completion" (the plain concatenation of
// message contents).
Result<std::string> builtin_template_source(const std::string& name);
std::vector<std::string> builtin_template_names();

}  // namespace hearth::chat
