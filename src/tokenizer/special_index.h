// Which special tokens occur in a text, found in one pass over it. Special
// tokens are matched one after another, longest first (Tokenizer::partition);
// a vocabulary may have thousands of them (reserved and unused slots), and
// scanning the text once per special token cost O(specials x text). A token
// whose text does not occur in the text cannot occur in any run left between
// the others, so partition skips every token this index does not report.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace hearth::tokenizer {

class SpecialIndex {
 public:
  SpecialIndex() = default;
  // Indexes v.special_by_len (by position in it).
  explicit SpecialIndex(const Vocab& v);
  // (Moves only: the maps' keys point into texts_.)
  SpecialIndex(SpecialIndex&&) = default;
  SpecialIndex& operator=(SpecialIndex&&) = default;
  SpecialIndex(const SpecialIndex&) = delete;
  SpecialIndex& operator=(const SpecialIndex&) = delete;

  // (*present)[k] = whether the text of special_by_len[k] (of the vocabulary
  // indexed) occurs in `text`. False when none does.
  bool occurring(std::string_view text, std::vector<char>* present) const;

 private:
  static uint32_t pair_of(unsigned char a, unsigned char b) { return a | static_cast<uint32_t>(b) << 8; }

  // The special texts of one length that begin with the same two bytes.
  struct Group {
    size_t len;
    std::unordered_map<std::string_view, std::vector<uint32_t>> positions;  // text -> positions in special_by_len
  };
  std::vector<std::string> texts_;     // the special texts (the keys point into them)
  std::vector<uint64_t> first_pairs_;  // 2^16 bits: some special text begins with these two bytes
  std::unordered_map<uint32_t, std::vector<Group>> by_pair_;
  std::vector<uint32_t> single_byte_;  // specials of one byte
};

}  // namespace hearth::tokenizer
