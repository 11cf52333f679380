// The KV cache's layouts per layer and KV head (model::KvCache), F16 or
// Q8_0.
//
// V: one row of head_dim values per position (the mix adds p_j · v_j row by
// row). K: blocks of kKBlock positions, each block [head_dim][kKBlock]
// (position-minor), so a block's scores for one query head are head_dim
// kKBlock-wide multiply-adds with no horizontal sums; a head's region holds
// k_positions(n_ctx) positions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tensor/blocks.h"

namespace hearth::tensor {

inline constexpr int64_t kKBlock = 16;

// Positions a K head's region is allocated for: n rounded up to whole blocks.
inline constexpr int64_t k_positions(int64_t n) { return (n + kKBlock - 1) / kKBlock * kKBlock; }

// Index of value i of position pos's key in its head's region.
inline constexpr size_t k_index(int64_t hd, int64_t pos, int64_t i) {
  return static_cast<size_t>((pos / kKBlock) * hd * kKBlock + i * kKBlock + pos % kKBlock);
}

// Writes one position's key (hd halves, contiguous) into its head's region.
inline void store_k(int64_t hd, const uint16_t* key, int64_t pos, uint16_t* head) {
  uint16_t* dst = head + k_index(hd, pos, 0);
  for (int64_t i = 0; i < hd; ++i) dst[i * kKBlock] = key[i];
}

// What a KV cache stores: F16 values, or Q8_0 (llama.cpp's and Ollama's
// "q8_0" cache type: blocks of 32 values as int8 codes with one F16 scale,
// 34 bytes for 64 of F16 values, so long contexts read about half).
enum class KvType { kF16, kQ8_0 };

inline const char* kv_type_name(KvType t) { return t == KvType::kQ8_0 ? "q8_0" : "f16"; }
inline std::optional<KvType> parse_kv_type(std::string_view s) {
  if (s == "f16") return KvType::kF16;
  if (s == "q8_0") return KvType::kQ8_0;
  return std::nullopt;
}
// Whether a cache of type t can hold heads of hd values (Q8_0: whole blocks).
inline constexpr bool kv_type_fits(KvType t, int64_t hd) { return t == KvType::kF16 || hd % kQK == 0; }

// Bytes of one position of one KV head (K or V).
inline constexpr size_t kv_row_bytes(KvType t, int64_t hd) {
  return t == KvType::kQ8_0 ? static_cast<size_t>(hd / kQK) * sizeof(BlockQ8_0)
                            : static_cast<size_t>(hd) * sizeof(uint16_t);
}
// Bytes of one KV head's region (K or V) for n positions: whole K blocks.
inline constexpr size_t kv_head_bytes(KvType t, int64_t hd, int64_t n) {
  return static_cast<size_t>(k_positions(n)) * kv_row_bytes(t, hd);
}

// Q8_0: V is one row per position, hd / 32 BlockQ8_0 (kv_row_bytes). K is in
// blocks of kKBlock positions like F16, each block [hd][kKBlock] int8 codes
// (position-minor) followed by [hd / 32][kKBlock] F16 scales: one block is
// kKBlock · kv_row_bytes bytes.
inline constexpr size_t q8_k_block_bytes(int64_t hd) { return kKBlock * kv_row_bytes(KvType::kQ8_0, hd); }
inline const int8_t* q8_k_codes(const uint8_t* head, int64_t hd, int64_t block) {
  return reinterpret_cast<const int8_t*>(head + static_cast<size_t>(block) * q8_k_block_bytes(hd));
}
inline const uint16_t* q8_k_scales(const uint8_t* head, int64_t hd, int64_t block) {
  return reinterpret_cast<const uint16_t*>(head + static_cast<size_t>(block) * q8_k_block_bytes(hd) +
                                           static_cast<size_t>(hd * kKBlock));
}

// Writes one position's key (hd / 32 Q8_0 blocks) into its head's Q8_0 region.
inline void store_k_q8(int64_t hd, const BlockQ8_0* key, int64_t pos, uint8_t* head) {
  uint8_t* blk = head + static_cast<size_t>(pos / kKBlock) * q8_k_block_bytes(hd);
  const int64_t r = pos % kKBlock;
  auto* codes = reinterpret_cast<int8_t*>(blk);
  auto* scales = reinterpret_cast<uint16_t*>(blk + hd * kKBlock);
  for (int64_t c = 0; c < hd / kQK; ++c) {
    scales[c * kKBlock + r] = key[c].d;
    for (int64_t i = 0; i < kQK; ++i) codes[(c * kQK + i) * kKBlock + r] = key[c].qs[i];
  }
}

}  // namespace hearth::tensor
