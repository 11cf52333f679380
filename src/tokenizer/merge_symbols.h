// The doubly linked list of symbols that the SPM and BPE merge loops work on:
// one symbol per UTF-8 character of the text to start with; a merge grows
// the left symbol and empties the right one (n = 0).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace hearth::tokenizer {

struct MergeSymbol {
  int prev, next;   // neighbours, -1 at the ends
  size_t off, n;    // byte range in the text
};

// One symbol per UTF-8 character of `text` (a truncated character at the end
// becomes a shorter symbol).
inline std::vector<MergeSymbol> utf8_symbols(std::string_view text) {
  std::vector<MergeSymbol> sym;
  for (size_t off = 0; off < text.size();) {
    size_t n = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    int idx = static_cast<int>(sym.size());
    sym.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
    off += n;
  }
  return sym;
}

}  // namespace hearth::tokenizer
