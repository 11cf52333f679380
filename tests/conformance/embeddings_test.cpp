// Conformance: embeddings of ../shared/prompts/sentences.txt from the BERT
// model match the reference (cosine >= 0.999 each), for mean and CLS pooling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/shared_data.h"
#include "model/bert.h"
#include "model/synth.h"
#include "tokenizer/tokenizer.h"

namespace hearth::model {
namespace {

double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(EmbeddingConformance, BertMatchesReference) {
  auto f = gguf::File::open(test::shared_path("models/synth-bert-wordpiece-F16.gguf"));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto file = std::make_shared<gguf::File>(std::move(f.value()));
  auto m = BertModel::from_file(file);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto tok = tokenizer::Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok());
  std::ifstream in(test::shared_path("prompts/sentences.txt"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  Workspace ws(2);
  for (auto [pool, name] : {std::pair{Pooling::kMean, "mean"}, {Pooling::kCls, "cls"}}) {
    auto ref = test::read_json(test::shared_path(std::string("reference/synth-bert-wordpiece-F16.sentences.") + name + ".json"));
    ASSERT_EQ(ref["data"].size(), lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      auto ids = tok.value()->encode(lines[i], true, false);
      auto e = m.value()->embed(ws, ids, pool);
      ASSERT_TRUE(e.ok()) << e.status().to_string();
      auto want = ref["data"][i]["embedding"].get<std::vector<double>>();
      ASSERT_EQ(e->size(), want.size());
      double c = cosine(e.value(), want);
      EXPECT_GE(c, 0.999) << name << " sentence " << i << ": " << lines[i];
    }
  }
}

// `hearth synth --arch bert` writes an encoder BertModel loads; its
// embeddings are finite, of the model's width, and the same with 1 and 2
// threads (the row operations are split over the tokens).
TEST(EmbeddingConformance, SynthBertLoadsAndEmbeds) {
  SynthOptions o;
  o.arch = "bert";
  o.dim = 96;
  o.layers = 2;
  o.heads = 3;  // 32-value heads, as all-MiniLM's
  o.ffn = 192;
  o.ctx = 64;
  o.vocab_from = test::shared_path("models/synth-bert-wordpiece-F16.gguf");
  const std::string path = ::testing::TempDir() + "/synth-bert.gguf";
  ASSERT_TRUE(synth_model(o, path).ok());
  auto f = gguf::File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto m = BertModel::from_file(std::make_shared<gguf::File>(std::move(f.value())));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(1000 + 37 * i);
  Workspace one(1), two(2);
  auto a = m.value()->embed(one, ids, Pooling::kMean), b = m.value()->embed(two, ids, Pooling::kMean);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 96u);
  for (float v : a.value()) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(a.value(), b.value());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hearth::model
