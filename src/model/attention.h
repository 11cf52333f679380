// Causal multi-head attention with grouped KV heads over an F16 KV cache.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernels.h"

namespace hearth::model {

struct AttentionShape {
  int64_t n_head, n_head_kv, head_dim;
  int64_t pos0;  // position of the first query token
  int64_t n;     // query tokens
};

// q: [n, n_head·head_dim]; k_cache, v_cache: [pos0 + n, n_head_kv·head_dim]
// (rows up to pos0 + n filled); out: [n, n_head·head_dim]. Query t sees
// cache rows 0..pos0+t. `scratch` is resized as needed (reused across calls).
void attention(const AttentionShape& s, const float* q, const uint16_t* k_cache, const uint16_t* v_cache, float* out,
               core::ThreadPool& pool, std::vector<float>& scratch, const kernels::Kernels& k = kernels::active());

}  // namespace hearth::model
