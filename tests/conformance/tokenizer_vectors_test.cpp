// Conformance: every tokenizer test vector in ../shared/vocab matches exactly
// (no BOS/EOS, special text not parsed), round trips where the tokenizer is
// lossless, and the incremental detokenizer agrees with the one-shot one.
// Also: each model with a reference tokenizes its prompt to `prompt_tokens`.
#include <gtest/gtest.h>

#include <sstream>

#include "common/shared_data.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

struct VocabCase {
  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::vector<TokenId>> expected;
};

std::vector<std::string> split_inputs(const std::string& all) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = all.find(sep, start);
    if (p == std::string::npos) break;
    out.push_back(all.substr(start, p - start));
    start = p + sep.size();
  }
  return out;
}

std::vector<std::string> vocab_names() {
  std::vector<std::string> out;
  std::string dir = test::shared_dir() + "/vocab";
  if (!std::filesystem::exists(dir)) return {"MISSING"};
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.size() > 5 && n.substr(n.size() - 5) == ".gguf") out.push_back(n.substr(0, n.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

class TokenizerVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerVectors, MatchExactly) {
  const std::string& name = GetParam();
  ASSERT_NE(name, "MISSING") << "shared vocab folder missing";
  std::string base = "vocab/" + name + ".gguf";
  auto f = gguf::File::open(test::shared_path(base));
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto tok = Tokenizer::load(f.value());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  std::vector<uint8_t> inp = test::read_bytes(test::shared_path(base + ".inp"));
  std::vector<std::string> inputs = split_inputs(std::string(inp.begin(), inp.end()));
  std::ifstream out(test::shared_path(base + ".out"));
  std::string line;
  size_t i = 0, failures = 0;
  const bool lossless = tok.value()->vocab().model != "bert";
  for (; i < inputs.size() && std::getline(out, line); ++i) {
    std::vector<TokenId> expect;
    std::istringstream ls(line);
    for (TokenId id; ls >> id;) expect.push_back(id);
    std::vector<TokenId> got = tok.value()->encode(inputs[i], false, false);
    if (got != expect && failures++ < 10) {
      std::string g, e;
      for (auto x : got) g += " " + std::to_string(x);
      for (auto x : expect) e += " " + std::to_string(x);
      ADD_FAILURE() << name << " input " << i << " '" << inputs[i] << "'\n  expected:" << e << "\n  got:     " << g;
    }
    std::string one_shot = tok.value()->decode(got);
    IncrementalDetokenizer inc(*tok.value(), true);
    std::string streamed;
    for (TokenId id : got) {
      std::string part = inc.push(id);
      // never a partial UTF-8 sequence at the end of an emitted chunk
      EXPECT_EQ(incomplete_utf8_tail(streamed + part), 0u);
      streamed += part;
    }
    streamed += inc.flush();
    EXPECT_EQ(streamed, one_shot) << name << " input " << i;
    if (lossless) {
      EXPECT_EQ(one_shot, inputs[i]) << name << " round trip of input " << i;
    }
  }
  EXPECT_EQ(i, inputs.size()) << "fewer expected lines than inputs";
  EXPECT_GT(i, 10u);
}

INSTANTIATE_TEST_SUITE_P(Shared, TokenizerVectors, ::testing::ValuesIn(vocab_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

// Every model with a reference tokenizes the matching prompt (BOS as its
// metadata says) to the reference prompt_tokens.
TEST(TokenizerPrompts, MatchReferencePromptTokens) {
  std::string dir = test::shared_dir() + "/reference";
  ASSERT_TRUE(std::filesystem::exists(dir));
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.size() < 5 || n.substr(n.size() - 5) != ".json") continue;
    auto ref = test::read_json(e.path().string());
    if (!ref.contains("prompt_tokens")) continue;
    std::string stem = n.substr(0, n.size() - 5);
    std::string model = stem.substr(0, stem.rfind('.')), prompt = stem.substr(stem.rfind('.') + 1);
    auto f = gguf::File::open(test::shared_path("models/" + model + ".gguf"));
    ASSERT_TRUE(f.ok());
    auto tok = Tokenizer::load(f.value());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    std::vector<uint8_t> text = test::read_bytes(test::shared_path("prompts/" + prompt + ".txt"));
    auto got = tok.value()->encode(std::string(text.begin(), text.end()), true, false);
    EXPECT_EQ(got, ref["prompt_tokens"].get<std::vector<TokenId>>()) << stem;
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace hearth::tokenizer
