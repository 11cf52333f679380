#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/float_math.h"

namespace hearth::model {

void attention(const AttentionShape& s, std::span<const AttentionQuery> queries, core::ThreadPool& pool,
               std::vector<float>& scratch, const kernels::Kernels& k) {
  const int64_t hd = s.head_dim, kv_dim = s.n_head_kv * hd, group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t max_kv = 1;
  for (const auto& q : queries) max_kv = std::max(max_kv, q.n_kv);
  scratch.resize(static_cast<size_t>(pool.n_threads()) * static_cast<size_t>(max_kv));
  // One (token, head) pair per task; scores live in the thread's scratch row.
  pool.parallel_for(queries.size() * static_cast<size_t>(s.n_head), [&](size_t b, size_t e, int tid) {
    float* scores = scratch.data() + static_cast<size_t>(tid) * static_cast<size_t>(max_kv);
    for (size_t task = b; task < e; ++task) {
      const AttentionQuery& q = queries[task / static_cast<size_t>(s.n_head)];
      const int64_t h = static_cast<int64_t>(task % static_cast<size_t>(s.n_head)), kvh = h / group;
      const float* qh = q.q + h * hd;
      for (int64_t j = 0; j < q.n_kv; ++j) scores[j] = k.dot_f32_f16(hd, qh, q.k + j * kv_dim + kvh * hd) * scale;
      tensor::softmax(scores, q.n_kv);
      float* o = q.out + h * hd;
      std::memset(o, 0, hd * sizeof(float));
      for (int64_t j = 0; j < q.n_kv; ++j) k.axpy_f16(hd, scores[j], q.v + j * kv_dim + kvh * hd, o);
    }
  });
}

}  // namespace hearth::model
