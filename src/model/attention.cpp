#include "model/attention.h"

#include <cmath>
#include <cstring>

#include "tensor/float_math.h"

namespace hearth::model {

void attention(const AttentionShape& s, const float* q, const uint16_t* k_cache, const uint16_t* v_cache, float* out,
               core::ThreadPool& pool, std::vector<float>& scratch, const kernels::Kernels& k) {
  const int64_t hd = s.head_dim, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  const int64_t group = s.n_head / s.n_head_kv, n_ctx = s.pos0 + s.n;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  scratch.resize(static_cast<size_t>(pool.n_threads()) * n_ctx);
  // One (token, head) pair per task; scores live in the thread's scratch row.
  pool.parallel_for(static_cast<size_t>(s.n * s.n_head), [&](size_t b, size_t e, int tid) {
    float* scores = scratch.data() + static_cast<size_t>(tid) * n_ctx;
    for (size_t task = b; task < e; ++task) {
      const int64_t t = static_cast<int64_t>(task) / s.n_head, h = static_cast<int64_t>(task) % s.n_head;
      const int64_t kvh = h / group, n_kv = s.pos0 + t + 1;
      const float* qh = q + t * q_dim + h * hd;
      for (int64_t j = 0; j < n_kv; ++j) scores[j] = k.dot_f32_f16(hd, qh, k_cache + j * kv_dim + kvh * hd) * scale;
      tensor::softmax(scores, n_kv);
      float* o = out + t * q_dim + h * hd;
      std::memset(o, 0, hd * sizeof(float));
      for (int64_t j = 0; j < n_kv; ++j) k.axpy_f16(hd, scores[j], v_cache + j * kv_dim + kvh * hd, o);
    }
  });
}

}  // namespace hearth::model
