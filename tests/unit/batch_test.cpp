// Continuous batching is exact: tokens of several sequences evaluated in one
// forward pass give the same logits as each sequence evaluated alone.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <random>

#include "common/shared_data.h"
#include "core/cpu_features.h"
#include "model/attention.h"
#include "model/model.h"
#include "tensor/fp16.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

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

// A Q8_0 cache changes each key and value by Q8_0's rounding only: over a
// 40-token prompt and 24 decode steps (prefill and decode paths, several K
// blocks) the logits stay within a small fraction of their spread of the F16
// cache's, and the same token leads. A model whose heads are not whole Q8_0
// blocks is refused with the head size named.
TEST(KvCache, Q8CacheFollowsTheF16Cache) {
  auto m = Model::load(test::shared_path("models/synth-llama-spm512-F16.gguf"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  const auto& hp = m.value()->hparams();
  ASSERT_EQ(hp.head_dim % 32, 0);
  ASSERT_TRUE(check_kv_type(hp, tensor::KvType::kQ8_0).ok());
  Context c16(m.value(), 128, 2), c8(m.value(), 128, 2, tensor::KvType::kQ8_0);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 40; ++i) prompt.push_back(1 + (i * 37) % (static_cast<int32_t>(hp.n_vocab) - 1));
  std::vector<float> l16, l8;
  double worst = 0;
  int same_top = 0, steps = 0;
  auto compare = [&](size_t rows) {
    const size_t V = static_cast<size_t>(hp.n_vocab);
    for (size_t r = 0; r < rows; ++r) {
      const float* a = l16.data() + r * V;
      const float* b = l8.data() + r * V;
      const float lo = *std::min_element(a, a + V), hi = *std::max_element(a, a + V);
      double d = 0;
      for (size_t i = 0; i < V; ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
      worst = std::max(worst, d / (hi - lo));
      same_top += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
      ++steps;
    }
  };
  ASSERT_TRUE(c16.eval(prompt, true, &l16).ok());
  ASSERT_TRUE(c8.eval(prompt, true, &l8).ok());
  compare(prompt.size());
  int32_t tok = 5;
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(c16.eval(std::vector<int32_t>{tok}, false, &l16).ok());
    ASSERT_TRUE(c8.eval(std::vector<int32_t>{tok}, false, &l8).ok());
    compare(1);
    tok = static_cast<int32_t>(std::max_element(l16.begin(), l16.end()) - l16.begin());
  }
  EXPECT_LT(worst, 0.03) << "largest logit difference, as a fraction of the logits' range";
  EXPECT_GE(same_top, steps - 2) << "of " << steps;

  auto small = Model::load(test::shared_path("models/aidreams260K.gguf"));
  ASSERT_TRUE(small.ok());
  const Status st = check_kv_type(small.value()->hparams(), tensor::KvType::kQ8_0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("16"), std::string::npos) << st.message();
  EXPECT_THROW(KvCache(small.value()->hparams(), 8, tensor::KvType::kQ8_0), std::invalid_argument);
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
  // Multiply-adds: each product's inputs x outputs per token; attention's
  // scores and mix over the 1, 2, 3 positions the tokens attend to.
  const auto& hp = model.hparams();
  auto macs = [](const Weight& w) { return static_cast<double>(w.n_in) * static_cast<double>(w.n_out); };
  double mqkv = 0, mup = 0;
  for (const LayerWeights& L : model.layers) {
    mqkv += macs(L.wq) + macs(L.wk) + macs(L.wv);
    mup += macs(L.w_gate) + macs(L.w_up);
  }
  EXPECT_EQ(p.macs[ForwardProfile::kQkv], 3 * mqkv);
  EXPECT_EQ(p.macs[ForwardProfile::kFfnUp], 3 * mup);
  EXPECT_EQ(p.macs[ForwardProfile::kOutput], 3 * macs(model.output));
  EXPECT_EQ(p.macs[ForwardProfile::kAttention],
            static_cast<double>(hp.n_layer) * 2.0 * (1 + 2 + 3) * static_cast<double>(hp.n_head * hp.head_dim));
  EXPECT_EQ(p.macs[ForwardProfile::kRowOps], 0.0);
  EXPECT_EQ(p.tokens, 3);
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
// The cache of `type` filled with random keys and values (padding past the
// filled positions: NaN halves for F16, NaN scales for Q8_0), queries of 4
// tokens attending to 1..37 positions; the outputs match attention computed
// in double over the values the cache represents.
void check_attention_against_direct(tensor::KvType type) {
  const int64_t n_head = 8, n_head_kv = 2, hd = 64, n_ctx = 40;
  const size_t head_stride = tensor::kv_head_bytes(type, hd, n_ctx), row = tensor::kv_row_bytes(type, hd);
  ASSERT_EQ(head_stride, 48 * row);
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<uint8_t> k_cache(head_stride * n_head_kv), v_cache(k_cache.size());
  if (type == tensor::KvType::kF16) {
    for (size_t b = 0; b < k_cache.size(); b += 2) k_cache[b] = v_cache[b] = 0x00, k_cache[b + 1] = v_cache[b + 1] = 0x7e;
  } else {
    // NaN scales, zero codes: a padding lane would turn NaN.
    std::fill(k_cache.begin(), k_cache.end(), 0);
    for (int64_t h = 0; h < n_head_kv; ++h)
      for (int64_t b = 0; b < tensor::k_positions(n_ctx) / tensor::kKBlock; ++b) {
        auto* sc = const_cast<uint16_t*>(tensor::q8_k_scales(k_cache.data() + h * head_stride, hd, b));
        for (int64_t x = 0; x < hd / tensor::kQK * tensor::kKBlock; ++x) sc[x] = 0x7e00;
      }
    std::fill(v_cache.begin(), v_cache.end(), 0);
  }
  std::vector<float> keys(n_ctx * n_head_kv * hd), values(keys.size());  // [j][h][i], as the cache holds them
  for (int64_t j = 0; j < n_ctx; ++j)
    for (int64_t h = 0; h < n_head_kv; ++h) {
      float* key = keys.data() + (j * n_head_kv + h) * hd;
      float* value = values.data() + (j * n_head_kv + h) * hd;
      for (int64_t i = 0; i < hd; ++i) key[i] = nd(rng), value[i] = nd(rng);
      uint8_t* k_head = k_cache.data() + h * head_stride;
      uint8_t* v_row = v_cache.data() + h * head_stride + static_cast<size_t>(j) * row;
      if (type == tensor::KvType::kF16) {
        uint16_t kh[hd];
        for (int64_t i = 0; i < hd; ++i) {
          kh[i] = tensor::f32_to_fp16(key[i]);
          reinterpret_cast<uint16_t*>(v_row)[i] = tensor::f32_to_fp16(value[i]);
          key[i] = tensor::fp16_to_f32(kh[i]);
          value[i] = tensor::fp16_to_f32(reinterpret_cast<uint16_t*>(v_row)[i]);
        }
        tensor::store_k(hd, kh, j, reinterpret_cast<uint16_t*>(k_head));
      } else {
        tensor::BlockQ8_0 kq[hd / tensor::kQK];
        tensor::quantize_q8_0(key, kq, hd);
        tensor::quantize_q8_0(value, v_row, hd);
        tensor::store_k_q8(hd, kq, j, k_head);
        tensor::dequantize_q8_0(kq, key, hd);
        tensor::dequantize_q8_0(v_row, value, hd);
      }
    }
  const int64_t n_kv[] = {1, 5, 16, 37};
  constexpr int kTokens = 4;
  std::vector<float> q(kTokens * n_head * hd), out(q.size());
  for (float& x : q) x = nd(rng);
  // Q8_0 scores take each query head rounded through Q8_0 (tensor::attn_scores_q8).
  std::vector<float> q_used = q;
  if (type == tensor::KvType::kQ8_0)
    for (int64_t r = 0; r < kTokens * n_head; ++r) {
      tensor::BlockQ8_0 qb[hd / tensor::kQK];
      tensor::quantize_q8_0(q.data() + r * hd, qb, hd);
      tensor::dequantize_q8_0(qb, q_used.data() + r * hd, hd);
    }
  std::vector<AttentionQuery> queries;
  for (int t = 0; t < kTokens; ++t)
    queries.push_back({q.data() + t * n_head * hd, out.data() + t * n_head * hd, k_cache.data(), v_cache.data(),
                       n_kv[t], head_stride, row, type});
  for (core::Isa isa : {core::Isa::kScalar, core::Isa::kAvx2, core::Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(core::best_isa())) continue;
    core::ThreadPool pool(2);
    std::vector<float> scratch;
    std::fill(out.begin(), out.end(), 0.0f);
    attention({n_head, n_head_kv, hd}, queries, pool, scratch, kernels::for_isa(isa));
    for (int t = 0; t < kTokens; ++t)
      for (int64_t h = 0; h < n_head; ++h) {
        const int64_t kvh = h / (n_head / n_head_kv);
        std::vector<double> p(static_cast<size_t>(n_kv[t]));
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < n_kv[t]; ++j) {
          double s = 0;
          for (int64_t i = 0; i < hd; ++i) s += q_used[(t * n_head + h) * hd + i] * keys[(j * n_head_kv + kvh) * hd + i];
          p[j] = s / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int64_t i = 0; i < hd; ++i) {
          double o = 0;
          for (int64_t j = 0; j < n_kv[t]; ++j) o += p[j] / sum * values[(j * n_head_kv + kvh) * hd + i];
          const size_t at = static_cast<size_t>((t * n_head + h) * hd + i);
          ASSERT_NEAR(out[at], o, 1e-4) << tensor::kv_type_name(type) << " isa " << static_cast<int>(isa) << " token "
                                        << t << " head " << h << " dim " << i;
        }
      }
  }
}

TEST(Attention, BlockedKeysAndValueRowsMatchDirectComputation) {
  check_attention_against_direct(tensor::KvType::kF16);
}

TEST(Attention, Q8CacheMatchesDirectComputationOverItsValues) {
  check_attention_against_direct(tensor::KvType::kQ8_0);
}

// Consecutive tokens of one sequence are attended together (model/attention.cpp
// runs): the outputs equal each token's alone, bit for bit, in every ISA and
// cache type, for runs cut by length, by a change of cache, by a gap in the
// positions, and for tokens that attend to the same positions (BERT).
void check_runs_equal_tokens_alone(tensor::KvType type) {
  const int64_t n_head = 8, n_head_kv = 2, hd = 64, n_ctx = 40;
  const size_t head_stride = tensor::kv_head_bytes(type, hd, n_ctx), row = tensor::kv_row_bytes(type, hd);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  // Two sequences' caches, every position filled.
  std::vector<uint8_t> caches[2][2];  // [sequence][keys, values]
  for (auto& seq : caches) {
    for (auto& c : seq) c.assign(head_stride * n_head_kv, 0);
    for (int64_t h = 0; h < n_head_kv; ++h)
      for (int64_t j = 0; j < n_ctx; ++j) {
        float key[hd], value[hd];
        for (int64_t i = 0; i < hd; ++i) key[i] = nd(rng), value[i] = nd(rng);
        uint8_t* k_head = seq[0].data() + h * head_stride;
        uint8_t* v_row = seq[1].data() + h * head_stride + static_cast<size_t>(j) * row;
        if (type == tensor::KvType::kF16) {
          uint16_t kh[hd];
          for (int64_t i = 0; i < hd; ++i)
            kh[i] = tensor::f32_to_fp16(key[i]), reinterpret_cast<uint16_t*>(v_row)[i] = tensor::f32_to_fp16(value[i]);
          tensor::store_k(hd, kh, j, reinterpret_cast<uint16_t*>(k_head));
        } else {
          tensor::BlockQ8_0 kq[hd / tensor::kQK];
          tensor::quantize_q8_0(key, kq, hd);
          tensor::store_k_q8(hd, kq, j, k_head);
          tensor::quantize_q8_0(value, v_row, hd);
        }
      }
  }
  // (sequence, positions attended): a run of 4 and one of 2 in sequence 0,
  // sequence 1 (a change of cache), a gap, then tokens attending alike.
  const std::pair<int, int64_t> tokens[] = {{0, 10}, {0, 11}, {0, 12}, {0, 13}, {0, 14}, {0, 15}, {1, 7},
                                            {1, 8},  {1, 30}, {1, 31}, {0, 40}, {0, 40}, {0, 40}};
  const int n_tokens = static_cast<int>(std::size(tokens));
  std::vector<float> q(static_cast<size_t>(n_tokens * n_head * hd)), together(q.size()), alone(q.size());
  for (float& x : q) x = nd(rng);
  auto query = [&](int t, std::vector<float>& out) {
    const auto& c = caches[tokens[t].first];
    return AttentionQuery{q.data() + t * n_head * hd, out.data() + t * n_head * hd, c[0].data(), c[1].data(),
                          tokens[t].second, head_stride, row, type};
  };
  for (core::Isa isa : {core::Isa::kScalar, core::Isa::kAvx2, core::Isa::kAvx512}) {
    if (static_cast<int>(isa) > static_cast<int>(core::best_isa())) continue;
    core::ThreadPool pool(2);
    std::vector<float> scratch;
    std::vector<AttentionQuery> all;
    for (int t = 0; t < n_tokens; ++t) all.push_back(query(t, together));
    attention({n_head, n_head_kv, hd}, all, pool, scratch, kernels::for_isa(isa));
    for (int t = 0; t < n_tokens; ++t) {
      const AttentionQuery one = query(t, alone);
      attention({n_head, n_head_kv, hd}, std::span<const AttentionQuery>(&one, 1), pool, scratch, kernels::for_isa(isa));
    }
    for (size_t i = 0; i < q.size(); ++i)
      ASSERT_EQ(together[i], alone[i]) << tensor::kv_type_name(type) << " isa " << static_cast<int>(isa) << " token "
                                       << i / static_cast<size_t>(n_head * hd) << " value " << i % (n_head * hd);
  }
}

TEST(Attention, F16RunsOfTokensEqualEachTokenAlone) { check_runs_equal_tokens_alone(tensor::KvType::kF16); }

TEST(Attention, Q8RunsOfTokensEqualEachTokenAlone) { check_runs_equal_tokens_alone(tensor::KvType::kQ8_0); }

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
