#include "sampling/stop.h"

#include <algorithm>

namespace hearth::sampling {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kContext: return "length";
    case FinishReason::kNone: return "";
  }
  return "";
}

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopMatcher::push(const std::string& text) {
  if (stopped_) return std::string();
  pending_ += text;
  // A complete stop string: emit what precedes the earliest one, then stop.
  size_t first = std::string::npos;
  for (const auto& s : stops_) {
    size_t p = pending_.find(s);
    if (p != std::string::npos && (first == std::string::npos || p < first)) {
      first = p;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_)
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k)
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string s;
  if (!stopped_) s.swap(pending_);
  return s;
}

}  // namespace hearth::sampling
