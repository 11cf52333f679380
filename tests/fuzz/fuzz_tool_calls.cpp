// libFuzzer target: tool calls in a model's reply (chat/tool_calls.h). The
// input is the reply. Parsing must not fail; a reply without calls is its
// own content; the streaming filter, fed the reply in uneven pieces, finds
// the same calls as parsing it whole, and without calls shows (then
// releases) exactly the reply.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/tool_calls.h"

using hearth::chat::ParsedReply;
using hearth::chat::ToolCallFilter;

namespace {
std::string calls_of(const ParsedReply& r) {
  std::string s;
  for (const auto& c : r.calls) s += c.name + '\0' + c.arguments.dump() + '\0';
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view reply(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> names = {"get_weather", "search", "x"};
  const ParsedReply whole = hearth::chat::parse_tool_calls(reply, names);
  if (whole.calls.empty() && whole.content != reply) std::abort();
  ToolCallFilter f(names);
  std::string shown;
  for (size_t at = 0, step = 1; at < reply.size(); at += step, step = step % 5 + 1) shown += f.push(reply.substr(at, step));
  const ParsedReply end = f.finish();
  if (calls_of(end) != calls_of(whole)) std::abort();
  if (end.calls.empty() && shown + end.content != reply) std::abort();
  return 0;
}
