// LoRA: an adapter (random low-rank A/B for a few matrices of a synth-llama
// model, built here with the GGUF writer) changes the logits as merging
// W + (alpha/r)·B·A into the weights does (a merged model written by the writer).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <unistd.h>

#include "common/shared_data.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "tensor/type_ops.h"

namespace hearth::model {
namespace {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(Lora, MatchesMergedWeights) {
  const std::string base_path = test::shared_path("models/synth-llama-spm512-F16.gguf");
  auto base_file = gguf::File::open(base_path);
  ASSERT_TRUE(base_file.ok());
  const int r = 4;
  const float alpha = 8;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0, 0.05f);
  gguf::Writer adapter, merged;
  adapter.set("general.architecture", gguf::Value::of_string("llama"));
  adapter.set("general.type", gguf::Value::of_string("adapter"));
  adapter.set("adapter.type", gguf::Value::of_string("lora"));
  adapter.set("adapter.lora.alpha", gguf::Value::of_f32(alpha));
  for (const auto& [k, v] : base_file->metadata()) merged.set(k, v);
  const std::set<std::string> adapted = {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output.weight"};
  for (const auto& t : base_file->tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    if (!adapted.count(t.name)) {
      ASSERT_TRUE(merged.add_tensor(t.name, t.type, ne, std::vector<uint8_t>(t.data, t.data + t.n_bytes)).ok());
      continue;
    }
    const int64_t n_in = t.ne[0], n_out = t.ne[1];
    std::vector<float> A(static_cast<size_t>(r * n_in)), B(static_cast<size_t>(n_out * r)), W(static_cast<size_t>(n_in * n_out));
    for (auto& x : A) x = d(rng);
    for (auto& x : B) x = d(rng);
    ASSERT_TRUE(adapter.add_tensor(t.name + ".lora_a", DType::kF32, {n_in, r}, f32_bytes(A)).ok());
    ASSERT_TRUE(adapter.add_tensor(t.name + ".lora_b", DType::kF32, {r, n_out}, f32_bytes(B)).ok());
    tensor::type_ops(t.type).to_float(t.data, W.data(), n_in * n_out);
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t i = 0; i < n_in; ++i) {
        double acc = 0;
        for (int k = 0; k < r; ++k) acc += static_cast<double>(B[o * r + k]) * A[k * n_in + i];
        W[o * n_in + i] += static_cast<float>(alpha / r * acc);
      }
    ASSERT_TRUE(merged.add_tensor(t.name, DType::kF32, ne, f32_bytes(W)).ok());
  }
  std::string dir = ::testing::TempDir();
  std::string adapter_path = dir + "lora-" + std::to_string(getpid()) + ".gguf";
  std::string merged_path = dir + "merged-" + std::to_string(getpid()) + ".gguf";
  ASSERT_TRUE(adapter.write_file(adapter_path).ok());
  ASSERT_TRUE(merged.write_file(merged_path).ok());

  auto with_lora = Model::load(base_path);
  ASSERT_TRUE(with_lora.ok());
  auto af = gguf::File::open(adapter_path);
  ASSERT_TRUE(af.ok());
  ASSERT_TRUE(with_lora.value()->apply_lora(std::make_shared<gguf::File>(std::move(af.value()))).ok());
  auto merged_model = Model::load(merged_path);
  ASSERT_TRUE(merged_model.ok()) << merged_model.status().to_string();
  auto plain = Model::load(base_path);

  std::vector<int32_t> tokens = {1, 50, 60, 70, 80, 90, 100, 110};
  std::vector<float> la, lm, lp;
  Context ca(with_lora.value(), 64, 2), cm(merged_model.value(), 64, 2), cp(plain.value(), 64, 2);
  ASSERT_TRUE(ca.eval(tokens, true, &la).ok());
  ASSERT_TRUE(cm.eval(tokens, true, &lm).ok());
  ASSERT_TRUE(cp.eval(tokens, true, &lp).ok());
  const int64_t V = plain.value()->hparams().n_vocab;
  auto with_vs_merged = test::compare_logits(lm, la, V);
  auto plain_vs_merged = test::compare_logits(lm, lp, V);
  std::printf("KL(merged || lora) %.2e, KL(merged || no adapter) %.2e\n", with_vs_merged.mean_kl, plain_vs_merged.mean_kl);
  EXPECT_LT(with_vs_merged.mean_kl, 1e-4);
  EXPECT_GT(plain_vs_merged.mean_kl, 100 * with_vs_merged.mean_kl);  // the adapter really changes the model
  EXPECT_EQ(with_vs_merged.top1, 1.0);
  std::remove(adapter_path.c_str());
  std::remove(merged_path.c_str());
}

}  // namespace
}  // namespace hearth::model
