// Pre-tokenizers for byte-level BPE: the split patterns each model family
// publishes in its tokenizer definition, selected by `tokenizer.ggml.pre`.
//
// Patterns run one after another, each splitting the pieces the previous one
// produced (matches and the text between them both become pieces). Patterns
// that use \p{..} classes run on a "collapsed" copy of the text where each
// non-ASCII codepoint is replaced by one code for its category (letter,
// number, punctuation, mark, symbol, whitespace, other) — the semantics the
// reference engine uses, so ids agree exactly. Compiled once with PCRE2
// (32-bit code units, JIT); splitting is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

namespace hearth::tokenizer {

struct PreTokenizerInfo {
  std::vector<std::string> patterns;
  bool ignore_merges = false;  // a word that is itself a token is not merged
  bool add_bos = false;        // family default (the file's flag wins)
  bool no_bos = false;         // the family has no BOS token (chatglm)
};

// The family for a `tokenizer.ggml.pre` value; kUnsupported for unknown names.
Result<PreTokenizerInfo> pretokenizer_info(const std::string& pre);
// Every name the registry knows (for docs and tests).
std::vector<std::string> pretokenizer_names();

class RegexSplitter {
 public:
  static Result<std::shared_ptr<const RegexSplitter>> compile(const std::vector<std::string>& patterns);
  ~RegexSplitter();
  // Splits `text` into pieces (byte strings that concatenate back to `text`).
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct Compiled;
  std::vector<Compiled*> compiled_;
};

}  // namespace hearth::tokenizer
