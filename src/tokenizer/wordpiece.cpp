// WordPiece (`tokenizer.ggml.model = bert`): NFD, strip accents, lower-case, split on
// whitespace, punctuation, ASCII symbols and CJK characters, drop control
// characters; then greedy longest-match-first per word, [UNK] for a word with
// no full match. Word-initial pieces carry U+2581 in GGUF BERT vocabularies.
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class WordPieceEncoder : public Encoder {
 public:
  explicit WordPieceEncoder(const Vocab& v) : v_(v) {}

  void encode(std::string_view text, bool, std::vector<TokenId>* out) const override {
    for (const std::string& word : words(text)) {
      const std::string w = std::string(kMetaspace) + word;
      const size_t n = w.size(), before = out->size();
      for (size_t i = 0; i < n;) {
        bool match = false;
        for (size_t j = std::min(n, i + v_.max_token_len + 1); j > i; --j) {
          TokenId id = v_.find(w.substr(i, j - i));
          if (id != kNoToken) {
            out->push_back(id);
            match = true;
            i = j;
            break;
          }
        }
        if (!match) {
          out->resize(before);
          break;
        }
      }
      if (out->size() == before && v_.unk != kNoToken) out->push_back(v_.unk);
    }
  }

  std::string piece(TokenId id) const override {
    return metaspace_to_spaces(v_.tokens[id].text);
  }

 private:
  static std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> words(1);
    for (uint32_t cp : nfd(codepoints(text))) {
      if (is_whitespace(cp)) {
        if (!words.back().empty()) words.emplace_back();
        continue;
      }
      Category cat = category(cp);
      // Control characters go; so do combining marks after NFD (accent
      // stripping, as uncased BERT vocabularies are built).
      if (cp == 0 || cp == 0xFFFD || cat == Category::kControl || cat == Category::kMark) continue;
      std::string s = to_utf8(to_lower(cp));
      if (cat == Category::kPunctuation || (cp < 0x7F && cat == Category::kSymbol) || is_cjk(cp)) {
        if (!words.back().empty()) words.emplace_back();
        words.back() = s;
        words.emplace_back();
      } else {
        words.back() += s;
      }
    }
    if (words.back().empty()) words.pop_back();
    return words;
  }

  const Vocab& v_;
};

}  // namespace

Result<std::unique_ptr<Encoder>> make_wordpiece(const Vocab& v) {
  return std::unique_ptr<Encoder>(new WordPieceEncoder(v));
}

}  // namespace hearth::tokenizer
