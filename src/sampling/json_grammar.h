// JSON mode (Ollama `format: "json"` or a schema, OpenAI `response_format`
// `json_object` / `json_schema`): a byte-level recognizer of one JSON value,
// fed the generated text as it grows, and the sampling constraint built on it.
//
// Without a schema the language is the one Ollama's JSON grammar accepts: a
// single object (RFC 8259 values inside: objects, arrays, strings with their
// escapes, numbers, true/false/null), whitespace between tokens, nothing but
// whitespace after the closing brace. With a schema (sampling/json_schema.h)
// the value must also match it: its types, property names, required
// properties, item counts, string lengths, enumerations and alternatives. Whitespace between tokens is
// one space or one newline and some indentation (kMaxIndent), as in
// llama.cpp's JSON grammars, so a model cannot fill its budget with blank
// lines. Bytes >= 0x80 inside strings are taken as they come (UTF-8 is not
// validated).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sampling/json_schema.h"

namespace hearth::sampling {

class JsonGrammar {
 public:
  explicit JsonGrammar(std::shared_ptr<const JsonSchema> schema = JsonSchema::any_object());

  // Whitespace between tokens: one space, or a newline and up to this many
  // spaces or tabs (llama.cpp's JSON grammars: `" " | "\n" [ \t]{0,20}`).
  static constexpr int kMaxIndent = 20;

  // Feeds bytes; false (and the state unchanged) when any of them cannot
  // continue the value.
  bool accept(std::string_view bytes);
  // Whether accept(bytes) would succeed.
  bool can_accept(std::string_view bytes) const;
  // The value is whole: nothing but whitespace and the end may follow (a
  // root that is a number or an enumerated value may also end here, or
  // continue).
  bool complete() const;

  // Alternatives (anyOf / oneOf) that begin alike are followed side by side,
  // at most this many at once (beyond it, the later ones are dropped).
  static constexpr size_t kMaxThreads = 64;

 private:
  // One way through the value: a deterministic recognizer that forks where
  // several alternatives of a schema admit the same first byte.
  class Thread {
   public:
    explicit Thread(const JsonSchema* schema) : schema_(schema) {}
    // Feeds one byte; false when it cannot continue. Forks are appended to
    // *forks (each already past the byte).
    bool step(unsigned char c, std::vector<Thread>* forks);
    bool complete() const;
    bool operator==(const Thread&) const = default;

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
    kEnum,         // a value with an enumeration: raw_ is a prefix of one
    kDone,
  };
  struct Frame {
    int node;                  // the container's schema
    bool object;
    uint64_t seen = 0;         // object: properties seen (bit per property)
    int64_t count = 0;         // array: values opened
    std::string key;           // object: the key being read (as written)
    int value = JsonSchema::kAny;  // object: the schema of the value after the key
    bool operator==(const Frame&) const = default;
  };
  bool open_value(unsigned char c, int node, std::vector<Thread>* forks);
  bool close_value();
  bool whitespace(unsigned char c);
  bool key_byte(unsigned char c);
  bool key_done();
  bool can_close_object() const;
  bool can_add_key() const;
  const JsonSchema::Node& node(int i) const { return schema_->node(i); }

  const JsonSchema* schema_;
  Mode mode_ = Mode::kStart;
  bool key_ = false;        // kString: an object key
  bool int_only_ = false;   // the number must be an integer
  // An integer with bounds (JsonSchema::Node::minimum / maximum): its sign
  // and the magnitude of its digits so far (saturating), kept inside them.
  bool num_bounded_ = false, num_neg_ = false;
  int num_digits_ = 0;
  __int128 num_abs_ = 0;
  int64_t num_lo_ = 0, num_hi_ = 0;
  bool int_feasible() const;  // some integer with these leading digits is within the bounds
  bool int_in_range() const;  // the integer read is
  uint8_t hex_left_ = 0;    // kUnicode
  uint8_t ws_run_ = 0;      // consecutive whitespace bytes
  bool ws_newline_ = false; // the run started with a newline
  const char* literal_ = nullptr;  // kLiteral: the rest of the word
  int enum_node_ = 0;       // kEnum
  int64_t str_len_ = 0;     // kString (a value): characters so far
  // kString (a value) with a pattern: the NFA's states, and the code point
  // being decoded (UTF-8 bytes or a \u escape still to come).
  const JsonPattern* pat_ = nullptr;
  JsonPattern::States pat_states_;
  uint32_t pat_cp_ = 0;
  uint8_t pat_need_ = 0;
  bool pat_feed(uint32_t cp);  // false when no match can go on with cp
  int64_t str_min_ = 0, str_max_ = -1;  // kString (a value): its schema's length bounds (-1: none)
  std::string raw_;         // kEnum: the value's bytes so far
  std::vector<Frame> stack_;  // the open containers
  };

  // Feeds bytes to every thread of `threads`; false when none survives.
  static bool run(std::string_view bytes, std::vector<Thread>& threads);

  std::shared_ptr<const JsonSchema> schema_;
  std::vector<Thread> threads_;
};

// Restricts sampling to tokens that keep the text a prefix of one JSON value
// matching the schema (any object by default) and lets the end-of-generation tokens through only once it is complete
// (then nothing else). `pieces[id]`: the bytes token id stands for (empty for
// control tokens, which are never allowed); `is_end(id)`: ends generation.
class JsonConstraint {
 public:
  JsonConstraint(std::shared_ptr<const std::vector<std::string>> pieces, std::function<bool(int32_t)> is_end,
                 std::shared_ptr<const JsonSchema> schema = JsonSchema::any_object());
  bool allowed(int32_t id) const;
  // allowed() for every token at once: sets the logits of the others to
  // -inf; false when none is allowed.
  bool mask(std::span<float> logits) const;
  // A token that ends generation (-1: none).
  int32_t an_end_token() const;
  // Records a sampled token (allowed(id) must hold).
  void commit(int32_t id);
  // Records text that was generated before the constraint began (the start
  // of an answer that came in one token with the end of the reasoning);
  // ignored when it cannot begin the value.
  void accept_text(std::string_view text);
  bool complete() const { return grammar_.complete(); }

 private:
  bool allowed(int32_t id, const bool* first, const bool* after_space) const;

  std::shared_ptr<const std::vector<std::string>> pieces_;
  std::function<bool(int32_t)> is_end_;
  JsonGrammar grammar_;
};

}  // namespace hearth::sampling
