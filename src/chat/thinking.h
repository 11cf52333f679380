// Thinking (reasoning) in a model's reply: models such as DeepSeek R1 and
// Qwen 3 write their reasoning between tags (`<think>` ... `</think>`) before
// the answer. As Ollama does, a model "can think" when its template knows
// such a pair of tags, and when thinking is on the reply is split into the
// reasoning (Ollama `thinking`, OpenAI-compatible `reasoning_content`) and the
// answer (`content`), as it streams.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hearth::chat {

struct ThinkingTags {
  std::string open, close;
};

// The tag pair a template (Jinja or Go template source) writes or strips,
// from the pairs today's reasoning models use: <think>, <thinking>,
// <seed:think>, [THINK], <|START_THINKING|>, ◁think▷. None: the model does
// not think (as far as its template tells).
std::optional<ThinkingTags> infer_thinking_tags(std::string_view template_source);

// Whether a rendered prompt ends inside a thinking block (DeepSeek R1's
// templates end with `<think>\n`: the reply starts with the reasoning and
// only closes the tag).
bool prompt_opens_thinking(std::string_view prompt, const ThinkingTags& tags);

// Splits a reply streamed in pieces. Whitespace around the reasoning and
// before the answer is dropped; a reply that does not begin with the opening
// tag (after whitespace) is all content. Text that may be the start of a
// tag is held until it is told apart.
class ThinkingParser {
 public:
  struct Split {
    std::string thinking, content;
  };

  // `inside`: the prompt opened the block (prompt_opens_thinking).
  ThinkingParser(ThinkingTags tags, bool inside);
  Split push(std::string_view text);
  // The end of the reply: what was held back.
  Split finish();
  // The reasoning is over (the closing tag was seen, or the reply did not
  // begin with the opening one): what follows is the answer.
  bool done() const { return state_ == State::kAnswerStarting || state_ == State::kAnswer; }
  // Inside the reasoning (the prompt opened it, or the opening tag came).
  bool inside() const { return state_ == State::kThinkingStarting || state_ == State::kThinking; }

 private:
  enum class State { kLookingForOpen, kThinkingStarting, kThinking, kAnswerStarting, kAnswer };
  // Drops the whitespace held at the start; false when nothing else is held yet.
  bool drop_leading_space();
  ThinkingTags tags_;
  State state_;
  std::string held_;
};

}  // namespace hearth::chat
