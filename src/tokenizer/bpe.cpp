// Byte-level BPE (`tokenizer.ggml.model = gpt2`): pre-tokenize with the
// family's split patterns, map bytes to printable characters, then apply the
// ranked merges (lowest rank first, leftmost first on ties).
#include <cstdint>
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
      : v_(v), info_(std::move(info)), splitter_(std::move(splitter)) {
    for (int b = 0; b < 256; ++b) byte_ids_[b] = v.find(byte_to_unicode(static_cast<uint8_t>(b)));
  }

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
  // 16 bytes: a long word's queue holds a bigram per byte. The right symbol
  // is the left one's next: that changes only when the left one grows.
  struct Bigram {
    int rank;
    int left;
    uint32_t size;   // of the merged text: a bigram whose symbols have grown since is outdated
    TokenId merged;  // the merged text's token, kNoToken when it is none
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
  TokenId byte_ids_[256];  // each byte's character as a token
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
  // One symbol per byte of the word (each byte is one character of w), with
  // its token: merges of two tokens are looked up by id, others by text.
  std::vector<Symbol> sym = utf8_symbols(w);
  std::vector<TokenId> ids(sym.size());
  for (size_t i = 0; i < sym.size(); ++i) ids[i] = byte_ids_[static_cast<uint8_t>(raw[i])];
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> queue;
  auto add = [&](int l, int r) {
    if (l == -1 || r == -1) return;
    const auto size = static_cast<uint32_t>(sym[l].n + sym[r].n);
    if (ids[l] != kNoToken && ids[r] != kNoToken) {
      auto it = v_.merge_by_id.find(Vocab::merge_key(ids[l], ids[r]));
      if (it != v_.merge_by_id.end()) queue.push({it->second.rank, l, size, it->second.merged});
      return;
    }
    std::pair<std::string, std::string> key(w.substr(sym[l].off, sym[l].n), w.substr(sym[r].off, sym[r].n));
    auto it = v_.merge_rank.find(key);
    if (it == v_.merge_rank.end()) return;
    queue.push({it->second, l, size, v_.find(key.first + key.second)});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) add(i - 1, i);
  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    // Outdated: a symbol was merged away or has grown (sizes only grow).
    if (l.n == 0 || l.next < 0 || l.n + sym[l.next].n != b.size) continue;
    Symbol& r = sym[l.next];
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    ids[b.left] = b.merged;
    if (r.next >= 0) sym[r.next].prev = b.left;
    add(l.prev, b.left);
    add(b.left, l.next);
  }
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
    if (sym[i].n == 0) continue;
    if (ids[i] != kNoToken) {
      out->push_back(ids[i]);
      continue;
    }
    for (size_t k = sym[i].off; k < sym[i].off + sym[i].n; ++k) {  // no token: single bytes that happen to be tokens
      TokenId b = v_.find(std::string(1, w[k]));
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
