// JSON mode (Ollama `format: "json"`, OpenAI `response_format: {"type":
// "json_object"}`): a byte-level recognizer of one JSON object, fed the
// generated text as it grows, and the sampling constraint built on it.
//
// The language is the one Ollama's JSON grammar accepts: a single object
// (RFC 8259 values inside: objects, arrays, strings with their escapes,
// numbers, true/false/null), whitespace between tokens, nothing after the
// closing brace. Runs of whitespace are capped (kMaxWhitespace bytes; two
// before the object), as llama.cpp's json grammar caps them, so a model
// cannot fill its budget with newlines. Bytes >= 0x80 inside strings are taken as they come (UTF-8 is
// not validated).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::sampling {

class JsonGrammar {
 public:
  static constexpr int kMaxWhitespace = 32;
  // Before the object: room for a tokenizer's word-start space, no more.
  static constexpr int kMaxLeadingWhitespace = 2;

  // Feeds bytes; false (and the state unchanged) when any of them cannot
  // continue a JSON object.
  bool accept(std::string_view bytes);
  // Whether accept(bytes) would succeed.
  bool can_accept(std::string_view bytes) const;
  // The object has been closed: nothing but the end may follow.
  bool complete() const { return mode_ == Mode::kDone; }

 private:
  enum class Mode : uint8_t {
    kStart,        // before the root object
    kValue,        // a value is expected
    kValueOrClose, // after '['
    kKeyOrClose,   // after '{'
    kKey,          // after ',' in an object
    kString,       // inside a string (key_ says which kind)
    kEscape,       // after a backslash
    kUnicode,      // \u and hex_left more hex digits
    kColon,        // after a key
    kAfterValue,   // ',' or the closing bracket of the container
    kNumMinus,     // '-' read: a digit must follow
    kNumZero,      // a leading 0
    kNumInt,       // integer digits
    kNumDot,       // '.' read: a digit must follow
    kNumFrac,      // fraction digits
    kNumExp,       // 'e' read: a sign or digit
    kNumExpSign,   // exponent sign read: a digit must follow
    kNumExpDigits, // exponent digits
    kLiteral,      // inside true / false / null
    kDone,
  };
  bool step(unsigned char c);
  bool open_value(unsigned char c);
  bool close_value();
  bool whitespace(unsigned char c);

  Mode mode_ = Mode::kStart;
  bool key_ = false;        // kString: an object key
  uint8_t hex_left_ = 0;    // kUnicode
  uint8_t ws_run_ = 0;      // consecutive whitespace bytes
  const char* literal_ = nullptr;  // kLiteral: the rest of the word
  std::string stack_;       // '{' and '[' of the open containers
};

// Restricts sampling to tokens that keep the text a prefix of one JSON object
// and lets the end-of-generation tokens through only once it is complete
// (then nothing else). `pieces[id]`: the bytes token id stands for (empty for
// control tokens, which are never allowed); `is_end(id)`: ends generation.
class JsonConstraint {
 public:
  JsonConstraint(std::shared_ptr<const std::vector<std::string>> pieces, std::function<bool(int32_t)> is_end);
  bool allowed(int32_t id) const;
  // Records a sampled token (allowed(id) must hold).
  void commit(int32_t id);
  bool complete() const { return grammar_.complete(); }

 private:
  std::shared_ptr<const std::vector<std::string>> pieces_;
  std::function<bool(int32_t)> is_end_;
  JsonGrammar grammar_;
};

}  // namespace hearth::sampling
