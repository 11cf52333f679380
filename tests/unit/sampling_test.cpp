// Each sampler's effect on hand-made distributions, seeded determinism, stop
// strings across token boundaries, and log-probabilities.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "sampling/json_grammar.h"
#include "sampling/json_schema.h"
#include "sampling/params.h"
#include "sampling/stop.h"

namespace hearth::sampling {
namespace {

// Candidates with the given probabilities (logits = log p).
Candidates from_probs(const std::vector<float>& p) {
  Candidates c;
  for (size_t i = 0; i < p.size(); ++i) c.items.push_back({static_cast<int32_t>(i), std::log(p[i]), 0});
  return c;
}

std::vector<int32_t> ids(const Candidates& c) {
  std::vector<int32_t> out;
  for (const auto& x : c.items) out.push_back(x.id);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Samplers, TopKKeepsTheKMostLikely) {
  auto c = from_probs({0.1f, 0.4f, 0.2f, 0.3f});
  apply_top_k(c, 2);
  EXPECT_EQ(ids(c), (std::vector<int32_t>{1, 3}));
  auto d = from_probs({0.5f, 0.5f});
  apply_top_k(d, 0);  // disabled
  EXPECT_EQ(d.items.size(), 2u);
}

TEST(Samplers, TopPKeepsTheSmallestSetReachingP) {
  auto c = from_probs({0.5f, 0.3f, 0.15f, 0.05f});
  apply_top_p(c, 0.79f);  // 0.5 + 0.3 reaches 0.79
  EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1}));
  auto d = from_probs({0.5f, 0.3f, 0.15f, 0.05f});
  apply_top_p(d, 0.81f);
  EXPECT_EQ(ids(d), (std::vector<int32_t>{0, 1, 2}));
}

TEST(Samplers, MinPDropsTokensBelowPTimesMax) {
  auto c = from_probs({0.5f, 0.3f, 0.15f, 0.05f});
  apply_min_p(c, 0.3f);  // threshold 0.15: keeps 0.5, 0.3, 0.15
  EXPECT_EQ(ids(c), (std::vector<int32_t>{0, 1, 2}));
  auto d = from_probs({0.5f, 0.3f, 0.15f, 0.05f});
  apply_min_p(d, 0.31f);
  EXPECT_EQ(ids(d), (std::vector<int32_t>{0, 1}));
}

TEST(Samplers, PenaltiesChangeExactlyTheTokensInTheWindow) {
  Candidates c;
  c.items = {{0, 2.0f, 0}, {1, -2.0f, 0}, {2, 2.0f, 0}, {3, 1.0f, 0}};
  std::vector<int32_t> window = {0, 1, 1};
  apply_penalties(c, window, 2.0f, 0.5f, 0.25f);
  std::map<int32_t, float> l;
  for (const auto& x : c.items) l[x.id] = x.logit;
  EXPECT_FLOAT_EQ(l[0], 2.0f / 2 - 1 * 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(l[1], -2.0f * 2 - 2 * 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(l[2], 2.0f);  // not in the window
  EXPECT_FLOAT_EQ(l[3], 1.0f);
}

// Penalties and logit bias find candidates by index while they are in id
// order and by search otherwise (after sorting or truncation): the same
// logits either way, window tokens missing from the candidates ignored.
TEST(Samplers, PenaltiesAndBiasEqualInIdOrderAndShuffled) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  Candidates in_order;
  for (int32_t i = 0; i < 1000; ++i) in_order.items.push_back({i, nd(rng), 0});
  const Candidates original = in_order;
  Candidates shuffled = in_order;
  std::shuffle(shuffled.items.begin(), shuffled.items.end(), rng);
  Candidates truncated = in_order;
  truncated.items.resize(500);  // ids 500.. gone
  std::vector<int32_t> window;
  for (int i = 0; i < 60; ++i) window.push_back(static_cast<int32_t>(4 + rng() % 996));
  const std::unordered_map<int32_t, float> bias = {{3, 2.5f}, {700, -1.0f}, {999, 4.0f}};
  for (Candidates* c : {&in_order, &shuffled, &truncated}) {
    apply_penalties(*c, window, 1.3f, 0.2f, 0.1f);
    apply_logit_bias(*c, bias);
  }
  std::map<int32_t, float> a, b;
  for (const auto& x : in_order.items) a[x.id] = x.logit;
  for (const auto& x : shuffled.items) b[x.id] = x.logit;
  EXPECT_EQ(a, b);
  for (const auto& x : truncated.items) EXPECT_EQ(x.logit, a[x.id]) << x.id;
  EXPECT_NE(a[window[0]], original.items[static_cast<size_t>(window[0])].logit);  // penalized
  EXPECT_FLOAT_EQ(a[3], original.items[3].logit + 2.5f) << "3 is biased, not in the window";
}

TEST(Samplers, LogitBiasAndTemperature) {
  Candidates c;
  c.items = {{0, 1.0f, 0}, {1, 2.0f, 0}};
  apply_logit_bias(c, {{0, 5.0f}, {1, -INFINITY}});
  EXPECT_EQ(sample_greedy(c), 0);
  apply_temperature(c, 2.0f);
  EXPECT_FLOAT_EQ(c.items[0].logit, 3.0f);
}

TEST(Samplers, TypicalKeepsTokensNearTheEntropy) {
  // Entropy 0.94 nats: token 0 (surprise 0.36) is closer to it than the rest
  // (2.30), so it comes first; mass 0.75 then needs one more token.
  auto c = from_probs({0.7f, 0.1f, 0.1f, 0.1f});
  apply_typical(c, 0.75f);
  ASSERT_EQ(c.items.size(), 2u);
  EXPECT_EQ(ids(c)[0], 0);
  // A uniform tail with one very unlikely token: the outlier goes first.
  auto d = from_probs({0.3f, 0.3f, 0.3f, 0.1f});
  apply_typical(d, 0.5f);
  for (const auto& x : d.items) EXPECT_NE(x.id, 3);
}

TEST(Samplers, TailFreeCutsTheFlatTail) {
  auto c = from_probs({0.6f, 0.3f, 0.04f, 0.03f, 0.02f, 0.01f});
  apply_tail_free(c, 0.5f);
  EXPECT_LT(c.items.size(), 6u);
  EXPECT_GE(c.items.size(), 1u);
  EXPECT_EQ(c.items[0].id, 0);
}

TEST(Samplers, MirostatV2TruncatesBySurprise) {
  std::mt19937_64 rng(1);
  auto c = from_probs({0.9f, 0.05f, 0.03f, 0.02f});
  float mu = 0.5f;  // only tokens with surprise <= 0.5 bits: p >= 0.707
  EXPECT_EQ(sample_mirostat_v2(c, 5.0f, 0.1f, mu, rng), 0);
  EXPECT_GT(mu, 0.5f);  // observed surprise below tau raises mu
}

TEST(SamplerChain, SameSeedSameTokens) {
  std::vector<float> logits(64);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i)) * 3;
  SamplingParams p;
  p.seed = 1234;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1.0f;
  SamplerChain a(p, 64), b(p, 64);
  std::vector<int32_t> ha, hb;
  for (int i = 0; i < 50; ++i) {
    ha.push_back(a.sample(logits, ha));
    hb.push_back(b.sample(logits, hb));
  }
  EXPECT_EQ(ha, hb);
  std::set<int32_t> distinct(ha.begin(), ha.end());
  EXPECT_GT(distinct.size(), 3u);  // actually sampling
  p.temperature = 0;
  SamplerChain g(p, 64);
  EXPECT_EQ(g.sample(logits, ha), static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
}

// Top-p, min-p and the draw sort only the prefix they need
// (Candidates::walk_mass): the same tokens in the same order, and the same
// draws, as over candidates sorted in full first.
TEST(Samplers, PartialSortingAgreesWithAFullSort) {
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Candidates base;
  for (int32_t i = 0; i < 5000; ++i) base.items.push_back({i, nd(rng), 0});
  base.items[17].logit = base.items[18].logit;  // a tie, broken by id
  auto in_order = [](const Candidates& c) {
    std::vector<int32_t> out;
    for (const auto& x : c.items) out.push_back(x.id);
    return out;
  };
  for (float p : {0.3f, 0.9f, 0.999f}) {
    Candidates partial = base, full = base;
    full.sort_desc();
    apply_top_p(partial, p);
    apply_top_p(full, p);
    EXPECT_EQ(in_order(partial), in_order(full)) << "top_p " << p;
    EXPECT_GT(partial.items.size(), 1u);
    partial = base, full = base;
    full.sort_desc();
    apply_min_p(partial, p / 10);
    apply_min_p(full, p / 10);
    EXPECT_EQ(in_order(partial), in_order(full)) << "min_p " << p / 10;
  }
  std::set<int32_t> drawn;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Candidates partial = base, full = base;
    full.sort_desc();
    std::mt19937_64 r1(seed), r2(seed);
    const int32_t a = sample_distribution(partial, r1);
    EXPECT_EQ(a, sample_distribution(full, r2)) << "seed " << seed;
    drawn.insert(a);
  }
  EXPECT_GT(drawn.size(), 20u);  // the draws reach past the first sorted prefix
}

// A NaN logit is never chosen while another token can be, by any path.
TEST(SamplerChain, NanLogitsAreNeverChosen) {
  std::vector<float> logits(3000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = i % 3 ? std::sin(static_cast<float>(i)) * 3 : NAN;
  for (int top_k : {0, 40})
    for (float temperature : {0.0f, 0.8f}) {
      SamplingParams p;
      p.seed = 5;
      p.top_k = top_k;
      p.temperature = temperature;
      SamplerChain chain(p, static_cast<int32_t>(logits.size()));
      std::vector<int32_t> history;
      for (int i = 0; i < 30; ++i) {
        const int32_t id = chain.sample(logits, history);
        ASSERT_FALSE(std::isnan(logits[static_cast<size_t>(id)])) << "top_k " << top_k << " temperature " << temperature;
        history.push_back(id);
      }
    }
}

TEST(SamplerChain, ValidationNamesTheField) {
  SamplingParams p;
  p.top_p = 1.5f;
  EXPECT_NE(p.validate(10).message().find("top_p"), std::string::npos);
  p = SamplingParams();
  p.logit_bias[99] = 1;
  EXPECT_NE(p.validate(10).message().find("logit_bias"), std::string::npos);
  p = SamplingParams();
  EXPECT_TRUE(set_option(p, "temperature", "0.5").ok());
  EXPECT_FLOAT_EQ(p.temperature, 0.5f);
  EXPECT_FALSE(set_option(p, "top_k", "many").ok());
  EXPECT_EQ(set_option(p, "num_ctx", "4").code(), StatusCode::kNotFound);
}

TEST(StopMatcher, MatchesAcrossTokensAndNeverEmitsStopText) {
  StopMatcher m({"END", "\n\n"});
  std::string out;
  for (const char* piece : {"Hello E", "N", "ough", " text E", "ND trailing"}) out += m.push(piece);
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(out, "Hello ENough text ");
  EXPECT_EQ(m.matched(), "END");
  StopMatcher n({"###"});
  std::string o2 = n.push("a#");
  o2 += n.push("#b");
  EXPECT_FALSE(n.stopped());
  o2 += n.flush();
  EXPECT_EQ(o2, "a##b");
}

TEST(Logprobs, LogSoftmaxAndTopAlternatives) {
  std::vector<float> logits = {0.0f, std::log(3.0f), 0.0f, 0.0f};  // p = 1/6, 1/2, 1/6, 1/6
  auto r = compute_logprobs(logits, 1, 2);
  EXPECT_NEAR(r.logprob, std::log(0.5), 1e-5);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0].id, 1);
  EXPECT_EQ(r.top[1].id, 0);
  EXPECT_NEAR(r.top[1].logprob, std::log(1.0 / 6), 1e-5);
}


// JSON mode's recognizer: whole documents, byte by byte and in one piece.
TEST(JsonGrammar, AcceptsObjectsAndRejectsEverythingElse) {
  const char* good[] = {
      "{}", " {\n}", R"({"a":1})", R"({"a": -0.5e+10, "b": [true, false, null, [], {}], "c": "x\"\\\/\b\f\n\r\t\u00e9"})",
      R"({"nested": {"deep": [[1, 2], [3, {"k": "v"}]]}, "n": 0, "m": 12.25E-3})", "{\"utf8\": \"caf\xc3\xa9\"}",
      "{}\n  ", "{\n\t\"a\": [\n    1,\n    2\n  ]\n}",
  };
  for (const char* doc : good) {
    JsonGrammar whole;
    EXPECT_TRUE(whole.accept(doc)) << doc;
    EXPECT_TRUE(whole.complete()) << doc;
    JsonGrammar bytes;
    for (const char* p = doc; *p; ++p) ASSERT_TRUE(bytes.accept(std::string_view(p, 1))) << doc << " at " << (p - doc);
    EXPECT_TRUE(bytes.complete()) << doc;
  }
  const char* bad[] = {
      "[]", "1", "\"s\"", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}",
      "{\"a\":1e}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":[1,]}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}",
      "{\"a\":\"line\nbreak\"}", "{}}", "{} x", "{\"a\":1]", "{\"a\":[1}", "{,}", "{\"a\"::1}",
  };
  for (const char* doc : bad) {
    JsonGrammar g;
    EXPECT_FALSE(g.accept(doc) && g.complete()) << doc;
  }
  // Prefixes are accepted but not complete; a refused piece leaves the state.
  JsonGrammar g;
  EXPECT_TRUE(g.accept("{\"a\": [1, 2"));
  EXPECT_FALSE(g.complete());
  EXPECT_FALSE(g.can_accept("}"));
  EXPECT_FALSE(g.accept("]]"));
  EXPECT_TRUE(g.accept("]}"));
  EXPECT_TRUE(g.complete());
  EXPECT_FALSE(g.can_accept("{"));
}

TEST(JsonGrammar, WhitespaceIsOneSpaceOrANewlineAndIndentation) {
  JsonGrammar g;
  EXPECT_TRUE(g.accept("{"));
  EXPECT_TRUE(g.can_accept("\n" + std::string(JsonGrammar::kMaxIndent, ' ') + "}"));
  EXPECT_FALSE(g.can_accept("\n" + std::string(JsonGrammar::kMaxIndent + 1, ' ') + "}"));
  EXPECT_FALSE(g.can_accept("\n\n"));
  EXPECT_FALSE(g.can_accept("  "));
  EXPECT_FALSE(g.can_accept(" \n"));
  EXPECT_FALSE(g.can_accept("\t"));
  EXPECT_FALSE(g.can_accept("\r\n"));
  EXPECT_TRUE(g.accept("\n\t\"k\": 1 }"));
  EXPECT_TRUE(g.complete());
  EXPECT_TRUE(JsonGrammar().can_accept(" {"));
  EXPECT_FALSE(JsonGrammar().can_accept("  {"));
  // Inside strings whitespace is text.
  JsonGrammar s;
  EXPECT_TRUE(s.accept("{\"k\": \"" + std::string(100, ' ') + "\\n\"}"));
}

// The chain under the constraint: whatever the logits prefer, the sampled
// text is a JSON object, and the end token comes only after it is closed.
TEST(SamplerChain, JsonConstraintKeepsTheOutputJson) {
  auto pieces = std::make_shared<std::vector<std::string>>(std::vector<std::string>{
      "", "{", "}", "\"", "a", ":", "1", " ", "Sure! ", "[", "]", ",", "\n", "<ctl>"});
  (*pieces)[13] = "";  // a control token: never allowed
  const int32_t kEnd = 0;
  int n_ended = 0;
  for (float temperature : {0.0f, 0.8f}) {
    for (int seed = 0; seed < 20; ++seed) {
      SamplingParams p;
      p.temperature = temperature;
      p.seed = seed;
      p.repeat_penalty = 1.0f;
      SamplerChain chain(p, static_cast<int32_t>(pieces->size()));
      chain.constrain(std::make_unique<JsonConstraint>(pieces, [](int32_t id) { return id == kEnd; }));
      std::mt19937 rng(static_cast<uint32_t>(seed));
      std::string text;
      bool ended = false;
      std::vector<int32_t> history;
      for (int step = 0; step < 200 && !ended; ++step) {
        std::vector<float> logits(pieces->size());
        for (auto& l : logits) l = std::uniform_real_distribution<float>(-2, 2)(rng);
        logits[8] = 10;   // "Sure! ": the model's favourite, never valid
        logits[13] = 12;  // the control token
        logits[kEnd] = step < 3 ? 11 : 1;  // ending early is not allowed
        const int32_t t = chain.sample(logits, history);
        history.push_back(t);
        if (t == kEnd) ended = true;
        else text += (*pieces)[static_cast<size_t>(t)];
      }
      JsonGrammar check;
      EXPECT_TRUE(check.accept(text)) << text;
      if (ended) {
        EXPECT_TRUE(check.complete()) << text;
        ++n_ended;
      }
    }
  }
  EXPECT_GT(n_ended, 20);  // once the object is closed only whitespace (capped) and the end follow
}

std::shared_ptr<const JsonSchema> schema_of(const char* text) {
  auto s = JsonSchema::compile(nlohmann::json::parse(text), "format");
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().message();
  return s.ok() ? s.value() : JsonSchema::any_object();
}

bool matches(const std::shared_ptr<const JsonSchema>& schema, const std::string& doc) {
  JsonGrammar whole(schema);
  const bool ok = whole.accept(doc) && whole.complete();
  JsonGrammar bytes(schema);  // byte by byte agrees with the whole
  bool each = true;
  for (char c : doc) each = each && bytes.accept(std::string_view(&c, 1));
  EXPECT_EQ(ok, each && bytes.complete()) << doc;
  return ok;
}

TEST(JsonSchema, TypesPropertiesRequiredItemsAndEnums) {
  auto person = schema_of(R"({"type": "object", "title": "Person", "additionalProperties": false,
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                   "color": {"enum": ["red", "green"]}, "ok": {"type": ["boolean", "null"]}},
    "required": ["name", "age"]})");
  for (const char* good : {R"({"name":"Al","age":30})", R"({ "age": -1, "name": "x", "tags": ["a", "b"], "color": "green", "ok": null })",
                           R"({"name":"","age":0,"ok":true,"tags":[]})"})
    EXPECT_TRUE(matches(person, good)) << good;
  for (const char* bad : {R"({"name":"Al"})", R"({"name":"Al","age":3.5})", R"({"name":"Al","age":1e3})", R"({"name":1,"age":1})",
                          R"({"nam":"x","age":1})", R"({"extra":1,"name":"x","age":1})", R"({"name":"a","name":"b","age":1})",
                          R"({"name":"x","age":1,"tags":["a","b","c"]})", R"({"name":"x","age":1,"color":"blue"})",
                          R"({"name":"x","age":1,"ok":"yes"})", R"(["name"])"})
    EXPECT_FALSE(matches(person, bad)) << bad;
  // With every property seen and no others allowed, only the close follows.
  JsonGrammar g(person);
  ASSERT_TRUE(g.accept(R"({"name":"x","age":1,"tags":[],"color":"red","ok":false)"));
  EXPECT_FALSE(g.can_accept(","));
  EXPECT_TRUE(g.can_accept("}"));

  auto n = schema_of(R"({"properties": {"n": {"enum": [1, 10, "a b"]}}})");
  for (const char* good : {R"({"n":1})", R"({"n":10})", R"({"n": 10 })", R"({"n":"a b"})", R"({"n":1,"other":[{}]})"})
    EXPECT_TRUE(matches(n, good)) << good;
  for (const char* bad : {R"({"n":2})", R"({"n":100})", R"({"n":"a"})", R"({"n":1.0})"}) EXPECT_FALSE(matches(n, bad)) << bad;

  auto list = schema_of(R"({"type": "array", "items": {"type": "integer"}, "minItems": 1})");
  EXPECT_TRUE(matches(list, "[1, 2]"));
  EXPECT_FALSE(matches(list, "[]"));
  EXPECT_FALSE(matches(list, "{}"));
  EXPECT_TRUE(matches(schema_of(R"({"const": "x"})"), "\"x\""));
  EXPECT_TRUE(matches(schema_of(R"({"type": "number"})"), "-0.5e+3 "));
  EXPECT_TRUE(matches(schema_of(R"({"type": "object", "additionalProperties": {"type": "integer"}})"), R"({"a":1,"b":2})"));
  EXPECT_FALSE(matches(schema_of(R"({"type": "object", "additionalProperties": {"type": "integer"}})"), R"({"a":"1"})"));
}

TEST(JsonSchema, UnsupportedOrBrokenSchemasNameWhatAndWhere) {
  auto err = [](const char* text) {
    auto s = JsonSchema::compile(nlohmann::json::parse(text), "format");
    EXPECT_FALSE(s.ok()) << text;
    return s.ok() ? std::string() : s.status().message();
  };
  EXPECT_EQ(err(R"({"properties": {"n": {"type": "integer", "multipleOf": 3}}})"),
            "format: JSON schema at /properties/n: keyword 'multipleOf' is not supported");
  EXPECT_NE(err(R"({"type": "text"})").find("unknown type 'text'"), std::string::npos);
  EXPECT_NE(err(R"({"properties": {"a": {}}, "required": ["b"]})").find("'b' is not in properties"), std::string::npos);
  EXPECT_EQ(err(R"({"properties": {"a": {"$ref": "https://example.com/a.json"}}})"),
            "format: JSON schema at /properties/a: $ref 'https://example.com/a.json' is not supported: only references "
            "into this schema ('#/$defs/...')");
  EXPECT_NE(err(R"({"$ref": "#/$defs/Nope"})").find("points at nothing"), std::string::npos);
  EXPECT_NE(err(R"({"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"})").find("leads back to itself"),
            std::string::npos);
  EXPECT_NE(err(R"({"$defs": {"A": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}]}}, "$ref": "#/$defs/A"})")
                .find("leads back to itself"),
            std::string::npos);
  EXPECT_NE(err(R"({"type": "object", "anyOf": [{"type": "object"}]})").find("keyword 'type' beside 'anyOf'"),
            std::string::npos);
  EXPECT_NE(err(R"({"allOf": [{"type": "object"}, {"required": []}]})").find("allOf of more than one"), std::string::npos);
  EXPECT_NE(err(R"({"$ref": "#/a", "anyOf": [{}]})").find("together are not supported"), std::string::npos);
  EXPECT_NE(err(R"({"type": "string", "minLength": 3, "maxLength": 2})").find("minLength is above maxLength"),
            std::string::npos);
  EXPECT_NE(err(R"({"anyOf": []})").find("non-empty list"), std::string::npos);
  EXPECT_NE(err(R"({"type": "array", "minItems": 3, "maxItems": 2})").find("minItems"), std::string::npos);
  EXPECT_NE(err("[1]").find("must be an object"), std::string::npos);
  EXPECT_NE(err(R"({"enum": []})").find("enum"), std::string::npos);
}

// What pydantic and zod emit for records beyond the flat case: nested models
// through $defs (also recursive), Optional fields as anyOf with null, a
// union of a number and an enumeration, pydantic v1's allOf of one $ref,
// string lengths, and `format` as the annotation it is by default.
TEST(JsonSchema, ReferencesAlternativesAndStringLengths) {
  auto s = schema_of(R"({"$defs": {
      "Address": {"properties": {"city": {"title": "City", "type": "string"}}, "required": ["city"], "title": "Address",
                  "type": "object"},
      "Tree": {"type": "object", "properties": {"v": {"type": "integer"},
                                                "kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}},
               "required": ["v"], "additionalProperties": false}},
    "properties": {
      "name": {"type": "string", "minLength": 2, "maxLength": 4},
      "home": {"$ref": "#/$defs/Address"},
      "nick": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null, "title": "Nick"},
      "n": {"oneOf": [{"type": "integer"}, {"enum": ["many", "few"]}]},
      "tree": {"$ref": "#/$defs/Tree"},
      "old": {"allOf": [{"$ref": "#/$defs/Address"}], "description": "pydantic v1"},
      "when": {"type": "string", "format": "date-time"}},
    "required": ["name"], "type": "object", "additionalProperties": false})");
  for (const char* good :
       {R"({"name":"Al"})", R"({"name":"Al\u00e9\n","home":{"city":"X"},"nick":null})",
        R"({"name":"a\u00e9cd","nick":"x","n":3,"tree":{"v":1,"kids":[{"v":2,"kids":[]},{"v":3}]}})",
        R"({"name":"ab","n":"few","old":{"city":""},"when":"2024-01-02T03:04:05Z"})", "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"})
    EXPECT_TRUE(matches(s, good)) << good;
  for (const char* bad :
       {R"({"name":"A"})", R"({"name":"abcde"})", R"({"name":"a\u00e9cde"})", R"({"name":"ab","home":{}})",
        R"({"name":"ab","nick":1})", R"({"name":"ab","n":"lots"})", R"({"name":"ab","n":1.5})",
        R"({"name":"ab","tree":{"kids":[]}})", R"({"name":"ab","tree":{"v":1,"kids":[{"v":"x"}]}})",
        R"({"name":"ab","tree":{"v":1,"x":2}})", R"({"name":"ab","when":5})", "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"})
    EXPECT_FALSE(matches(s, bad)) << bad;
  // A recursive root, and a root that is a union.
  auto list = schema_of(R"({"anyOf": [{"type": "array", "items": {"$ref": "#"}}, {"type": "integer"}]})");
  EXPECT_TRUE(matches(list, "[1, [2, []], 3]"));
  EXPECT_TRUE(matches(list, "7"));
  EXPECT_FALSE(matches(list, R"([1, "2"])"));
  auto optional = schema_of(R"({"anyOf": [{"$ref": "#/definitions/P"}, {"type": "null"}],
                                "definitions": {"P": {"type": "object", "properties": {"x": {"type": "boolean"}}}}})");
  EXPECT_TRUE(matches(optional, "null"));
  EXPECT_TRUE(matches(optional, R"({"x": true})"));
  EXPECT_FALSE(matches(optional, R"({"x": 1})"));
  EXPECT_FALSE(matches(optional, "true"));
}

// String patterns: the value's characters (UTF-8 decoded, JSON escapes
// undone) run through the pattern's NFA as they come.
TEST(JsonSchema, Patterns) {
  auto str = [](const char* pattern) {
    return schema_of(("{\"type\": \"string\", \"pattern\": " + nlohmann::json(pattern).dump() + "}").c_str());
  };
  struct Case {
    const char* pattern;
    std::vector<const char*> good, bad;
  };
  const Case cases[] = {
      {"^[0-9]{5}$", {R"("12345")"}, {R"("1234")", R"("123456")", R"("1234a")"}},
      {R"(^\d{4}-\d{2}-\d{2}$)", {R"("2024-01-02")"}, {R"("2024-1-02")", R"("2024-01-02x")"}},
      {"^(cat|dog)s?$", {R"("cat")", R"("dogs")"}, {R"("cow")", R"("cats!")", R"("")"}},
      {"ab", {R"("xxabyy")", R"("ab")"}, {R"("xxa")", R"("ba")"}},
      {R"(^[^@\s]+@[^@\s]+\.[a-z]{2,}$)", {R"("a@b.co")"}, {R"("a@b")", R"("a b@c.de")", R"("a@b.c")"}},
      {"^\u00e9+$", {"\"\xc3\xa9\xc3\xa9\"", R"("\u00e9")"}, {R"("e")", R"("")"}},
      {R"(^a\nb$)", {R"("a\nb")"}, {R"("ab")"}},
      {"^(?:[A-Z][a-z]*)(?: [A-Z][a-z]*){0,2}$", {R"("Ada")", R"("Ada King Byron")"}, {R"("ada")", R"("A B C D")"}},
      {"^x*?y+?$", {R"("y")", R"("xxyy")"}, {R"("x")"}},
      {"^([a-]{1,}|{})$", {R"("a-a")", R"("{}")"}, {R"("b")", R"("{")"}},
  };
  for (const Case& c : cases) {
    auto s = str(c.pattern);
    for (const char* good : c.good) EXPECT_TRUE(matches(s, good)) << c.pattern << " " << good;
    for (const char* bad : c.bad) EXPECT_FALSE(matches(s, bad)) << c.pattern << " " << bad;
  }
  // A character no match can go on with is refused at once.
  JsonGrammar g(str("^[0-9]{5}$"));
  ASSERT_TRUE(g.accept("\""));
  EXPECT_TRUE(g.can_accept("1"));
  EXPECT_FALSE(g.can_accept("a"));
  EXPECT_FALSE(g.can_accept("\""));
  ASSERT_TRUE(g.accept("12345"));
  EXPECT_FALSE(g.can_accept("6"));
  EXPECT_TRUE(g.can_accept("\""));
  auto err = [](const char* pattern) {
    auto c = JsonSchema::compile(nlohmann::json{{"type", "string"}, {"pattern", pattern}}, "format");
    return c.ok() ? std::string() : c.status().message();
  };
  for (const char* bad : {"(?=a)", R"((a)\1)", R"(a\b)", "(a", "[a", "a{3,1}", "x{2000}", "a^b", "*a", R"(\q)"})
    EXPECT_NE(err(bad), "") << bad;
  EXPECT_NE(err(std::string(100, '(').append("a").append(100, ')').c_str()).find("nest too deep"), std::string::npos);
  EXPECT_NE(err("(x{1000}){1000}").find("too large"), std::string::npos);
  EXPECT_NE(err("(?<n>a)").find("lookarounds"), std::string::npos);
}

// Tuples: pydantic's Tuple[int, str] (prefixItems, 2020-12) and zod's tuples
// (a list of items with additionalItems, draft 7).
TEST(JsonSchema, Tuples) {
  auto pyd = schema_of(R"({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2, "maxItems": 2})");
  EXPECT_TRUE(matches(pyd, R"([1, "a"])"));
  for (const char* bad : {R"(["a", 1])", "[1]", R"([1, "a", 2])", "[]"}) EXPECT_FALSE(matches(pyd, bad)) << bad;
  auto zod = schema_of(R"({"type": "array", "items": [{"type": "number"}, {"type": "boolean"}], "additionalItems": false})");
  for (const char* good : {"[1.5, true]", "[2]", "[]"}) EXPECT_TRUE(matches(zod, good)) << good;
  for (const char* bad : {"[true]", "[1, true, 2]"}) EXPECT_FALSE(matches(zod, bad)) << bad;
  auto rest = schema_of(R"({"prefixItems": [{"const": "x"}], "items": {"type": "integer"}})");
  for (const char* good : {R"(["x", 1, 2])", "[]", R"(["x"])"}) EXPECT_TRUE(matches(rest, good)) << good;
  for (const char* bad : {R"(["x", "y"])", "[1]"}) EXPECT_FALSE(matches(rest, bad)) << bad;
  auto none = schema_of(R"({"type": "array", "items": false})");
  EXPECT_TRUE(matches(none, "[]"));
  EXPECT_FALSE(matches(none, "[1]"));
  EXPECT_FALSE(JsonSchema::compile(nlohmann::json::parse(R"({"prefixItems": [{}], "items": false, "minItems": 2})"), "format").ok());
}

// Integer bounds (pydantic's ge / le / gt / lt, zod's min / max): a prefix
// that no integer within them begins with is refused at once.
TEST(JsonSchema, IntegerBounds) {
  auto s = schema_of(R"({"type": "object", "properties": {
      "age": {"type": "integer", "minimum": 0, "maximum": 120},
      "t": {"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": 10.5},
      "big": {"type": "integer", "minimum": 1000},
      "old": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}}})");
  for (const char* good : {R"({"age": 0})", R"({"age": 120})", R"({"age": 7, "t": -9})", R"({"t": 10})", R"({"big": 1000})",
                           R"({"big": 99999999999})", R"({"age": -0})", R"({"old": 1})"})
    EXPECT_TRUE(matches(s, good)) << good;
  for (const char* bad : {R"({"age": -1})", R"({"age": 121})", R"({"age": 1200})", R"({"age": 07})", R"({"t": -10})",
                          R"({"t": 11})", R"({"big": 999})", R"({"age": 1.5})", R"({"old": 0})",
                          R"({"big": 99999999999999999999999})"})
    EXPECT_FALSE(matches(s, bad)) << bad;
  JsonGrammar g(s);
  ASSERT_TRUE(g.accept(R"({"age": )"));
  EXPECT_TRUE(g.can_accept("12"));
  EXPECT_FALSE(g.can_accept("121"));
  EXPECT_TRUE(g.can_accept("-"));  // -0
  EXPECT_FALSE(g.can_accept("-1"));
  ASSERT_TRUE(g.accept(R"(1, "big": )"));
  EXPECT_FALSE(g.can_accept("-"));
  EXPECT_FALSE(g.can_accept("0"));
  EXPECT_TRUE(g.can_accept("9"));  // 9000 and up
  auto root = schema_of(R"({"type": "integer", "minimum": 5})");
  EXPECT_FALSE(matches(root, "3"));  // a prefix of 30, not a value
  EXPECT_TRUE(matches(root, "30"));
  auto neg = schema_of(R"({"type": "integer", "minimum": -250, "maximum": -20})");
  for (const char* good : {"-20", "-250", "-99"}) EXPECT_TRUE(matches(neg, good)) << good;
  for (const char* bad : {"-19", "-251", "0", "-0", "20", "-2500"}) EXPECT_FALSE(matches(neg, bad)) << bad;
  auto err = [](const char* text) {
    auto c = JsonSchema::compile(nlohmann::json::parse(text), "format");
    return c.ok() ? std::string() : c.status().message();
  };
  EXPECT_NE(err(R"({"type": "number", "minimum": 0})").find("integers only"), std::string::npos);
  EXPECT_NE(err(R"({"type": "integer", "minimum": 5, "maximum": 4})").find("no integer"), std::string::npos);
  EXPECT_NE(err(R"({"type": "integer", "minimum": "a"})").find("minimum must be a number"), std::string::npos);
  EXPECT_NE(err(R"({"type": "integer", "maximum": 1e300})").find("out of range"), std::string::npos);
}

// Alternatives that begin alike are followed side by side until the value
// tells them apart: unions of records (zod's discriminated unions, pydantic's
// Union[A, B]), of strings with different bounds, of integers and numbers.
TEST(JsonSchema, AlternativesThatBeginAlike) {
  auto shapes = schema_of(R"({"type": "array", "items": {"anyOf": [
      {"type": "object", "additionalProperties": false, "required": ["kind", "r"],
       "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}},
      {"type": "object", "additionalProperties": false, "required": ["kind", "w", "h"],
       "properties": {"kind": {"const": "rect"}, "w": {"type": "integer"}, "h": {"type": "integer"}}}]}})");
  EXPECT_TRUE(matches(shapes, R"([{"kind": "circle", "r": 1.5}, {"kind": "rect", "w": 2, "h": 3}, {"r": 2, "kind": "circle"}])"));
  for (const char* bad : {R"([{"kind": "circle", "w": 2}])", R"([{"kind": "rect", "w": 2}])", R"([{"kind": "rect", "r": 2, "w": 1, "h": 1}])",
                          R"([{"kind": "square"}])", R"([{}])"})
    EXPECT_FALSE(matches(shapes, bad)) << bad;
  // Before the value tells them apart, both stay open.
  JsonGrammar g(shapes);
  ASSERT_TRUE(g.accept(R"([{"kind": ")"));
  EXPECT_TRUE(g.can_accept("circle"));
  EXPECT_TRUE(g.can_accept("rect"));
  EXPECT_FALSE(g.can_accept("tri"));
  auto strings = schema_of(R"({"oneOf": [{"type": "string", "maxLength": 2}, {"enum": ["long one"]}, {"type": "integer"}, {"type": "number", "minItems": 0}]})");
  for (const char* good : {R"("ab")", R"("long one")", "12", "1.5", "-0"}) EXPECT_TRUE(matches(strings, good)) << good;
  for (const char* bad : {R"("abc")", R"("long")", "true"}) EXPECT_FALSE(matches(strings, bad)) << bad;
  // Nested unions multiply the threads; the recognizer stays bounded.
  std::string deep = R"({"type": "integer"})";
  for (int i = 0; i < 8; ++i) deep = R"({"anyOf": [)" + deep + "," + deep + "]}";
  auto many = schema_of(deep.c_str());
  EXPECT_TRUE(matches(many, "12345 "));
}

// Sampling under a schema: random logits still give text that matches it,
// and every run ends (the object's properties run out).
TEST(SamplerChain, JsonSchemaConstraint) {
  auto schema = schema_of(R"({"type": "object", "additionalProperties": false,
    "properties": {"a": {"type": "integer"}, "b": {"enum": ["x", "yy"]}}, "required": ["a", "b"]})");
  auto pieces = std::make_shared<std::vector<std::string>>(std::vector<std::string>{
      "", "{", "}", "\"", "a", "b", ":", "1", "2", " ", ",", "x", "y", "\"a\":", "\"b\": \"yy\"", ".", "Sure"});
  int n_ended = 0;
  for (int seed = 0; seed < 40; ++seed) {
    SamplingParams p;
    p.temperature = seed % 2 ? 0.0f : 1.0f;
    p.seed = seed;
    p.repeat_penalty = 1.0f;
    SamplerChain chain(p, static_cast<int32_t>(pieces->size()));
    chain.constrain(std::make_unique<JsonConstraint>(pieces, [](int32_t id) { return id == 0; }, schema));
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::string text;
    std::vector<int32_t> history;
    bool ended = false;
    for (int step = 0; step < 300 && !ended; ++step) {
      std::vector<float> logits(pieces->size());
      for (auto& l : logits) l = std::uniform_real_distribution<float>(-2, 2)(rng);
      logits[16] = 9;  // "Sure"
      if (step < 40) logits[7] = 3;  // a run of digits: the integer grows until the model leaves it
      const int32_t t = chain.sample(logits, history);
      history.push_back(t);
      if (t == 0) ended = true;
      else text += (*pieces)[static_cast<size_t>(t)];
    }
    JsonGrammar check(schema);
    EXPECT_TRUE(check.accept(text)) << text;
    if (ended) {
      EXPECT_TRUE(check.complete()) << text;
      const auto j = nlohmann::json::parse(text);
      EXPECT_TRUE(j.at("a").is_number()) << text;  // an integer (maybe beyond 64 bits)
      EXPECT_EQ(text.find_first_of(".eE"), std::string::npos) << text;
      EXPECT_TRUE(j.at("b") == "x" || j.at("b") == "yy") << text;
      ++n_ended;
    }
  }
  EXPECT_GT(n_ended, 30);
}

// mask() is allowed() over the whole vocabulary, in every state a run meets.
TEST(JsonConstraint, MaskAgreesWithAllowed) {
  auto pieces = std::make_shared<std::vector<std::string>>(std::vector<std::string>{
      "", "{", "}", "\"", "a", ":", "1", " ", "\n", "\"a\":", "[", "]", ",", "tr", "ue", "{\"", "\"}", "\\", "u00e9", "-", ".5"});
  JsonConstraint c(pieces, [](int32_t id) { return id == 0; });
  std::mt19937 rng(7);
  for (int step = 0; step < 200; ++step) {
    std::vector<float> logits(pieces->size(), 0.0f);
    const bool any = c.mask(logits);
    std::vector<int32_t> ok;
    for (size_t i = 0; i < logits.size(); ++i) {
      EXPECT_EQ(logits[i] == 0.0f, c.allowed(static_cast<int32_t>(i))) << "token " << i << " at step " << step;
      if (logits[i] == 0.0f) ok.push_back(static_cast<int32_t>(i));
    }
    EXPECT_EQ(any, !ok.empty());
    if (ok.empty()) break;
    const int32_t t = ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(rng)];
    if (t == 0) break;
    c.commit(t);
  }
}

// An answer's start that came before the constraint (in the token that
// ended the reasoning) is taken into account; text that cannot begin the
// value is ignored.
TEST(JsonConstraint, AcceptsTextFromBeforeItBegan) {
  auto pieces = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"</s>", "{", "}", "\"a\":", "1"});
  JsonConstraint c(pieces, [](int32_t id) { return id == 0; });
  EXPECT_TRUE(c.allowed(1));
  c.accept_text("{");
  EXPECT_FALSE(c.allowed(1));
  EXPECT_TRUE(c.allowed(3));
  EXPECT_TRUE(c.allowed(2));
  JsonConstraint d(pieces, [](int32_t id) { return id == 0; });
  d.accept_text("Sure: ");
  EXPECT_TRUE(d.allowed(1));
  EXPECT_FALSE(d.allowed(2));
}

// A schema asking for text no token can write: generation ends instead of
// leaving the JSON.
TEST(SamplerChain, JsonConstraintEndsWhenNoTokenFits) {
  auto pieces = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"</s>", "\"", "a", "b"});
  SamplingParams p;
  p.temperature = 0;
  SamplerChain chain(p, 4);
  chain.constrain(std::make_unique<JsonConstraint>(pieces, [](int32_t id) { return id == 0; },
                                                   schema_of(R"({"enum": ["\u00e9"]})")));
  const std::vector<float> logits = {0, 1, 2, 3};
  EXPECT_EQ(chain.sample(logits, {}), 1);  // the opening quote
  EXPECT_EQ(chain.sample(logits, {}), 0);  // nothing writes the é: the end
}
}  // namespace
}  // namespace hearth::sampling
