// Nucleus sampling: the smallest set of most likely tokens whose probability
// reaches p.
#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  c.softmax();
  double cum = 0;
  size_t keep = c.items.size();
  for (size_t i = 0; i < c.items.size(); ++i) {
    cum += c.items[i].p;
    if (cum >= p) {
      keep = i + 1;
      break;
    }
  }
  c.items.resize(keep);
}

}  // namespace hearth::sampling
