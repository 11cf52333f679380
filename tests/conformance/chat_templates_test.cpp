// Conformance: every template x conversation in
// ../shared/templates/expected_renders.json renders byte for byte, or raises
// where the expected entry is an error.
#include <gtest/gtest.h>

#include <ctime>

#include "chat/chat_template.h"
#include "chat/thinking.h"
#include "chat/tool_calls.h"
#include "common/shared_data.h"

namespace hearth::chat {
namespace {

std::time_t fixed_now() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_hour = 10;
  tm.tm_min = 30;
  return timegm(&tm);
}

TEST(ChatTemplates, ExpectedRenders) {
  std::ifstream in(test::shared_path("templates/expected_renders.json"));
  auto all = nlohmann::ordered_json::parse(in);
  int checked = 0, failures = 0;
  for (auto& [name, renders] : all["renders"].items()) {
    std::ifstream tf(test::shared_path("templates/" + name));
    std::string src((std::istreambuf_iterator<char>(tf)), std::istreambuf_iterator<char>());
    auto tmpl = jinja::Template::parse(src);
    ASSERT_TRUE(tmpl.ok()) << name << ": " << tmpl.status().to_string();
    for (auto& [key, expect] : renders.items()) {
      std::string conv = key.substr(0, key.find('/'));
      bool agp = key.find("add_generation_prompt=true") != std::string::npos;
      RenderRequest req;
      req.messages = all["conversations"][conv]["messages"];
      if (all["conversations"][conv].contains("tools")) req.tools = all["conversations"][conv]["tools"];
      req.add_generation_prompt = agp;
      req.bos_token = all["context"]["bos_token"];
      req.eos_token = all["context"]["eos_token"];
      req.options.now = fixed_now();
      auto got = render(*tmpl.value(), req);
      ++checked;
      if (expect["ok"].get<bool>()) {
        if (!got.ok()) {
          ADD_FAILURE() << name << " " << key << ": unexpected error: " << got.status().message();
          ++failures;
        } else if (got.value() != expect["text"].get<std::string>()) {
          ADD_FAILURE() << name << " " << key << ":\n--- expected\n" << expect["text"].get<std::string>() << "\n--- got\n" << got.value();
          ++failures;
        }
      } else if (got.ok()) {
        ADD_FAILURE() << name << " " << key << ": expected the error '" << expect["error"].get<std::string>() << "' but it rendered";
        ++failures;
      }
    }
  }
  EXPECT_GT(checked, 100);
  EXPECT_EQ(failures, 0);
}

// What a tool-use template shows the model as an assistant's call (the
// tool_call_result conversation) is what the reply parser reads back as that
// call: the reply a model trained on the template would write.
TEST(ChatTemplates, RenderedToolCallsParseBack) {
  std::ifstream in(test::shared_path("templates/expected_renders.json"));
  auto all = nlohmann::ordered_json::parse(in);
  const std::vector<std::string> names = tool_names(all["conversations"]["tool_call_result"]["tools"]);
  ASSERT_EQ(names, std::vector<std::string>{"get_weather"});
  int checked = 0;
  for (auto& [name, renders] : all["renders"].items()) {
    const std::string key = "tool_call_result/add_generation_prompt=true";
    if (!renders.contains(key) || !renders[key]["ok"].get<bool>()) continue;
    const std::string text = renders[key]["text"].get<std::string>();
    const size_t at = text.rfind("\"Paris\"}");  // the call's arguments
    if (at == std::string::npos) continue;       // the template drops assistant calls
    // The assistant turn around it: ChatML or Llama 3 headers and ends.
    size_t begin = std::string::npos;
    for (const char* header : {"<|im_start|>assistant\n", "assistant<|end_header_id|>\n\n"})
      if (size_t h = text.rfind(header, at); h != std::string::npos) begin = h + std::string(header).size();
    size_t end = std::min(text.find("<|im_end|>", at), text.find("<|eot_id|>", at));
    ASSERT_NE(begin, std::string::npos) << name;
    ASSERT_NE(end, std::string::npos) << name;
    const ParsedReply r = parse_tool_calls(text.substr(begin, end - begin), names);
    ASSERT_EQ(r.calls.size(), 1u) << name << ": " << text.substr(begin, end - begin);
    EXPECT_EQ(r.calls[0].name, "get_weather") << name;
    EXPECT_EQ(r.calls[0].arguments.dump(), "{\"city\":\"Paris\"}") << name;
    EXPECT_EQ(r.content, "") << name;
    ++checked;
  }
  EXPECT_GE(checked, 4);  // Hermes 2 Pro, Qwen 2.5, Llama 3.1, Llama 3.2
}

// The reasoning models' templates (DeepSeek R1's) are found to think, with
// <think> tags, and their generation prompt opens the block; the others do
// not think.
TEST(ChatTemplates, ThinkingModelsByTheirTemplates) {
  std::ifstream in(test::shared_path("templates/expected_renders.json"));
  auto all = nlohmann::ordered_json::parse(in);
  int thinking = 0, plain = 0;
  for (auto& [name, renders] : all["renders"].items()) {
    std::ifstream tf(test::shared_path("templates/" + name));
    const std::string src((std::istreambuf_iterator<char>(tf)), std::istreambuf_iterator<char>());
    ASSERT_FALSE(src.empty()) << name;
    const auto tags = infer_thinking_tags(src);
    const bool deepseek = name.find("deepseek") != std::string::npos;
    EXPECT_EQ(tags.has_value(), deepseek) << name;
    if (!tags) {
      ++plain;
      continue;
    }
    EXPECT_EQ(tags->open, "<think>");
    EXPECT_EQ(tags->close, "</think>");
    const auto& r = renders["single_user/add_generation_prompt=true"];
    ASSERT_TRUE(r["ok"].get<bool>()) << name;
    EXPECT_TRUE(prompt_opens_thinking(r["text"].get<std::string>(), *tags)) << name;
    ++thinking;
  }
  EXPECT_EQ(thinking, 3);
  EXPECT_GE(plain, 8);
}

}  // namespace
}  // namespace hearth::chat
