// The server's request-field helpers that are plain functions: durations
// (keep_alive, --keep-alive / HEARTH_KEEP_ALIVE).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hearth::server
