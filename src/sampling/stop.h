// Stop strings, matched across token boundaries: text that might be the start
// of a stop string is held back until it is known not to be; text of a stop
// string (and anything after it) is never emitted.
#pragma once

#include <string>
#include <vector>

namespace hearth::sampling {

enum class FinishReason { kNone, kStop, kLength, kContext };
const char* finish_reason_name(FinishReason r);  // "stop", "length", ...

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Feeds newly generated text; returns what may be emitted now.
  std::string push(const std::string& text);
  // End of generation without a stop: releases held-back text.
  std::string flush();
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace hearth::sampling
