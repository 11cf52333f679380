// Tool calls in replies (chat/tool_calls.h): the shapes tool-use templates
// ask for, names checked against the offered tools, and the streaming filter
// that holds back what may be a call.
#include <gtest/gtest.h>

#include "chat/tool_calls.h"

namespace hearth::chat {
namespace {

using Json = nlohmann::ordered_json;
const std::vector<std::string> kNames = {"get_weather", "search"};

std::string calls_of(const ParsedReply& r) {
  std::string s;
  for (const ToolCall& c : r.calls) s += c.name + c.arguments.dump() + ";";
  return s;
}

TEST(ToolCalls, NamesOfOfferedTools) {
  const Json tools = Json::parse(R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}},
                                     {"name": "search"}, {"type": "function"}, 3])");
  EXPECT_EQ(tool_names(tools), kNames);
  EXPECT_TRUE(tool_names(Json::object()).empty());
}

TEST(ToolCalls, TheShapesTemplatesAskFor) {
  struct Case {
    const char* reply;
    const char* calls;
    const char* content;
  };
  const Case cases[] = {
      // Hermes 2 Pro / Qwen 2.5
      {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
       "get_weather{\"city\":\"Paris\"};", ""},
      {"Let me look.\n<tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"a}b\\\"\"}}</tool_call>\n"
       "<tool_call>{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"}</tool_call> done",
       "search{\"q\":\"a}b\\\"\"};get_weather{\"city\":\"Oslo\"};", "Let me look.\ndone"},
      {"<tool_call>\n{\"name\": \"search\", \"arguments\": {}}", "search{};", ""},  // cut before the closing tag
      // Llama 3.1 / 3.2: a reply of JSON, "parameters"
      {"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", "get_weather{\"city\":\"Rome\"};", ""},
      {" {\"name\": \"search\", \"parameters\": {\"q\": 1}}; {\"name\": \"search\"}\n",
       "search{\"q\":1};search{};", ""},
      {"<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}", "search{\"q\":\"x\"};", ""},
      // Mistral, FireFunction, OpenAI-like wrappers, a fenced block
      {"[TOOL_CALLS] [{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}, \"id\": \"abc123def\"}]", "search{\"q\":\"x\"};", ""},
      {"functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}]", "get_weather{\"city\":\"Lima\"};", ""},
      {"[{\"type\": \"function\", \"function\": {\"name\": \"search\", \"arguments\": \"{}\"}}]", "search{};", ""},
      {"```json\n{\"name\": \"search\", \"arguments\": {\"q\": \"y\"}}\n```\n", "search{\"q\":\"y\"};", ""},
      // Not calls: the reply stays text.
      {"The weather is fine.", "", "The weather is fine."},
      {"{\"name\": \"launch_missiles\", \"arguments\": {}}", "", "{\"name\": \"launch_missiles\", \"arguments\": {}}"},
      {"{\"answer\": 42}", "", "{\"answer\": 42}"},
      {"[1, 2, 3]", "", "[1, 2, 3]"},
      {"{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}} and some prose", "",
       "{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}} and some prose"},
      {"{\"name\": \"search\", \"arguments\": [1]}", "", "{\"name\": \"search\", \"arguments\": [1]}"},
      {"<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": ", "", "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": "},
      {"```json\n{\"name\": \"search\"}", "", "```json\n{\"name\": \"search\"}"},
  };
  for (const Case& c : cases) {
    const ParsedReply r = parse_tool_calls(c.reply, kNames);
    EXPECT_EQ(calls_of(r), c.calls) << c.reply;
    EXPECT_EQ(r.content, c.content) << c.reply;
  }
}

// Streaming: what push() shows plus what finish() releases is the reply's
// text, whatever the pieces; calls are never shown as text.
TEST(ToolCalls, FilterShowsTextAndHoldsCalls) {
  struct Case {
    std::string reply;
    std::string shown_before_end;  // fed one byte at a time
    std::string calls;
  };
  const Case cases[] = {
      {"Hello there, <b>world</b>!", "Hello there, <b>world</b>!", ""},
      {"  Sure. <tool_call>{\"name\": \"search\", \"arguments\": {\"q\": \"x\"}}</tool_call>", "  Sure. ", "search{\"q\":\"x\"};"},
      {"{\"name\": \"search\", \"parameters\": {}}", "", "search{};"},
      {"\n\n[TOOL_CALLS][{\"name\": \"search\", \"arguments\": {}}]", "", "search{};"},
      {"functional programming", "functional programming", ""},
      {"<tool use is fun", "<tool use is fun", ""},
      {"```python\nprint(1)\n```", "```python\nprint(1)\n```", ""},
      {"[1, 2]", "", ""},  // JSON that is no call: released at the end
      {"a <tool_call>{broken", "a ", ""},
  };
  for (const Case& c : cases) {
    for (size_t step : {size_t(1), size_t(3), size_t(7), c.reply.size()}) {
      ToolCallFilter f(kNames);
      std::string shown;
      for (size_t at = 0; at < c.reply.size(); at += step) shown += f.push(std::string_view(c.reply).substr(at, step));
      if (step == 1) {
        EXPECT_EQ(shown, c.shown_before_end) << c.reply;
      }
      const ParsedReply end = f.finish();
      EXPECT_EQ(calls_of(end), c.calls) << c.reply << " step " << step;
      if (c.calls.empty()) {
        EXPECT_EQ(shown + end.content, c.reply) << "step " << step;
      } else {
        EXPECT_EQ(shown.find("search"), std::string::npos) << c.reply;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::chat
