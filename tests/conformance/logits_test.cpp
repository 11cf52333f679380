// Conformance: hearth's logits against the independent reference engine, for
// every llama/qwen2 model and prompt in ../shared/reference, in one batch and
// one token at a time (mean KL <= 0.01, top-1 agreement >= 0.90).
#include <gtest/gtest.h>

#include "common/shared_data.h"
#include "model/model.h"
#include "sampling/params.h"

namespace hearth {
namespace {

struct Case {
  std::string model, prompt;
};

std::vector<Case> all_cases() {
  std::vector<Case> out;
  std::string dir = test::shared_dir() + "/reference";
  if (!std::filesystem::exists(dir)) return {{"MISSING", "MISSING"}};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() < 5 || name.substr(name.size() - 5) != ".json" || name.find("bert") != std::string::npos) continue;
    std::string stem = name.substr(0, name.size() - 5);
    size_t dot = stem.rfind('.');
    out.push_back({stem.substr(0, dot), stem.substr(dot + 1)});
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.model + a.prompt < b.model + b.prompt; });
  return out;
}

class LogitsConformance : public ::testing::TestWithParam<Case> {};

TEST_P(LogitsConformance, MatchesReference) {
  const Case& c = GetParam();
  ASSERT_NE(c.model, "MISSING") << "shared reference folder missing: " << test::shared_dir();
  std::string base = "reference/" + c.model + "." + c.prompt;
  auto ref = test::read_json(test::shared_path(base + ".json"));
  std::vector<float> ref_logits = test::read_f32(test::shared_path(base + ".logits.f32"));
  auto m = model::Model::load(test::shared_path("models/" + c.model + ".gguf"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  int64_t n_vocab = ref["n_vocab"];
  ASSERT_EQ(m.value()->hparams().n_vocab, n_vocab);
  std::vector<int32_t> tokens = ref["prompt_tokens"].get<std::vector<int32_t>>();
  ASSERT_EQ(ref_logits.size(), tokens.size() * n_vocab);

  model::Context batch_ctx(m.value(), 0, 2);
  std::vector<float> logits;
  ASSERT_TRUE(batch_ctx.eval(tokens, true, &logits).ok());
  auto a = test::compare_logits(ref_logits, logits, n_vocab);
  EXPECT_LE(a.mean_kl, 0.01) << "batch";
  EXPECT_GE(a.top1, 0.90) << "batch";

  model::Context seq_ctx(m.value(), 0, 2);
  std::vector<float> seq, step;
  for (int32_t t : tokens) {
    ASSERT_TRUE(seq_ctx.eval(std::span<const int32_t>(&t, 1), false, &step).ok());
    seq.insert(seq.end(), step.begin(), step.end());
  }
  auto b = test::compare_logits(ref_logits, seq, n_vocab);
  EXPECT_LE(b.mean_kl, 0.01) << "one by one";
  EXPECT_GE(b.top1, 0.90) << "one by one";
  std::printf("%s.%s: batch KL %.6f top1 %.3f | one-by-one KL %.6f top1 %.3f\n", c.model.c_str(), c.prompt.c_str(),
              a.mean_kl, a.top1, b.mean_kl, b.top1);
}

INSTANTIATE_TEST_SUITE_P(Shared, LogitsConformance, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n = i.param.model + "_" + i.param.prompt;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// The trained model's greedy 64-token continuation of `dream` is exact.
TEST(GreedyConformance, AidreamsDreamMatchesReference) {
  auto ref = test::read_json(test::shared_path("reference/aidreams260K.dream.json"));
  auto m = model::Model::load(test::shared_path("models/aidreams260K.gguf"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  std::vector<int32_t> batch = ref["prompt_tokens"].get<std::vector<int32_t>>();
  std::vector<int32_t> expect = ref["greedy_tokens"].get<std::vector<int32_t>>();
  model::Context ctx(m.value(), 0, 2);
  std::vector<float> logits;
  std::vector<int32_t> got;
  sampling::SamplingParams greedy;
  greedy.temperature = 0;
  sampling::SamplerChain chain(greedy, static_cast<int32_t>(m.value()->hparams().n_vocab));
  for (size_t i = 0; i < expect.size(); ++i) {
    ASSERT_TRUE(ctx.eval(batch, false, &logits).ok());
    int32_t next = chain.sample(logits, got);
    got.push_back(next);
    batch.assign(1, next);
  }
  EXPECT_EQ(got, expect);
}

}  // namespace
}  // namespace hearth
