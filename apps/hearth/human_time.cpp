#include "human_time.h"

#include <cmath>
#include <cstdio>

namespace hearth::app {

std::optional<std::time_t> parse_rfc3339(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6) return std::nullopt;
  size_t i = static_cast<size_t>(used);
  if (i < text.size() && text[i] == '.')
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9';) ++i;  // (fractions of a second)
  long offset = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (text[i] == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
  } else if (i >= text.size() || (text[i] != 'Z' && text[i] != 'z')) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return timegm(&tm) - offset;
}

std::string human_duration(double seconds) {
  const double s = std::fabs(seconds);
  char buf[48];
  auto n = [&](double unit, const char* name) {
    std::snprintf(buf, sizeof buf, "%d %s", static_cast<int>(s / unit), name);
    return std::string(buf);
  };
  if (s < 1) return "Less than a second";
  if (s < 2) return "1 second";
  if (s < 60) return n(1, "seconds");
  if (s < 120) return "About a minute";
  if (s < 3600) return n(60, "minutes");
  if (s < 7200) return "About an hour";
  if (s < 48 * 3600) return n(3600, "hours");
  if (s < 14 * 86400) return n(86400, "days");
  if (s < 60 * 86400) return n(7 * 86400, "weeks");
  if (s < 730 * 86400) return n(30 * 86400, "months");
  return n(365 * 86400, "years");
}

std::string human_time(const std::string& when, std::time_t now) {
  if (when == "forever") return "Forever";
  const auto t = parse_rfc3339(when);
  if (!t) return when;
  const double delta = std::difftime(*t, now);
  return human_duration(delta) + (delta > 0 ? " from now" : " ago");
}

}  // namespace hearth::app
