// Times as `ollama list` and `ollama ps` print them: "2 minutes ago",
// "About an hour from now", "Forever".
#pragma once

#include <ctime>
#include <optional>
#include <string>

namespace hearth::app {

// "2024-05-01T12:00:00Z" / "...T12:00:00.123456789Z" / "+02:00" offsets -> Unix time.
std::optional<std::time_t> parse_rfc3339(const std::string& text);

// A span of `seconds` in words ("Less than a second", "About a minute", "3 hours", "2 weeks").
std::string human_duration(double seconds);

// `when` relative to `now`: "... ago" or "... from now"; "Forever" for "forever";
// the text itself when it is not a time.
std::string human_time(const std::string& when, std::time_t now);

}  // namespace hearth::app
