// Text <-> token ids, straight from a model file's `tokenizer.ggml.*` keys.
//
// Tokenizer::load picks the algorithm from `tokenizer.ggml.model` through a
// registry (SPM "llama", byte-level BPE "gpt2", WordPiece "bert"). A loaded
// Tokenizer is immutable and safe to use from many threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/file.h"
#include "hearth/status.h"
#include "tokenizer/special_index.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

// One algorithm: turns a run of plain text (no special tokens in it) into ids.
class Encoder {
 public:
  virtual ~Encoder() = default;
  // `at_start`: the text begins the input or follows a special token (SPM's
  // leading-space convention depends on it).
  virtual void encode(std::string_view text, bool at_start, std::vector<TokenId>* out) const = 0;
  // The bytes a normal/user-defined/byte token stands for.
  virtual std::string piece(TokenId id) const = 0;
};

class Tokenizer {
 public:
  static Result<std::shared_ptr<const Tokenizer>> load(const gguf::File& f);

  // add_special: BOS/EOS (or CLS/SEP for WordPiece) as the file's flags say.
  // parse_special: text of control tokens (e.g. "<|im_start|>") becomes those
  // tokens; otherwise only user-defined tokens are matched, as reference
  // tokenizers do. Never fails: invalid UTF-8 is encoded byte by byte.
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes of one token. Control/unknown tokens render as their text only
  // when `special` is true (otherwise as nothing).
  std::string piece(TokenId id, bool special = false) const;
  // Concatenated pieces; the space SPM adds in front of the first word is removed.
  std::string decode(std::span<const TokenId> ids, bool special = false) const;

  const Vocab& vocab() const { return vocab_; }
  bool is_eog(TokenId id) const { return vocab_.eog.count(id) > 0; }
  // piece(id) of every token, built at the first call (JSON mode checks each
  // token's bytes against the grammar).
  std::shared_ptr<const std::vector<std::string>> pieces() const;

  // The text as runs of plain text (id kNoToken) and special tokens (empty
  // text), as encode sees it: special tokens matched longest text first, each
  // at its every occurrence in the runs left (control and unknown tokens only
  // when parse_special; an rstrip token also takes the whitespace after it).
  void partition(std::string_view text, bool parse_special, std::vector<std::pair<std::string_view, TokenId>>* out) const;

 private:
  Vocab vocab_;
  SpecialIndex specials_;  // which special texts occur in a text (partition skips the rest)
  std::unique_ptr<Encoder> encoder_;
  mutable std::shared_ptr<std::once_flag> pieces_once_ = std::make_shared<std::once_flag>();
  mutable std::shared_ptr<const std::vector<std::string>> pieces_;
};

// Registry of algorithms by `tokenizer.ggml.model`.
using EncoderFactory = Result<std::unique_ptr<Encoder>> (*)(const Vocab& v);
struct EncoderEntry {
  const char* model;
  EncoderFactory make;
};
const std::vector<EncoderEntry>& encoders();
Result<std::unique_ptr<Encoder>> make_spm(const Vocab& v);
Result<std::unique_ptr<Encoder>> make_bpe(const Vocab& v);
Result<std::unique_ptr<Encoder>> make_wordpiece(const Vocab& v);

// Streams text from tokens as they are generated: never emits a partial UTF-8
// sequence, and drops SPM's leading space at the start of the text when asked.
class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& t, bool at_text_start, bool special = false)
      : tok_(t),
        strip_space_(at_text_start && (t.vocab().add_space_prefix || t.vocab().model == "bert")),
        special_(special) {}
  // Bytes that became complete with this token (possibly empty).
  std::string push(TokenId id);
  // Whatever is left (an incomplete sequence at the end of generation).
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool strip_space_;
  bool special_;
  std::string pending_;
};

}  // namespace hearth::tokenizer
