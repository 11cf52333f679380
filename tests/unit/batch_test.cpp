// Continuous batching is exact: tokens of several sequences evaluated in one
// forward pass give the same logits as each sequence evaluated alone.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <random>

#include "common/shared_data.h"
#include "model/attention.h"
#include "model/model.h"
#include "tensor/fp16.h"
#include "tensor/kv_layout.h"

namespace hearth::model {
namespace {

TEST(Batching, MixedSequencesMatchSeparateEvaluation) {
  auto m = Model::load(test::shared_path("models/aidreams260K.gguf"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const auto& hp = m.value()->hparams();
  std::vector<int32_t> a = {1, 303, 281, 269, 435, 447}, b = {1, 40, 41, 42};
  // Alone.
  std::vector<float> la, lb;
  Context ca(m.value(), 64, 1), cb(m.value(), 64, 1);
  ASSERT_TRUE(ca.eval(a, true, &la).ok());
  ASSERT_TRUE(cb.eval(b, true, &lb).ok());
  // Together: prefill of a (all 6) and b (first 3) in one batch, then b's last
  // token together with a decode token for a.
  KvCache ka(hp, 64), kb(hp, 64);
  Workspace ws(2);
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < a.size(); ++i) batch.push_back({a[i], static_cast<int64_t>(i), &ka, true});
  for (size_t i = 0; i < 3; ++i) batch.push_back({b[i], static_cast<int64_t>(i), &kb, true});
  std::vector<float> l1;
  ASSERT_TRUE(m.value()->forward(ws, batch, &l1).ok());
  const size_t V = static_cast<size_t>(hp.n_vocab);
  for (size_t i = 0; i < a.size() * V; ++i) ASSERT_NEAR(l1[i], la[i], 1e-4) << i;
  for (size_t i = 0; i < 3 * V; ++i) ASSERT_NEAR(l1[a.size() * V + i], lb[i], 1e-4) << i;
  // One token per sequence (a decode step of two sequences).
  const int32_t a6 = 300;
  std::vector<float> la6;
  ASSERT_TRUE(ca.eval(std::vector<int32_t>{a6}, true, &la6).ok());
  batch = {{b[3], 3, &kb, true}, {a6, 6, &ka, true}};
  std::vector<float> l2;
  ASSERT_TRUE(m.value()->forward(ws, batch, &l2).ok());
  for (size_t i = 0; i < V; ++i) ASSERT_NEAR(l2[i], lb[3 * V + i], 1e-4);
  for (size_t i = 0; i < V; ++i) ASSERT_NEAR(l2[V + i], la6[i], 1e-4);
}

// A profile charges every phase of a decode step and exactly the matrix
// products' weight bytes; evaluating with it on gives the same logits.
TEST(ForwardProfile, ChargesEveryPhaseAndTheProductBytes) {
  auto m = Model::load(test::shared_path("models/aidreams260K.gguf"));
  ASSERT_TRUE(m.ok());
  const Model& model = *m.value();
  Context plain(m.value(), 32, 2), profiled(m.value(), 32, 2);
  ForwardProfile p;
  profiled.set_profile(&p);
  const std::vector<int32_t> toks = {1, 303, 281};
  for (int32_t t : toks) {
    std::vector<float> a, b;
    ASSERT_TRUE(plain.eval(std::vector<int32_t>{t}, false, &a).ok());
    ASSERT_TRUE(profiled.eval(std::vector<int32_t>{t}, false, &b).ok());
    EXPECT_EQ(a, b);
  }
  EXPECT_EQ(p.calls, 3);
  for (int i = 0; i < ForwardProfile::kCount; ++i) EXPECT_GT(p.seconds[i], 0.0) << ForwardProfile::kNames[i];
  auto bytes = [](const Weight& w) { return static_cast<double>(w.n_out) * static_cast<double>(w.row_bytes); };
  double qkv = 0, wo = 0, up = 0, down = 0;
  for (const LayerWeights& L : model.layers) {
    qkv += bytes(L.wq) + bytes(L.wk) + bytes(L.wv);
    wo += bytes(L.wo);
    up += bytes(L.w_gate) + bytes(L.w_up);
    down += bytes(L.w_down);
  }
  EXPECT_EQ(p.bytes[ForwardProfile::kQkv], 3 * qkv);
  EXPECT_EQ(p.bytes[ForwardProfile::kAttnOut], 3 * wo);
  EXPECT_EQ(p.bytes[ForwardProfile::kFfnUp], 3 * up);
  EXPECT_EQ(p.bytes[ForwardProfile::kFfnDown], 3 * down);
  EXPECT_EQ(p.bytes[ForwardProfile::kOutput], 3 * bytes(model.output));
  EXPECT_EQ(p.bytes[ForwardProfile::kRowOps] + p.bytes[ForwardProfile::kAttention], 0.0);
  profiled.set_profile(nullptr);
  std::vector<float> c;
  ASSERT_TRUE(profiled.eval(std::vector<int32_t>{5}, false, &c).ok());
  EXPECT_EQ(p.calls, 3) << "profile off";
}

// The model's cache layout (KvCache): per KV head, keys in position-minor
// blocks of 16 (tensor/kv_layout.h, written by tensor::store_k) and value
// rows; attention over it matches a direct computation (grouped heads,
// causal prefixes of n_kv positions on and off the block edges, a head
// region padded past n_ctx).
TEST(Attention, BlockedKeysAndValueRowsMatchDirectComputation) {
  const int64_t n_head = 8, n_head_kv = 2, hd = 64, n_ctx = 40;
  const size_t head_stride = static_cast<size_t>(tensor::k_positions(n_ctx) * hd);
  ASSERT_EQ(head_stride, static_cast<size_t>(48 * hd));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // Filled with NaN halves first: padding lanes past n_kv must not leak.
  std::vector<uint16_t> k_cache(head_stride * n_head_kv, 0x7e00), v_cache(k_cache.size(), 0x7e00);
  std::vector<uint16_t> keys(n_ctx * n_head_kv * hd), values(keys.size());  // [j][h][i]
  for (int64_t j = 0; j < n_ctx; ++j)
    for (int64_t h = 0; h < n_head_kv; ++h) {
      uint16_t* key = keys.data() + (j * n_head_kv + h) * hd;
      for (int64_t i = 0; i < hd; ++i) {
        key[i] = tensor::f32_to_fp16(nd(rng));
        values[(j * n_head_kv + h) * hd + i] = v_cache[h * head_stride + j * hd + i] = tensor::f32_to_fp16(nd(rng));
      }
      tensor::store_k(hd, key, j, k_cache.data() + h * head_stride);
    }
  const int64_t n_kv[] = {1, 5, 16, 37};
  constexpr int kTokens = 4;
  std::vector<float> q(kTokens * n_head * hd), out(q.size());
  for (float& x : q) x = nd(rng);
  std::vector<AttentionQuery> queries;
  for (int t = 0; t < kTokens; ++t)
    queries.push_back({q.data() + t * n_head * hd, out.data() + t * n_head * hd, k_cache.data(), v_cache.data(),
                       n_kv[t], head_stride, static_cast<size_t>(hd)});
  core::ThreadPool pool(2);
  std::vector<float> scratch;
  attention({n_head, n_head_kv, hd}, queries, pool, scratch);
  for (int t = 0; t < kTokens; ++t)
    for (int64_t h = 0; h < n_head; ++h) {
      const int64_t kvh = h / (n_head / n_head_kv);
      std::vector<double> p(static_cast<size_t>(n_kv[t]));
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < n_kv[t]; ++j) {
        double s = 0;
        for (int64_t i = 0; i < hd; ++i)
          s += q[(t * n_head + h) * hd + i] * tensor::fp16_to_f32(keys[(j * n_head_kv + kvh) * hd + i]);
        p[j] = s / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < hd; ++i) {
        double o = 0;
        for (int64_t j = 0; j < n_kv[t]; ++j)
          o += p[j] / sum * tensor::fp16_to_f32(values[(j * n_head_kv + kvh) * hd + i]);
        const size_t at = static_cast<size_t>((t * n_head + h) * hd + i);
        ASSERT_NEAR(out[at], o, 1e-4) << "token " << t << " head " << h << " dim " << i;
      }
    }
}

TEST(Batching, RejectsOutOfRangePositions) {
  auto m = Model::load(test::shared_path("models/aidreams260K.gguf"));
  ASSERT_TRUE(m.ok());
  KvCache kv(m.value()->hparams(), 4);
  Workspace ws(1);
  std::vector<BatchToken> batch = {{1, 4, &kv, true}};
  std::vector<float> l;
  EXPECT_FALSE(m.value()->forward(ws, batch, &l).ok());
  batch = {{100000, 0, &kv, true}};
  EXPECT_FALSE(m.value()->forward(ws, batch, &l).ok());
}

// A new sequence's cache costs what it holds: the first token writes one row
// per layer and KV head, 176 rows spread over 46 MiB here, and commits a page
// for each, not the whole region (with huge pages, every 2 MiB page was zeroed
// at that first token: 10-20 ms per new request and most of a burst's time).
TEST(KvCache, FirstTokenCommitsOnlyThePagesItWrites) {
  HParams hp;
  hp.n_layer = 22;
  hp.n_head = 32;
  hp.n_head_kv = 4;
  hp.head_dim = 64;
  KvCache kv(hp, 2048);
  ASSERT_EQ(kv.bytes(), 2 * 22 * 4 * 2048 * 64 * sizeof(uint16_t));
  for (int64_t l = 0; l < hp.n_layer; ++l)
    for (int64_t h = 0; h < hp.n_head_kv; ++h) {
      kv.k(l)[h * kv.head_stride()] = 1;
      kv.v(l)[h * kv.head_stride()] = 1;
    }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((kv.bytes() + page - 1) / page);
  ASSERT_EQ(mincore(kv.k(0), kv.bytes(), resident.data()), 0);
  size_t n = 0;
  for (unsigned char r : resident) n += r & 1;
  EXPECT_EQ(n, static_cast<size_t>(2 * hp.n_layer * hp.n_head_kv));
}

}  // namespace
}  // namespace hearth::model
