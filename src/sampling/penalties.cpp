#include <unordered_map>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_penalties(Candidates& c, std::span<const int32_t> window, float repeat, float frequency, float presence) {
  if (window.empty() || (repeat == 1.0f && frequency == 0.0f && presence == 0.0f)) return;
  std::unordered_map<int32_t, int> count;
  for (int32_t t : window) ++count[t];
  for_each_listed(c, count, [&](Candidate& x, int n) {
    if (x.logit <= 0) x.logit *= repeat;
    else x.logit /= repeat;
    x.logit -= static_cast<float>(n) * frequency + presence;
  });
  c.sorted = false;
}

}  // namespace hearth::sampling
