// The F16 KV cache's layout per layer and KV head (model::KvCache).
//
// V: one row of head_dim values per position (the mix adds p_j · v_j row by
// row). K: blocks of kKBlock positions, each block [head_dim][kKBlock]
// (position-minor), so a block's scores for one query head are head_dim
// kKBlock-wide multiply-adds with no horizontal sums; a head's region holds
// k_positions(n_ctx) positions.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace hearth::tensor
