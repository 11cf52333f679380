#include "tokenizer/special_index.h"

#include <algorithm>

namespace hearth::tokenizer {

SpecialIndex::SpecialIndex(const Vocab& v) : first_pairs_(1 << 10, 0) {
  texts_.reserve(v.special_by_len.size());  // (no reallocation: the keys point into these strings)
  for (uint32_t k = 0; k < v.special_by_len.size(); ++k) {
    texts_.push_back(v.tokens[v.special_by_len[k]].text);
    const std::string& t = texts_.back();
    if (t.size() == 1) {
      single_byte_.push_back(k);
    } else if (t.size() > 1) {
      const uint32_t p = pair_of(t[0], t[1]);
      first_pairs_[p >> 6] |= uint64_t{1} << (p & 63);
      std::vector<Group>& groups = by_pair_[p];
      auto g = std::find_if(groups.begin(), groups.end(), [&](const Group& x) { return x.len == t.size(); });
      if (g == groups.end()) g = groups.insert(groups.end(), Group{t.size(), {}});
      g->positions[std::string_view(t)].push_back(k);
    }
  }
}

bool SpecialIndex::occurring(std::string_view text, std::vector<char>* present) const {
  present->assign(texts_.size(), 0);
  bool any = false;
  for (uint32_t k : single_byte_)
    if (text.find(texts_[k][0]) != std::string_view::npos) (*present)[k] = 1, any = true;
  if (by_pair_.empty() || text.size() < 2) return any;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    const uint32_t p = pair_of(s[i], s[i + 1]);
    if (!(first_pairs_[p >> 6] >> (p & 63) & 1)) continue;
    for (const Group& g : by_pair_.at(p)) {
      if (text.size() - i < g.len) continue;
      auto it = g.positions.find(text.substr(i, g.len));
      if (it == g.positions.end()) continue;
      for (uint32_t k : it->second) (*present)[k] = 1;
      any = true;
    }
  }
  return any;
}

}  // namespace hearth::tokenizer
