// Tokenizer behaviour beyond the shared vectors: special tokens, BOS/EOS
// flags, the pre-tokenizer registry, incremental detokenization and hostile
// input (invalid UTF-8, NULs, long runs, random bytes).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <unistd.h>

#include "common/shared_data.h"
#include "gguf/writer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

std::shared_ptr<const Tokenizer> load(const std::string& rel) {
  auto f = gguf::File::open(test::shared_path(rel));
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  auto t = Tokenizer::load(f.value());
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? t.value() : nullptr;
}

// A tokenizer from a GGUF file written here (w: its tokenizer.ggml.* keys).
std::shared_ptr<const Tokenizer> load_written(const gguf::Writer& w) {
  const auto path =
      std::filesystem::temp_directory_path() / ("hearth_tokenizer_test_" + std::to_string(::getpid()) + ".gguf");
  EXPECT_TRUE(w.write_file(path.string()).ok());
  auto f = gguf::File::open(path.string());
  std::filesystem::remove(path);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  if (!f.ok()) return nullptr;
  auto t = Tokenizer::load(f.value());
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? t.value() : nullptr;
}

TEST(Tokenizer, AddSpecialFollowsMetadata) {
  auto spm = load("vocab/ggml-vocab-llama-spm.gguf");
  auto ids = spm->encode("Hello", true, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), spm->vocab().bos);
  EXPECT_NE(ids.back(), spm->vocab().eos);  // add_eos_token is false
  EXPECT_EQ(spm->encode("", true, false), std::vector<TokenId>{spm->vocab().bos});
  EXPECT_TRUE(spm->encode("", false, false).empty());
  auto bert = load("vocab/ggml-vocab-bert-bge.gguf");
  auto b = bert->encode("hello world", true, false);
  EXPECT_EQ(b.front(), 101);  // [CLS]
  EXPECT_EQ(b.back(), 102);   // [SEP]
}

TEST(Tokenizer, SpecialTextParsedOnlyWhenAsked) {
  auto t = load("vocab/ggml-vocab-phi-3.gguf");
  TokenId end = t->vocab().find("<|end|>");
  ASSERT_NE(end, kNoToken);
  auto plain = t->encode("hi<|end|>", false, false);
  auto parsed = t->encode("hi<|end|>", false, true);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), end), 0);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), end), 1);
  EXPECT_EQ(t->decode(parsed, true), "hi<|end|>");
  EXPECT_EQ(t->decode(parsed, false), "hi");
  EXPECT_TRUE(t->is_eog(end));
}

TEST(Tokenizer, EveryPreTokenizerCompiles) {
  for (const std::string& name : pretokenizer_names()) {
    auto info = pretokenizer_info(name);
    ASSERT_TRUE(info.ok()) << name;
    auto s = RegexSplitter::compile(info->patterns);
    ASSERT_TRUE(s.ok()) << name << ": " << s.status().to_string();
    std::string text = "Hello, world! It's 2024: 12345 apples; 你好 ol\xC3\xA1   \n\n tabs\tend";
    std::string joined;
    for (const auto& w : s.value()->split(text)) joined += w;
    EXPECT_EQ(joined, text) << name;
  }
  EXPECT_GE(pretokenizer_names().size(), 30u);
}

TEST(Tokenizer, UnknownPreTokenizerIsAnError) {
  auto info = pretokenizer_info("no-such-family");
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("no-such-family"), std::string::npos);
}

TEST(Tokenizer, Llama3SplitsDigitsInThrees) {
  auto s = RegexSplitter::compile(pretokenizer_info("llama3")->patterns);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value()->split("1234567 I'm"), (std::vector<std::string>{"123", "456", "7", " I", "'m"}));
}

TEST(Tokenizer, IncrementalDetokenizerHoldsPartialUtf8) {
  auto t = load("vocab/ggml-vocab-llama-spm.gguf");
  // "🦙" is four byte tokens in this vocabulary.
  auto ids = t->encode("\xF0\x9F\xA6\x99", false, false);
  IncrementalDetokenizer d(*t, true);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string part = d.push(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_TRUE(part.empty() || incomplete_utf8_tail(part) == 0);
    }
    out += part;
  }
  out += d.flush();
  EXPECT_EQ(out, "\xF0\x9F\xA6\x99");
}

TEST(Tokenizer, HostileInputNeverCrashes) {
  std::vector<std::shared_ptr<const Tokenizer>> all = {
      load("vocab/ggml-vocab-llama-spm.gguf"), load("vocab/ggml-vocab-gpt-2.gguf"),
      load("vocab/ggml-vocab-bert-bge.gguf"), load("vocab/ggml-vocab-deepseek-coder.gguf")};
  std::mt19937 rng(7);
  std::vector<std::string> inputs = {std::string("\xFF\xFE\xC3(\xE2\x82", 7), std::string("a\0b\0", 4),
                                     std::string(1 << 20, 'a'), std::string(100000, ' ')};
  for (int k = 0; k < 20; ++k) {
    std::string r(1 + rng() % 300, '\0');
    for (char& c : r) c = static_cast<char>(rng());
    inputs.push_back(r);
  }
  for (const auto& t : all)
    for (const auto& in : inputs) {
      auto ids = t->encode(in, true, true);
      for (TokenId id : ids) ASSERT_TRUE(t->vocab().valid(id));
      (void)t->decode(ids, true);
      // Byte-level BPE without user-defined tokens is lossless even on invalid UTF-8.
      if (t == all[1]) {
        EXPECT_EQ(t->decode(t->encode(in, false, false)), in);
      }
    }
}

// Merges are looked up by token ids where both halves are tokens, by text
// where one is not (a merge may make a text that is no token, and a later
// merge may start from it); a final symbol that is no token becomes the
// byte tokens of its text.
TEST(Tokenizer, BpeMergesThroughTextsThatAreNoTokens) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.set("tokenizer.ggml.model", gguf::Value::of_string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::of_string("gpt-2"));
  w.set("tokenizer.ggml.tokens", gguf::Value::of_strings({"a", "b", "c", "d", "abc", "cd"}));
  w.set("tokenizer.ggml.merges", gguf::Value::of_strings({"a b", "ab c", "c d", "a b"}));
  auto t = load_written(w);
  ASSERT_TRUE(t);
  const Tokenizer& tok = *t;
  EXPECT_EQ(tok.encode("abcd", false, false), (std::vector<TokenId>{4, 3}));  // a+b (no token), ab+c = abc
  EXPECT_EQ(tok.encode("abd", false, false), (std::vector<TokenId>{0, 1, 3}));  // "ab" is no token: its bytes
  EXPECT_EQ(tok.encode("cdab", false, false), (std::vector<TokenId>{5, 0, 1}));
  std::vector<TokenId> run(8, 2);  // c c ... c cd
  run.push_back(5);
  EXPECT_EQ(tok.encode(std::string(9, 'c') + "d", false, false), run);
}

// partition with the index of which special texts occur must split exactly
// as matching every special token in turn does (the reference below), with
// hundreds of special tokens that overlap and share prefixes, one-byte ones,
// and phi-3's whitespace-eating (rstrip) tokens.
TEST(Tokenizer, PartitionSkipsOnlySpecialTokensNotInTheText) {
  using Runs = std::vector<std::pair<std::string, TokenId>>;
  auto reference = [](const Vocab& v, std::string_view text, bool parse_special) {
    std::vector<std::pair<std::string_view, TokenId>> out = {{text, kNoToken}};
    for (TokenId id : v.special_by_len) {
      const TokenData& td = v.tokens[id];
      if (!parse_special && v.is_control_or_unknown(id)) continue;
      std::vector<std::pair<std::string_view, TokenId>> next;
      for (const auto& frag : out) {
        if (frag.second != kNoToken) {
          next.push_back(frag);
          continue;
        }
        std::string_view rest = frag.first;
        for (;;) {
          size_t pos = rest.find(td.text);
          if (pos == std::string_view::npos) {
            if (!rest.empty()) next.push_back({rest, kNoToken});
            break;
          }
          if (pos > 0) next.push_back({rest.substr(0, pos), kNoToken});
          next.push_back({std::string_view(), id});
          rest = rest.substr(pos + td.text.size());
          if (td.rstrip)
            while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
        }
      }
      out = std::move(next);
    }
    Runs r;
    for (const auto& [t, id] : out) r.emplace_back(std::string(t), id);
    return r;
  };
  for (const char* name : {"test", "phi-3 test"}) {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "a", "b", "|", "<", ">", " ", "<|", "<|a|>", "a|>", "x",
                                       "\xC2\xA7", "<|a", "|><|"};
    std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 4, 4, 4, 4, 3};
    for (int i = 0; i < 300; ++i) {
      tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
      types.push_back(i % 2 ? 3 : 4);
    }
    gguf::Writer w;
    w.set("general.architecture", gguf::Value::of_string("llama"));
    w.set("general.name", gguf::Value::of_string(name));
    w.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
    w.set("tokenizer.ggml.tokens", gguf::Value::of_strings(tokens));
    w.set("tokenizer.ggml.scores", gguf::Value::of_f32s(std::vector<float>(tokens.size(), 0.0f)));
    w.set("tokenizer.ggml.token_type", gguf::Value::of_i32s(types));
    auto t = load_written(w);
    ASSERT_TRUE(t);
    const Tokenizer& tok = *t;
    ASSERT_GT(tok.vocab().special_by_len.size(), 300u);
    const std::vector<std::string> parts = {"<|", "a", "|>", "<", "x", "\xC2\xA7", " ", "  ", "<|a|>", "<|reserved_7|>",
                                            "b", "<|reserved_", "12|>", "\xC2", "</s>", "<s>"};
    std::mt19937 rng(11);
    for (int k = 0; k < 3000; ++k) {
      std::string text;
      for (int n = 1 + rng() % 12; n > 0; --n) text += parts[rng() % parts.size()];
      for (bool parse_special : {false, true}) {
        std::vector<std::pair<std::string_view, TokenId>> got;
        tok.partition(text, parse_special, &got);
        Runs g;
        for (const auto& [s, id] : got) g.emplace_back(std::string(s), id);
        ASSERT_EQ(g, reference(tok.vocab(), text, parse_special)) << name << ": '" << text << "' " << parse_special;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::tokenizer
