// The server's request-field helpers that are plain functions: durations
// (keep_alive, --keep-alive / HEARTH_KEEP_ALIVE), the body's JSON and how
// deep it may nest (core/json_depth.h).
#include <gtest/gtest.h>

#include <string>

#include "core/json_depth.h"
#include "server/fields.h"

namespace hearth::server {
namespace {

TEST(Fields, DurationsAsOllamaReadsThem) {
  EXPECT_EQ(parse_duration("300"), 300.0);  // a number: seconds
  EXPECT_EQ(parse_duration("-1"), -1.0);
  EXPECT_EQ(parse_duration("0"), 0.0);
  EXPECT_EQ(parse_duration("2.5"), 2.5);
  EXPECT_EQ(parse_duration("5m"), 300.0);
  EXPECT_EQ(parse_duration("1h30m"), 5400.0);
  EXPECT_EQ(parse_duration("1.5h"), 5400.0);
  EXPECT_EQ(parse_duration("-1s"), -1.0);
  EXPECT_EQ(parse_duration("+2m"), 120.0);
  EXPECT_DOUBLE_EQ(parse_duration("500ms").value(), 0.5);
  EXPECT_DOUBLE_EQ(parse_duration("1m30s250ms").value(), 90.25);
  EXPECT_DOUBLE_EQ(parse_duration("2us").value(), 2e-6);
  for (const char* bad : {"", "m", "5x", "5 m", "1h30", "h1", "--1", "5m-", "1e999", "nan", "1..5s", "."})
    EXPECT_FALSE(parse_duration(bad)) << bad;
  EXPECT_FALSE(parse_duration(std::string(100, '1') + "s"));
}

TEST(Fields, KeepAliveFieldTakesADurationOrSeconds) {
  EXPECT_EQ(parse_keep_alive(Json{{"keep_alive", "10m"}}), 600.0);
  EXPECT_EQ(parse_keep_alive(Json{{"keep_alive", -1}}), -1.0);
  EXPECT_EQ(parse_keep_alive(Json{{"keep_alive", nullptr}}), std::nullopt);
  EXPECT_EQ(parse_keep_alive(Json::object()), std::nullopt);
  EXPECT_THROW(parse_keep_alive(Json{{"keep_alive", "soon"}}), HttpError);
  EXPECT_THROW(parse_keep_alive(Json{{"keep_alive", true}}), HttpError);
}

std::string nested(size_t depth, const std::string& inner = "1") {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += i % 2 ? "[" : "{\"k\":";
  s += inner;
  for (size_t i = depth; i-- > 0;) s += i % 2 ? "]" : "}";
  return s;
}

TEST(JsonDepth, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(core::json_depth("1"), 0u);
  EXPECT_EQ(core::json_depth("\"[{[{\""), 0u);
  EXPECT_EQ(core::json_depth("[]"), 1u);
  EXPECT_EQ(core::json_depth(R"({"a":[1,{"b":[]}],"c":{}})"), 4u);
  EXPECT_EQ(core::json_depth(R"(["\"[[[", "\\", [2]])"), 2u);  // escaped quotes and backslashes
  EXPECT_EQ(core::json_depth("]]]][["), 2u);  // not a validator
  EXPECT_EQ(core::json_depth(nested(600)), 600u);
}

TEST(JsonDepth, BoundedParseDiscardsTooDeepTexts) {
  using core::kMaxJsonDepth;
  EXPECT_EQ(core::parse_json_bounded<Json>(nested(kMaxJsonDepth)).is_discarded(), false);
  EXPECT_TRUE(core::parse_json_bounded<Json>(nested(kMaxJsonDepth + 1)).is_discarded());
  EXPECT_TRUE(core::parse_json_bounded<Json>("{").is_discarded());
  EXPECT_EQ(core::parse_json_bounded<Json>(R"({"a":[1]})")["a"][0], 1);
}

// A request body nesting 100000 levels parses in nlohmann (iteratively) but
// its copies and dumps recurse per level: refused before it is parsed.
TEST(Fields, BodiesNestingTooDeepAreRefused) {
  try {
    parse_object(nested(100000));
    FAIL() << "accepted";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_NE(std::string(e.what()).find("nest deeper than 512 levels"), std::string::npos) << e.what();
  }
  const Json ok = parse_object(nested(core::kMaxJsonDepth));
  EXPECT_TRUE(ok.contains("k"));
}

}  // namespace
}  // namespace hearth::server
