// Min-p: drop tokens whose probability is below p times the most likely one's.
#include <cmath>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_min_p(Candidates& c, float p) {
  if (p <= 0.0f || c.items.size() <= 1) return;
  c.sort_desc();
  // p_i >= p * p_max  <=>  logit_i >= logit_max + log(p)
  const float threshold = c.items[0].logit + std::log(p);
  size_t keep = 1;
  while (keep < c.items.size() && c.items[keep].logit >= threshold) ++keep;
  c.items.resize(keep);
}

}  // namespace hearth::sampling
