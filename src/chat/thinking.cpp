#include "chat/thinking.h"

#include <algorithm>
#include <utility>

namespace hearth::chat {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view ltrim(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) i++;
  return s.substr(i);
}

std::string_view rtrim(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && is_space(s[n - 1])) n--;
  return s.substr(0, n);
}

// The longest proper prefix of `tag` that `s` ends with.
size_t partial_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; n--)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

std::optional<ThinkingTags> infer_thinking_tags(std::string_view src) {
  static const std::pair<const char*, const char*> kPairs[] = {
      {"<think>", "</think>"},                          // DeepSeek R1, Qwen 3, QwQ, ...
      {"<thinking>", "</thinking>"},                    //
      {"<seed:think>", "</seed:think>"},                // Seed-OSS
      {"[THINK]", "[/THINK]"},                          // Magistral
      {"<|START_THINKING|>", "<|END_THINKING|>"},       // Command A Reasoning
      {"\xe2\x97\x81think\xe2\x96\xb7", "\xe2\x97\x81/think\xe2\x96\xb7"},  // ◁think▷ (Kimi)
  };
  for (const auto& [open, close] : kPairs)
    if (src.find(open) != std::string_view::npos && src.find(close) != std::string_view::npos)
      return ThinkingTags{open, close};
  return std::nullopt;
}

bool prompt_opens_thinking(std::string_view prompt, const ThinkingTags& tags) {
  std::string_view p = rtrim(prompt);
  return p.size() >= tags.open.size() && p.substr(p.size() - tags.open.size()) == tags.open;
}

ThinkingParser::ThinkingParser(ThinkingTags tags, bool inside)
    : tags_(std::move(tags)), state_(inside ? State::kThinkingStarting : State::kLookingForOpen) {}

bool ThinkingParser::drop_leading_space() {
  held_.erase(0, held_.size() - ltrim(held_).size());
  return !held_.empty();
}

ThinkingParser::Split ThinkingParser::push(std::string_view text) {
  Split out;
  held_.append(text);
  for (;;) {
    switch (state_) {
      case State::kLookingForOpen: {
        std::string_view t = ltrim(held_);
        if (t.empty()) return out;
        if (t.substr(0, tags_.open.size()) == tags_.open) {
          held_ = std::string(t.substr(tags_.open.size()));
          state_ = State::kThinkingStarting;
          continue;
        }
        if (t.size() < tags_.open.size() && std::string_view(tags_.open).substr(0, t.size()) == t) return out;
        // No opening tag: the whole reply is the answer, its whitespace kept.
        state_ = State::kAnswer;
        continue;
      }
      case State::kThinkingStarting:
        if (!drop_leading_space()) return out;
        state_ = State::kThinking;
        continue;
      case State::kThinking: {
        size_t at = held_.find(tags_.close);
        if (at != std::string::npos) {
          out.thinking.append(rtrim(std::string_view(held_).substr(0, at)));
          held_.erase(0, at + tags_.close.size());
          state_ = State::kAnswerStarting;
          continue;
        }
        // Hold back what may begin the closing tag, and the whitespace before
        // it (dropped if the tag follows).
        std::string_view h = held_;
        size_t keep = partial_suffix(h, tags_.close);
        keep += (h.size() - keep) - rtrim(h.substr(0, h.size() - keep)).size();
        out.thinking.append(h.substr(0, h.size() - keep));
        held_.erase(0, h.size() - keep);
        return out;
      }
      case State::kAnswerStarting:
        if (!drop_leading_space()) return out;
        state_ = State::kAnswer;
        continue;
      case State::kAnswer:
        out.content.append(held_);
        held_.clear();
        return out;
    }
  }
}

ThinkingParser::Split ThinkingParser::finish() {
  Split out;
  switch (state_) {
    case State::kLookingForOpen: out.content = std::move(held_); break;
    case State::kThinking: out.thinking = std::string(rtrim(held_)); break;
    default: break;
  }
  held_.clear();
  return out;
}

}  // namespace hearth::chat
