#include <algorithm>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_top_k(Candidates& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.items.size()) return;
  if (!c.sorted) {
    // Select the k largest without sorting the whole vocabulary.
    auto cmp = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
    std::nth_element(c.items.begin(), c.items.begin() + k, c.items.end(), cmp);
    c.items.resize(static_cast<size_t>(k));
    std::sort(c.items.begin(), c.items.end(), cmp);
    c.sorted = true;
    return;
  }
  c.items.resize(static_cast<size_t>(k));
}

}  // namespace hearth::sampling
