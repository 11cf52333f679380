// libFuzzer target: tool calls in a model's reply (chat/tool_calls.h). The
// input is the reply. Parsing must not fail; a reply without calls is its
// own content; the streaming filter, fed the reply in uneven pieces, finds
// the same calls as parsing it whole, and without calls shows (then
// releases) exactly the reply. The thinking split (chat/thinking.h) of the
// same reply is the same whole and in pieces, and loses no text but
// whitespace and the tags.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "chat/thinking.h"
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

  for (bool inside : {false, true}) {
    using hearth::chat::ThinkingParser;
    auto split = [&](size_t max_step) {
      ThinkingParser p({"<think>", "</think>"}, inside);
      ThinkingParser::Split out;
      for (size_t at = 0, step = max_step ? 1 : reply.size(); at < reply.size();
           at += step, step = max_step ? step % max_step + 1 : step) {
        ThinkingParser::Split s = p.push(reply.substr(at, step));
        out.thinking += s.thinking;
        out.content += s.content;
      }
      ThinkingParser::Split s = p.finish();
      out.thinking += s.thinking;
      out.content += s.content;
      return out;
    };
    const ThinkingParser::Split a = split(0), b = split(5);  // whole, and in pieces
    if (a.thinking != b.thinking || a.content != b.content) std::abort();
    // Every non-space byte of the reasoning and the answer is in the reply, in order.
    std::string_view rest = reply;
    for (char c : a.thinking + a.content) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') continue;
      const size_t at = rest.find(c);
      if (at == std::string_view::npos) std::abort();
      rest.remove_prefix(at + 1);
    }
  }
  return 0;
}
