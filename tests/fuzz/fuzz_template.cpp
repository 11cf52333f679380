// libFuzzer target: arbitrary bytes as a chat template must parse or fail
// with an error, and rendering must end (budgeted) without crashing.
#include <cstdint>
#include <string>

#include "chat/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string src(reinterpret_cast<const char*>(data), size);
  auto t = hearth::chat::jinja::Template::parse(src);
  if (!t.ok()) return 0;
  hearth::chat::RenderRequest req;
  req.messages = nlohmann::ordered_json::parse(
      R"([{"role":"system","content":"S"},{"role":"user","content":"Hi"},{"role":"assistant","content":"Yo","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}])");
  req.tools = nlohmann::ordered_json::parse(R"([{"type":"function","function":{"name":"f","parameters":{}}}])");
  req.bos_token = "<s>";
  req.options.budget.max_steps = 200000;
  req.options.budget.max_output_bytes = 1 << 20;
  req.options.budget.max_time = std::chrono::milliseconds(200);
  (void)hearth::chat::render(*t.value(), req);
  return 0;
}
