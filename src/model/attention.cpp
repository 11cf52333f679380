#include "model/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hearth::model {

namespace {

// Queries [first, first + count) that attend to the same cache: consecutive
// tokens of one sequence in a prompt pass.
struct Run {
  size_t first, count;
};

// Whether query b may join a run that ends with a: the same cache, and b
// attends to the same positions (non-causal, as BERT) or to one more (the
// next token of a prompt pass, whose row this pass has just written). So the
// positions a token of a run does not attend to are rows of tokens of the
// same run, never stale ones.
bool can_join(const AttentionQuery& a, const AttentionQuery& b) {
  return a.k == b.k && a.v == b.v && a.type == b.type && a.head_stride == b.head_stride &&
         a.row_stride == b.row_stride && (b.n_kv == a.n_kv || b.n_kv == a.n_kv + 1);
}

}  // namespace

void attention(const AttentionShape& s, std::span<const AttentionQuery> queries, core::ThreadPool& pool,
               std::vector<float>& scratch, const kernels::Kernels& k) {
  const int64_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t max_kv = 1;
  for (const auto& q : queries) max_kv = std::max(max_kv, q.n_kv);
  // Up to kRun tokens of one sequence share each pass over a KV head: their
  // query heads are scored and mixed together, so each block of the cache is
  // read (and converted) once for all of them instead of once per token.
  // Positions past a token's own n_kv get probability 0: the same sums, in
  // the same order, as the token alone. A 64-token prompt pass at depth 1400
  // (F16 cache, 22 layers, 2 threads): attention 2.29 -> 2.05 ms per token
  // with runs of 4; runs of 8 measured the same as 4. Runs hold about 32
  // query heads: with one query head per KV head (BERT embedders, MHA
  // decoders) runs of 4 gave 4-row tiles, and runs of 32 took 0.55-0.73 of
  // the time (12 heads, 256-512 tokens; 32 heads of 128 values, causal).
  const size_t kRun = std::max<size_t>(4, 32 / static_cast<size_t>(std::max<int64_t>(1, group)));
  thread_local std::vector<Run> runs;  // the caller's; grows once, no allocation per call after
  runs.clear();
  for (size_t i = 0; i < queries.size();) {
    size_t n = 1;
    while (n < kRun && i + n < queries.size() && can_join(queries[i + n - 1], queries[i + n])) ++n;
    runs.push_back({i, n});
    i += n;
  }
  size_t max_run = 1;
  for (const Run& r : runs) max_run = std::max(max_run, r.count);
  const size_t rows = max_run * static_cast<size_t>(group), ld = static_cast<size_t>(max_kv);
  // Per thread: the scores [rows][ld], then (runs of several tokens) their
  // query rows and outputs gathered [rows][hd] each.
  const size_t per_thread = rows * ld + (max_run > 1 ? 2 * rows * static_cast<size_t>(hd) : 0);
  scratch.resize(static_cast<size_t>(pool.n_threads()) * per_thread);
  // One (run, KV head) pair per task: the query heads sharing that KV head,
  // of every token of the run, are scored and mixed together, so each K/V
  // row is read once per task; scores live in the thread's scratch rows.
  const size_t n_kv_heads = static_cast<size_t>(s.n_head_kv);
  const Run* run_list = runs.data();
  pool.parallel_for(runs.size() * n_kv_heads, [&](size_t b, size_t e, int tid) {
    float* scores = scratch.data() + static_cast<size_t>(tid) * per_thread;
    float* q_rows = scores + rows * ld;
    float* o_rows = q_rows + rows * static_cast<size_t>(hd);
    for (size_t task = b; task < e; ++task) {
      const Run& run = run_list[task / n_kv_heads];
      const AttentionQuery& q = queries[run.first];
      const int64_t kvh = static_cast<int64_t>(task % n_kv_heads), h0 = kvh * group;
      const size_t head_values = static_cast<size_t>(group * hd);
      // The run's query rows: in place for one token, else gathered.
      const float* qr = q.q + h0 * hd;
      float* out = q.out + h0 * hd;
      int64_t n_kv = q.n_kv;
      if (run.count > 1) {
        for (size_t t = 0; t < run.count; ++t) {
          const AttentionQuery& qt = queries[run.first + t];
          std::memcpy(q_rows + t * head_values, qt.q + h0 * hd, head_values * sizeof(float));
          n_kv = std::max(n_kv, qt.n_kv);
        }
        qr = q_rows;
        out = o_rows;
      }
      const int g = static_cast<int>(run.count * static_cast<size_t>(group));
      const uint8_t* kh = q.k + static_cast<size_t>(kvh) * q.head_stride;
      const uint8_t* vh = q.v + static_cast<size_t>(kvh) * q.head_stride;
      if (q.type == tensor::KvType::kQ8_0)
        k.attn_scores_q8(hd, g, qr, kh, n_kv, scale, scores, ld);
      else
        k.attn_scores_f16(hd, g, qr, reinterpret_cast<const uint16_t*>(kh), n_kv, scale, scores, ld);
      for (int h = 0; h < g; ++h) {
        float* row = scores + static_cast<size_t>(h) * ld;
        const int64_t own = queries[run.first + static_cast<size_t>(h / group)].n_kv;
        k.softmax(row, own);
        std::fill(row + own, row + n_kv, 0.0f);
      }
      if (q.type == tensor::KvType::kQ8_0)
        k.attn_mix_q8(hd, g, scores, ld, vh, q.row_stride, n_kv, out);
      else
        k.attn_mix_f16(hd, g, scores, ld, reinterpret_cast<const uint16_t*>(vh), q.row_stride / sizeof(uint16_t), n_kv,
                       out);
      if (run.count > 1)
        for (size_t t = 0; t < run.count; ++t)
          std::memcpy(queries[run.first + t].out + h0 * hd, o_rows + t * head_values, head_values * sizeof(float));
    }
  });
}

}  // namespace hearth::model
