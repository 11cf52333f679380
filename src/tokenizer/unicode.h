// Unicode helpers for the tokenizers: lossless UTF-8 decoding (invalid bytes
// become their own "codepoints" so byte-level tokenizers keep them), the
// character classes the pre-tokenizers use, NFD and lower-casing (utf8proc),
// and GPT-2's byte <-> printable-unicode mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer {

constexpr uint32_t kInvalidCpt = 0xFFFFFFFFu;  // an invalid UTF-8 byte

struct Cpt {
  uint32_t cp;       // kInvalidCpt for a byte that is not valid UTF-8
  uint32_t offset;   // byte offset in the source
  uint32_t len;      // bytes in the source
};

// Decodes every byte: valid sequences as codepoints, anything else one byte at
// a time as kInvalidCpt. Never fails.
std::vector<Cpt> decode_utf8(std::string_view s);
// Codepoints only (invalid bytes -> U+FFFD).
std::vector<uint32_t> codepoints(std::string_view s);
void append_utf8(uint32_t cp, std::string* out);
std::string to_utf8(uint32_t cp);
// Length of the UTF-8 sequence that starts with byte c (1 for invalid lead bytes).
inline size_t utf8_len(uint8_t c) {
  static const uint8_t kLen[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[c >> 4];
}
// Bytes at the end of `s` that start an incomplete UTF-8 sequence (0..3).
size_t incomplete_utf8_tail(std::string_view s);

enum class Category : uint8_t { kOther, kLetter, kNumber, kPunctuation, kMark, kSymbol, kSeparator, kControl };
Category category(uint32_t cp);
bool is_whitespace(uint32_t cp);  // Python's str.isspace()
uint32_t to_lower(uint32_t cp);
std::vector<uint32_t> nfd(const std::vector<uint32_t>& cps);

// GPT-2 byte-level encoding: every byte maps to one printable codepoint.
const std::string& byte_to_unicode(uint8_t b);
// Inverse; false when `utf8_char` is not one of the 256 mapped characters.
bool unicode_to_byte(std::string_view utf8_char, uint8_t* out);

// SentencePiece's word marker U+2581 ("▁") and the text with each one
// turned back into a space (SPM and WordPiece-with-metaspace pieces).
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";
std::string metaspace_to_spaces(std::string_view t);

}  // namespace hearth::tokenizer
