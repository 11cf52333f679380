// SentencePiece-style BPE over scored pieces (`tokenizer.ggml.model = llama`):
// repeatedly merge the adjacent pair whose merged text is the highest-scoring
// token; text that forms no token falls back to <0xNN> byte tokens.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <queue>

#include "tokenizer/tokenizer.h"
#include "tokenizer/merge_symbols.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

namespace {

class SpmEncoder : public Encoder {
 public:
  explicit SpmEncoder(const Vocab& v) : v_(v) {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      TokenId id = v.find(buf);
      if (id == kNoToken) id = v.find(std::string(1, static_cast<char>(b)));
      byte_tokens_[b] = id != kNoToken ? id : v.unk;
    }
  }

  void encode(std::string_view text, bool at_start, std::vector<TokenId>* out) const override;

  std::string piece(TokenId id) const override {
    const TokenData& td = v_.tokens[id];
    if (td.type == TokenType::kByte && td.text.size() == 6 && td.text.rfind("<0x", 0) == 0) {
      return std::string(1, static_cast<char>(std::strtol(td.text.substr(3, 2).c_str(), nullptr, 16)));
    }
    return metaspace_to_spaces(td.text);
  }

 private:
  using Symbol = MergeSymbol;
  // 16 bytes: the queue holds a bigram per character of the text. The right
  // symbol is the left one's next: that changes only when the left one grows.
  struct Bigram {
    int left;
    float score;
    uint32_t size;  // of the merged text: a bigram whose symbols have grown since is outdated
    TokenId id;     // the merged text's token
  };
  struct Cmp {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };

  const Vocab& v_;
  TokenId byte_tokens_[256];
};

void SpmEncoder::encode(std::string_view raw, bool at_start, std::vector<TokenId>* out) const {
  std::string text;
  if (v_.add_space_prefix && at_start) text = " ";
  text.append(raw);
  // Spaces are written as U+2581 in SPM vocabularies.
  std::string esc;
  esc.reserve(text.size() + text.size() / 2);
  for (char c : text) {
    if (c == ' ') esc += kMetaspace;
    else esc += c;
  }
  std::vector<Symbol> sym = utf8_symbols(esc);
  // Each symbol's token once it has merged (every merge makes a token: a
  // pair is a candidate only when its text is one); kNoToken for the
  // characters not merged yet.
  std::vector<TokenId> ids(sym.size(), kNoToken);
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> queue;
  std::string t;
  auto try_add = [&](int l, int r) {
    if (l == -1 || r == -1) return;
    t.assign(esc, sym[l].off, sym[l].n + sym[r].n);
    TokenId id = v_.find(t);
    if (id == kNoToken) return;
    queue.push({l, v_.tokens[id].score, static_cast<uint32_t>(t.size()), id});
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    // Outdated: a symbol was merged away or has grown (sizes only grow).
    if (l.n == 0 || l.next < 0 || l.n + sym[l.next].n != b.size) continue;
    Symbol& r = sym[l.next];
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    ids[b.left] = b.id;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  // Emit each final symbol: its token, else (a character that is no token)
  // the byte tokens of its UTF-8.
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
    TokenId id = ids[i] != kNoToken ? ids[i] : v_.find(esc.substr(sym[i].off, sym[i].n));
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (size_t j = 0; j < sym[i].n; ++j) out->push_back(byte_tokens_[static_cast<uint8_t>(esc[sym[i].off + j])]);
  }
}

}  // namespace

Result<std::unique_ptr<Encoder>> make_spm(const Vocab& v) { return std::unique_ptr<Encoder>(new SpmEncoder(v)); }

}  // namespace hearth::tokenizer
