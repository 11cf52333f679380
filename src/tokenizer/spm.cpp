// SentencePiece-style BPE over scored pieces (`tokenizer.ggml.model = llama`):
// repeatedly merge the adjacent pair whose merged text is the highest-scoring
// token; text that forms no token falls back to <0xNN> byte tokens.
#include <cstdio>
#include <cstdlib>
#include <map>
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
  struct Bigram {
    int left, right;
    float score;
    size_t size;
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
  std::priority_queue<Bigram, std::vector<Bigram>, Cmp> queue;
  std::map<std::string, std::pair<int, int>> rev_merge;
  auto try_add = [&](int l, int r) {
    if (l == -1 || r == -1) return;
    std::string t = esc.substr(sym[l].off, sym[l].n + sym[r].n);
    TokenId id = v_.find(t);
    if (id == kNoToken) return;
    queue.push({l, r, v_.tokens[id].score, t.size()});
    rev_merge[t] = {l, r};
  };
  for (int i = 1; i < static_cast<int>(sym.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  // Emit each final symbol; symbols that are not tokens are split back along
  // the merges that formed them, and finally into byte tokens.
  std::vector<std::pair<size_t, size_t>> work;  // (offset, length) still to emit
  for (int i = sym.empty() ? -1 : 0; i != -1; i = sym[i].next) {
    work.assign(1, {sym[i].off, sym[i].n});
    while (!work.empty()) {
      auto [off, n] = work.back();
      work.pop_back();
      std::string t = esc.substr(off, n);
      TokenId id = v_.find(t);
      if (id != kNoToken) {
        out->push_back(id);
        continue;
      }
      auto it = rev_merge.find(t);
      if (it == rev_merge.end()) {
        for (size_t j = 0; j < n; ++j) out->push_back(byte_tokens_[static_cast<uint8_t>(esc[off + j])]);
        continue;
      }
      const Symbol& a = sym[it->second.first];
      const Symbol& b = sym[it->second.second];
      // Right first on the stack so the left half is emitted first; the halves'
      // extents are the original merge operands (their offsets and combined size).
      size_t left_n = b.off - a.off;
      work.push_back({b.off, n - left_n});
      work.push_back({a.off, left_n});
    }
  }
}

}  // namespace

Result<std::unique_ptr<Encoder>> make_spm(const Vocab& v) { return std::unique_ptr<Encoder>(new SpmEncoder(v)); }

}  // namespace hearth::tokenizer
