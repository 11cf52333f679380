#include "model/attention.h"

#include <algorithm>
#include <cmath>

namespace hearth::model {

void attention(const AttentionShape& s, std::span<const AttentionQuery> queries, core::ThreadPool& pool,
               std::vector<float>& scratch, const kernels::Kernels& k) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t max_kv = 1;
  for (const auto& q : queries) max_kv = std::max(max_kv, q.n_kv);
  scratch.resize(static_cast<size_t>(pool.n_threads()) * static_cast<size_t>(group) * static_cast<size_t>(max_kv));
  // One (token, KV head) pair per task: the group of query heads sharing that
  // KV head is scored and mixed together, so each K/V row is read once per
  // group; scores live in the thread's scratch rows.
  const size_t n_kv_heads = static_cast<size_t>(s.n_head_kv);
  pool.parallel_for(queries.size() * n_kv_heads, [&](size_t b, size_t e, int tid) {
    const size_t ld = static_cast<size_t>(max_kv);
    float* scores = scratch.data() + static_cast<size_t>(tid) * static_cast<size_t>(group) * ld;
    for (size_t task = b; task < e; ++task) {
      const AttentionQuery& q = queries[task / n_kv_heads];
      const int64_t kvh = static_cast<int64_t>(task % n_kv_heads), h0 = kvh * group;
      const int g = static_cast<int>(group);
      const uint8_t* kh = q.k + static_cast<size_t>(kvh) * q.head_stride;
      const uint8_t* vh = q.v + static_cast<size_t>(kvh) * q.head_stride;
      if (q.type == tensor::KvType::kQ8_0)
        k.attn_scores_q8(hd, g, q.q + h0 * hd, kh, q.n_kv, scale, scores, ld);
      else
        k.attn_scores_f16(hd, g, q.q + h0 * hd, reinterpret_cast<const uint16_t*>(kh), q.n_kv, scale, scores, ld);
      for (int h = 0; h < g; ++h) k.softmax(scores + static_cast<size_t>(h) * ld, q.n_kv);
      if (q.type == tensor::KvType::kQ8_0)
        k.attn_mix_q8(hd, g, scores, ld, vh, q.row_stride, q.n_kv, q.out + h0 * hd);
      else
        k.attn_mix_f16(hd, g, scores, ld, reinterpret_cast<const uint16_t*>(vh), q.row_stride / sizeof(uint16_t),
                       q.n_kv, q.out + h0 * hd);
    }
  });
}

}  // namespace hearth::model
