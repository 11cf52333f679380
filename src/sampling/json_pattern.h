// A JSON schema `pattern` for JSON mode: the subset of ECMA-262 regular
// expressions that structured-output schemas use (pydantic's constr
// patterns, zod's .regex), compiled to a Thompson NFA over code points and
// run beside the string's characters as they are generated, so that a
// character no match could continue with is refused at once.
//
// Supported: literals, `.`, classes `[a-z_]` / `[^...]` with ranges and
// `\d \w \s` (and `\D \W \S`), escapes (`\. \n \t \uXXXX \xXX` ...), groups
// `(...)` / `(?:...)`, alternation `|`, quantifiers `* + ? {n} {n,} {n,m}`
// (lazy forms match the same strings), `^` at the start and `$` at the end
// (without them the pattern may match anywhere in the string, as JSON Schema
// says). Refused with an error naming it: lookarounds, backreferences, word
// boundaries, anchors elsewhere, patterns over kMaxStates states.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hearth/status.h"

namespace hearth::sampling {

class JsonPattern {
 public:
  static constexpr size_t kMaxStates = 4096;
  using States = std::vector<uint16_t>;  // the NFA states a prefix can be in (sorted)

  // Errors are kInvalidArgument describing what is not supported and where.
  static Result<std::shared_ptr<const JsonPattern>> compile(std::string_view source);

  States start() const;
  // Advances by one code point; false (s unchanged) when no state takes it.
  bool step(States& s, uint32_t cp) const;
  // The characters so far form a string the pattern accepts.
  bool accepts(const States& s) const;

 private:
  struct State {
    enum Kind : uint8_t { kRanges, kSplit, kMatch } kind = kMatch;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // kRanges: the code points taken
    int out = -1, out2 = -1;
  };
  void closure(int s, States& into, std::vector<uint8_t>& seen) const;
  friend class PatternParser;

  std::vector<State> states_;
  int start_ = 0;
};

}  // namespace hearth::sampling
