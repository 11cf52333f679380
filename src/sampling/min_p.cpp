// Min-p: drop tokens whose probability is below p times the most likely one's.
#include <algorithm>
#include <cmath>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_min_p(Candidates& c, float p) {
  if (p <= 0.0f || c.items.size() <= 1) return;
  // p_i >= p * p_max  <=>  logit_i >= logit_max + log(p): the tokens at or
  // above the threshold moved to the front and sorted, the rest dropped,
  // without sorting the whole vocabulary.
  float max = -INFINITY;
  for (const auto& x : c.items) max = std::max(max, x.logit);
  const float threshold = max + std::log(p);
  auto end = std::partition(c.items.begin(), c.items.end(), [&](const Candidate& x) { return x.logit >= threshold; });
  c.items.erase(end, c.items.end());
  c.sorted = false;
  c.sort_desc();
}

}  // namespace hearth::sampling
