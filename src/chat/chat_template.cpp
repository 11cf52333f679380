#include "chat/chat_template.h"

#include <map>

namespace hearth::chat {

namespace {

Status validate_messages(const nlohmann::ordered_json& messages) {
  if (!messages.is_array()) return invalid_argument("messages must be an array");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.is_object()) return invalid_argument("messages[" + std::to_string(i) + "] must be an object");
    if (!m.contains("role") || !m["role"].is_string())
      return invalid_argument("messages[" + std::to_string(i) + "].role must be a string");
    if (m.contains("content") && !m["content"].is_string() && !m["content"].is_null() && !m["content"].is_array())
      return invalid_argument("messages[" + std::to_string(i) + "].content must be a string, an array of parts or null");
  }
  return Status();
}

const std::map<std::string, std::string>& builtins() {
  static const std::map<std::string, std::string> kTemplates = {
      {"chatml",
       "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
       "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"},
      {"llama-2",
       "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
       "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
       "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
       "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}"
       "{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
       "{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
       "{{ ' ' + content | trim + ' ' + eos_token }}{% endif %}{% endfor %}"},
      {"llama-3",
       "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
       "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
       "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"},
      {"mistral",
       "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
       "{% elif message['role'] == 'system' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
       "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"},
      {"gemma",
       "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
       "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"},
      {"phi-3",
       "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
      {"zephyr",
       "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}"
       "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"},
      {"completion", "{% for message in messages %}{{ message['content'] }}{% endfor %}"},
  };
  return kTemplates;
}

}  // namespace

Result<std::string> render(const jinja::Template& tmpl, const RenderRequest& req) {
  HEARTH_RETURN_IF_ERROR(validate_messages(req.messages));
  std::map<std::string, jinja::Value> globals;
  if (req.extra.is_object())
    for (const auto& [k, v] : req.extra.items()) globals[k] = jinja::from_json(v);
  globals["messages"] = jinja::from_json(req.messages);
  if (req.tools) globals["tools"] = jinja::from_json(*req.tools);
  globals["add_generation_prompt"] = jinja::Value::boolean(req.add_generation_prompt);
  globals["bos_token"] = jinja::Value::string(req.bos_token);
  globals["eos_token"] = jinja::Value::string(req.eos_token);
  if (req.enable_thinking) globals["enable_thinking"] = jinja::Value::boolean(*req.enable_thinking);
  if (!req.reasoning_effort.empty()) globals["reasoning_effort"] = jinja::Value::string(req.reasoning_effort);
  return tmpl.render(globals, req.options);
}

Result<std::string> builtin_template_source(const std::string& name) {
  auto it = builtins().find(name);
  if (it == builtins().end()) {
    std::string known;
    for (const auto& [n, _] : builtins()) known += (known.empty() ? "" : ", ") + n;
    return not_found("no built-in chat template named '" + name + "' (known: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> builtin_template_names() {
  std::vector<std::string> out;
  for (const auto& [n, _] : builtins()) out.push_back(n);
  return out;
}

}  // namespace hearth::chat
