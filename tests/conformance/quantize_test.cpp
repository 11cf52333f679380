// `hearth quantize` quality: quantizing the F16 synth-llama-spm512 model to each
// type must give logits whose mean KL against the F16 reference is no worse
// than 1.2x that of the reference engine's own file of the same type.
#include <gtest/gtest.h>

#include <unistd.h>

#include "common/shared_data.h"
#include "model/model.h"
#include "model/quantize.h"

namespace hearth {
namespace {

struct QCase {
  const char* type;      // what we quantize to (--pure: every weight in it)
  const char* ref_file;  // the reference engine's file of that type
};

class QuantizeQuality : public ::testing::TestWithParam<QCase> {};

double mean_kl_for(const std::string& model_path, const std::string& prompt, std::vector<float>* f16_ref) {
  auto ref = test::read_json(test::shared_path("reference/synth-llama-spm512-F16." + prompt + ".json"));
  *f16_ref = test::read_f32(test::shared_path("reference/synth-llama-spm512-F16." + prompt + ".logits.f32"));
  auto m = model::Model::load(model_path);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return 1e9;
  model::Context ctx(m.value(), 0, 2);
  std::vector<float> logits;
  EXPECT_TRUE(ctx.eval(ref["prompt_tokens"].get<std::vector<int32_t>>(), true, &logits).ok());
  return test::compare_logits(*f16_ref, logits, ref["n_vocab"]).mean_kl;
}

TEST_P(QuantizeQuality, NoWorseThanReferenceFile) {
  const QCase& c = GetParam();
  std::string out = ::testing::TempDir() + "hearth-q-" + c.type + "-" + std::to_string(getpid()) + ".gguf";
  model::QuantizeOptions o;
  o.type = c.type;
  o.pure = true;
  o.n_threads = 2;
  Status s = model::quantize_file(test::shared_path("models/synth-llama-spm512-F16.gguf"), out, o);
  ASSERT_TRUE(s.ok()) << s.to_string();
  for (const char* prompt : {"english", "mixed"}) {
    std::vector<float> f16;
    double ours = mean_kl_for(out, prompt, &f16);
    auto theirs_logits = test::read_f32(test::shared_path(std::string("reference/") + c.ref_file + "." + prompt + ".logits.f32"));
    auto ref = test::read_json(test::shared_path(std::string("reference/") + c.ref_file + "." + prompt + ".json"));
    double theirs = test::compare_logits(f16, theirs_logits, ref["n_vocab"]).mean_kl;
    std::printf("%s %s: hearth KL %.5f, reference file KL %.5f\n", c.type, prompt, ours, theirs);
    EXPECT_LE(ours, 1.2 * theirs) << c.type << " " << prompt;
  }
  std::remove(out.c_str());
}

INSTANTIATE_TEST_SUITE_P(Types, QuantizeQuality,
                         ::testing::Values(QCase{"Q4_0", "synth-llama-spm512-Q4_0"}, QCase{"Q4_1", "synth-llama-spm512-Q4_1"},
                                           QCase{"Q5_0", "synth-llama-spm512-Q5_0"}, QCase{"Q5_1", "synth-llama-spm512-Q5_1"},
                                           QCase{"Q8_0", "synth-llama-spm512-Q8_0"}, QCase{"Q2_K", "synth-llama-spm512-Q2_K"},
                                           QCase{"Q3_K_M", "synth-llama-spm512-Q3_K_M"}, QCase{"Q4_K_M", "synth-llama-spm512-Q4_K_M"},
                                           QCase{"Q5_K_M", "synth-llama-spm512-Q5_K_M"}, QCase{"Q6_K", "synth-llama-spm512-Q6_K"}),
                         [](const ::testing::TestParamInfo<QCase>& i) { return std::string(i.param.type); });

TEST(QuantizeRecipe, MixesKeepSensitiveTensorsAtHigherPrecision) {
  auto r = model::parse_quant_type("q4_k_m");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->base, DType::kQ4_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "output.weight", 2, 256, -1, 22, true), DType::kQ6_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.0.attn_v.weight", 2, 256, 0, 22, true), DType::kQ6_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.5.attn_v.weight", 2, 256, 5, 22, true), DType::kQ4_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.5.attn_q.weight", 2, 256, 5, 22, true), DType::kQ4_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.5.attn_norm.weight", 1, 256, 5, 22, true), DType::kF32);
  EXPECT_EQ(model::choose_tensor_type(*r, true, "output.weight", 2, 256, -1, 22, true), DType::kQ4_K);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.1.ffn_down.weight", 2, 100, 1, 22, true), DType::kF16);
  EXPECT_EQ(model::choose_tensor_type(*r, false, "blk.5.ffn_up.weight", 2, 128, 5, 22, true), DType::kQ5_0);
  EXPECT_FALSE(model::parse_quant_type("Q7_0").ok());
  EXPECT_FALSE(model::parse_quant_type("Q6_K_M").ok());
}

}  // namespace
}  // namespace hearth
