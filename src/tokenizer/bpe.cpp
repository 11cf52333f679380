// Byte-level BPE (`tokenizer.ggml.model = gpt2`): pre-tokenize with the
// family's split patterns, map bytes to printable characters, then apply the
// ranked merges (lowest rank first, leftmost first on ties).
#include <queue>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/merge_symbols.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

class BpeEncoder : public Encoder {
 public:
  BpeEncoder(const Vocab& v, PreTokenizerInfo info, std::shared_ptr<const RegexSplitter> splitter)
      : v_(v), info_(std::move(info)), splitter_(std::move(splitter)) {}

  void encode(std::string_view text, bool at_start, std::vector<TokenId>* out) const override {
    for (const std::string& word : splitter_->split(text)) encode_word(word, out);
  }

  std::string piece(TokenId id) const override {
    const std::string& t = v_.tokens[id].text;
    std::string s;
    for (size_t i = 0; i < t.size();) {
      size_t n = std::min(utf8_len(static_cast<uint8_t>(t[i])), t.size() - i);
      uint8_t b;
      if (unicode_to_byte(std::string_view(t).substr(i, n), &b)) s += static_cast<char>(b);
      else s.append(t, i, n);  // not a byte-level character: keep it as written
      i += n;
    }
    return s;
  }

 private:
  using Symbol = MergeSymbol;
  struct Bigram {
    int left, right;
    int rank;
    std::string text;
  };
  struct Cmp {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
    }
  };

  void encode_word(const std::string& raw, std::vector<TokenId>* out) const;

  const Vocab& v_;
  PreTokenizerInfo info_;
  std::shared_ptr<const RegexSplitter> splitter_;
};

void BpeEncoder::encode_word(const std::string& raw, std::vector<TokenId>* out) const {
  std::string w;
  w.reserve(raw.size() * 2);
  for (char c : raw) w += byte_to_unicode(static_cast<uint8_t>(c));
  if (info_.ignore_merges) {
    TokenId id = v_.find(w);
    if (id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  std::vector<Symbol> sym = utf8_symbols(w);
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> queue;
  auto add = [&](int l, int r) {
    if (l == -1 || r == -1) return;
    std::pair<std::string, std::string> key(w.substr(sym[l].off, sym[l].n), w.substr(sym[r].off, sym[r].n));
    auto it = v_.merge_rank.find(key);
    if (it == v_.merge_rank.end()) return;
    queue.push({l, r, it->second, key.first + key.second});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) add(i - 1, i);
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.n == 0 || r.n == 0) continue;
    if (l.n + r.n != b.text.size() || w.compare(l.off, l.n + r.n, b.text) != 0) continue;  // outdated
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
    if (sym[i].n == 0) continue;
    std::string s = w.substr(sym[i].off, sym[i].n);
    TokenId id = v_.find(s);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (char c : s) {  // no token for this symbol: single bytes that happen to be tokens
      TokenId b = v_.find(std::string(1, c));
      if (b != kNoToken) out->push_back(b);
    }
  }
}

}  // namespace

Result<std::unique_ptr<Encoder>> make_bpe(const Vocab& v) {
  HEARTH_ASSIGN_OR_RETURN(PreTokenizerInfo info, pretokenizer_info(v.pre));
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<const RegexSplitter> splitter, RegexSplitter::compile(info.patterns));
  return std::unique_ptr<Encoder>(new BpeEncoder(v, std::move(info), std::move(splitter)));
}

}  // namespace hearth::tokenizer
