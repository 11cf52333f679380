#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_temperature(Candidates& c, float t) {
  if (t <= 0.0f || t == 1.0f) return;
  for (auto& x : c.items) x.logit /= t;
}

}  // namespace hearth::sampling
