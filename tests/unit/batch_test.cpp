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

// The cache layout is the caller's (head and row strides): the model's
// head-major cache and a position-major one give the same attention, and both
// match a direct computation (grouped heads, causal prefix of n_kv rows).
TEST(Attention, HeadMajorAndPositionMajorCachesAgree) {
  const int64_t n_head = 8, n_head_kv = 2, hd = 64, n_ctx = 40, kv_dim = n_head_kv * hd;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint16_t> k_pos(n_ctx * kv_dim), v_pos(k_pos.size()), k_head(k_pos.size()), v_head(k_pos.size());
  for (int64_t j = 0; j < n_ctx; ++j)
    for (int64_t h = 0; h < n_head_kv; ++h)
      for (int64_t i = 0; i < hd; ++i) {
        const uint16_t kb = tensor::f32_to_fp16(nd(rng)), vb = tensor::f32_to_fp16(nd(rng));
        k_pos[j * kv_dim + h * hd + i] = k_head[(h * n_ctx + j) * hd + i] = kb;
        v_pos[j * kv_dim + h * hd + i] = v_head[(h * n_ctx + j) * hd + i] = vb;
      }
  const int64_t n_kv[] = {1, 5, 37};
  std::vector<float> q(3 * n_head * hd), out_pos(q.size()), out_head(q.size());
  for (float& x : q) x = nd(rng);
  std::vector<AttentionQuery> by_pos, by_head;
  for (int t = 0; t < 3; ++t) {
    by_pos.push_back({q.data() + t * n_head * hd, out_pos.data() + t * n_head * hd, k_pos.data(), v_pos.data(), n_kv[t],
                      static_cast<size_t>(hd), static_cast<size_t>(kv_dim)});
    by_head.push_back({q.data() + t * n_head * hd, out_head.data() + t * n_head * hd, k_head.data(), v_head.data(),
                       n_kv[t], static_cast<size_t>(n_ctx * hd), static_cast<size_t>(hd)});
  }
  core::ThreadPool pool(2);
  std::vector<float> scratch;
  attention({n_head, n_head_kv, hd}, by_pos, pool, scratch);
  attention({n_head, n_head_kv, hd}, by_head, pool, scratch);
  for (int t = 0; t < 3; ++t)
    for (int64_t h = 0; h < n_head; ++h) {
      const int64_t kvh = h / (n_head / n_head_kv);
      std::vector<double> p(static_cast<size_t>(n_kv[t]));
      double mx = -1e300, sum = 0;
      for (int64_t j = 0; j < n_kv[t]; ++j) {
        double s = 0;
        for (int64_t i = 0; i < hd; ++i)
          s += q[(t * n_head + h) * hd + i] * tensor::fp16_to_f32(k_pos[j * kv_dim + kvh * hd + i]);
        p[j] = s / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < hd; ++i) {
        double o = 0;
        for (int64_t j = 0; j < n_kv[t]; ++j) o += p[j] / sum * tensor::fp16_to_f32(v_pos[j * kv_dim + kvh * hd + i]);
        const size_t at = static_cast<size_t>((t * n_head + h) * hd + i);
        ASSERT_NEAR(out_pos[at], o, 1e-4) << "token " << t << " head " << h << " dim " << i;
        ASSERT_EQ(out_head[at], out_pos[at]) << "token " << t << " head " << h << " dim " << i;
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
      kv.k(l)[h * kv.n_ctx * hp.head_dim] = 1;
      kv.v(l)[h * kv.n_ctx * hp.head_dim] = 1;
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
