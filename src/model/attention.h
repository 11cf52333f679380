// Causal multi-head attention with grouped KV heads over F16 or Q8_0 KV caches, for a
// batch of query tokens that may belong to different sequences.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"
#include "tensor/kv_layout.h"

namespace hearth::model {

struct AttentionShape {
  int64_t n_head, n_head_kv, head_dim;
};

// One query token: its q row [n_head·head_dim], where to write the output
// [n_head·head_dim], and the cache it attends to: positions 0..n_kv-1 of its
// sequence, of type `type` (tensor/kv_layout.h). KV head h's keys are in the
// blocked layout starting at k + h·head_stride, its value row of position j
// at v + h·head_stride + j·row_stride; strides in bytes. The model's cache
// is head-major (KvCache::head_stride(), row_stride = KvCache::row_bytes()):
// each head is one contiguous stream.
struct AttentionQuery {
  const float* q;
  float* out;
  const uint8_t* k;
  const uint8_t* v;
  int64_t n_kv;
  size_t head_stride;
  size_t row_stride;
  tensor::KvType type = tensor::KvType::kF16;
};

void attention(const AttentionShape& s, std::span<const AttentionQuery> queries, core::ThreadPool& pool,
               std::vector<float>& scratch, const kernels::Kernels& k = kernels::active());

}  // namespace hearth::model
