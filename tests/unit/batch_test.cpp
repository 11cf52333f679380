// Continuous batching is exact: tokens of several sequences evaluated in one
// forward pass give the same logits as each sequence evaluated alone.
#include <gtest/gtest.h>

#include "common/shared_data.h"
#include "model/model.h"

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

}  // namespace
}  // namespace hearth::model
