// Thinking in replies (chat/thinking.h): which templates think, and the
// split of a streamed reply into reasoning and answer, whatever the pieces.
#include <gtest/gtest.h>

#include <random>

#include "chat/chat_template.h"
#include "chat/thinking.h"

namespace hearth::chat {
namespace {

const ThinkingTags kThink{"<think>", "</think>"};

ThinkingParser::Split whole(std::string_view reply, bool inside, const ThinkingTags& tags = kThink) {
  ThinkingParser p(tags, inside);
  ThinkingParser::Split out = p.push(reply);
  ThinkingParser::Split rest = p.finish();
  out.thinking += rest.thinking;
  out.content += rest.content;
  return out;
}

// The same reply pushed in random pieces (down to single bytes).
ThinkingParser::Split pieces(std::string_view reply, bool inside, std::mt19937& rng) {
  ThinkingParser p(kThink, inside);
  ThinkingParser::Split out;
  size_t at = 0;
  while (at < reply.size()) {
    size_t n = std::min(reply.size() - at, static_cast<size_t>(rng() % 5 + 1));
    ThinkingParser::Split s = p.push(reply.substr(at, n));
    out.thinking += s.thinking;
    out.content += s.content;
    at += n;
  }
  ThinkingParser::Split s = p.finish();
  out.thinking += s.thinking;
  out.content += s.content;
  return out;
}

TEST(Thinking, TagsFromTemplates) {
  auto t = infer_thinking_tags("{% if add_generation_prompt %}<|Assistant|><think>\n{% endif %}"
                               "{% set c = m.content.split('</think>')[-1] %}");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->open, "<think>");
  EXPECT_EQ(t->close, "</think>");
  auto go = infer_thinking_tags("{{ if .Thinking }}<thinking>{{ .Thinking }}</thinking>{{ end }}");
  ASSERT_TRUE(go);
  EXPECT_EQ(go->open, "<thinking>");
  auto magistral = infer_thinking_tags("[THINK]{{ .Thinking }}[/THINK]");
  ASSERT_TRUE(magistral);
  EXPECT_EQ(magistral->close, "[/THINK]");
  EXPECT_FALSE(infer_thinking_tags("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"));
  EXPECT_FALSE(infer_thinking_tags("only an opening <think> tag"));
}

TEST(Thinking, PromptThatOpensTheBlock) {
  EXPECT_TRUE(prompt_opens_thinking("<|User|>hi<|Assistant|><think>\n", kThink));
  EXPECT_FALSE(prompt_opens_thinking("<|User|>hi<|Assistant|>", kThink));
  EXPECT_FALSE(prompt_opens_thinking("<think>a</think>", kThink));
}

TEST(Thinking, SplitsReasoningFromAnswer) {
  struct Case {
    const char* reply;
    bool inside;
    const char* thinking;
    const char* content;
  };
  const Case cases[] = {
      {"<think>\nLet me see.\n</think>\n\nParis.", false, "Let me see.", "Paris."},
      {"  \n<think>a < b </ c</think>Yes", false, "a < b </ c", "Yes"},
      {"Let me see.\n</think>\n\nParis.", true, "Let me see.", "Paris."},
      {"\n\n</think>\n\nParis.", true, "", "Paris."},  // Qwen 3 with thinking off
      {"Paris.", false, "", "Paris."},
      {"  Paris <think>x</think>", false, "", "  Paris <think>x</think>"},  // not at the start: text
      {"<thinker>", false, "", "<thinker>"},
      {"<thi", false, "", "<thi"},                          // the reply ended on a partial tag
      {"<think>cut short by the length limit </thi", false, "cut short by the length limit </thi", ""},
      {"<think>", false, "", ""},
      {"", false, "", ""},
      {"a</think>b</think>c", true, "a", "b</think>c"},  // one block: a later tag is text
  };
  std::mt19937 rng(7);
  for (const Case& c : cases) {
    ThinkingParser::Split w = whole(c.reply, c.inside);
    EXPECT_EQ(w.thinking, c.thinking) << c.reply;
    EXPECT_EQ(w.content, c.content) << c.reply;
    for (int i = 0; i < 20; i++) {
      ThinkingParser::Split p = pieces(c.reply, c.inside, rng);
      EXPECT_EQ(p.thinking, c.thinking) << c.reply;
      EXPECT_EQ(p.content, c.content) << c.reply;
    }
  }
}

TEST(Thinking, StreamsAsItGoes) {
  ThinkingParser p(kThink, false);
  EXPECT_EQ(p.push("<th").thinking, "");
  EXPECT_FALSE(p.done());
  EXPECT_EQ(p.push("ink>one two").thinking, "one two");
  EXPECT_EQ(p.push(" three\n").thinking, " three");  // the newline waits: it may precede the tag
  EXPECT_EQ(p.push("</").thinking, "");
  EXPECT_EQ(p.push("x").thinking, "\n</x");  // not the tag after all
  ThinkingParser::Split s = p.push("</think>\n\nAnswer");
  EXPECT_EQ(s.thinking, "");
  EXPECT_EQ(s.content, "Answer");
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.push(" more").content, " more");
}

TEST(Thinking, OtherTagPairs) {
  ThinkingParser::Split s = whole("[THINK]plan[/THINK]done", false, ThinkingTags{"[THINK]", "[/THINK]"});
  EXPECT_EQ(s.thinking, "plan");
  EXPECT_EQ(s.content, "done");
}

// Templates see the switches as llama.cpp passes them (Qwen 3 closes an
// empty block when enable_thinking is false); unset, they are undefined.
TEST(Thinking, TemplateSwitches) {
  auto t = jinja::Template::parse(
      "{{ messages[0].content }}|{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}"
      "{% if reasoning_effort is defined %}effort={{ reasoning_effort }}{% endif %}{{ extra_var | default('') }}");
  ASSERT_TRUE(t.ok());
  RenderRequest rr;
  rr.messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(render(*t.value(), rr).value(), "hi|");
  rr.enable_thinking = true;
  EXPECT_EQ(render(*t.value(), rr).value(), "hi|");
  rr.enable_thinking = false;
  EXPECT_EQ(render(*t.value(), rr).value(), "hi|<think></think>");
  rr.enable_thinking.reset();
  rr.reasoning_effort = "high";
  rr.extra = {{"extra_var", "!"}};
  EXPECT_EQ(render(*t.value(), rr).value(), "hi|effort=high!");
}

}  // namespace
}  // namespace hearth::chat
