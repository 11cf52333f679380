// The vocabulary a model file carries (`tokenizer.ggml.*`): token texts,
// scores, types, merges, the special ids and the add-BOS/EOS flags.
// Immutable after loading; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gguf/file.h"
#include "hearth/status.h"

namespace hearth::tokenizer {

using TokenId = int32_t;
constexpr TokenId kNoToken = -1;

// Token types as stored in tokenizer.ggml.token_type.
enum class TokenType : int32_t { kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct TokenData {
  std::string text;
  float score = 0;
  TokenType type = TokenType::kNormal;
  bool rstrip = false;  // whitespace after this special token is dropped (phi-3)
};

struct PairHash {
  size_t operator()(const std::pair<std::string, std::string>& p) const {
    return std::hash<std::string>()(p.first) * 31 + std::hash<std::string>()(p.second);
  }
};

struct Vocab {
  std::string model;  // "llama", "gpt2", "bert"
  std::string pre;    // tokenizer.ggml.pre
  std::vector<TokenData> tokens;
  std::unordered_map<std::string, TokenId> text_to_id;
  // BPE merges (rank = line in tokenizer.ggml.merges): those of two tokens
  // by their ids (merge_key), with the merged text's token (kNoToken when it
  // is none); merge_rank, by text, those with a half that is no token.
  std::unordered_map<std::pair<std::string, std::string>, int, PairHash> merge_rank;
  struct Merge {
    int rank;
    TokenId merged;
  };
  std::unordered_map<uint64_t, Merge> merge_by_id;
  static uint64_t merge_key(TokenId left, TokenId right) {
    return static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32 | static_cast<uint32_t>(right);
  }
  TokenId bos = kNoToken, eos = kNoToken, unk = kNoToken, pad = kNoToken, sep = kNoToken, cls = kNoToken,
          mask = kNoToken, eot = kNoToken;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  std::unordered_set<TokenId> eog;       // tokens that end generation
  std::vector<TokenId> special_by_len;   // control/user-defined/unknown, longest text first
  size_t max_token_len = 0;

  static Result<Vocab> load(const gguf::File& f);

  TokenId find(const std::string& text) const {
    auto it = text_to_id.find(text);
    return it == text_to_id.end() ? kNoToken : it->second;
  }
  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
  bool valid(TokenId id) const { return id >= 0 && id < n_tokens(); }
  bool is_control_or_unknown(TokenId id) const {
    return tokens[id].type == TokenType::kControl || tokens[id].type == TokenType::kUnknown;
  }
};

}  // namespace hearth::tokenizer
