// Nucleus sampling: the smallest set of most likely tokens whose probability
// reaches p.
#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  // The most likely tokens in order until their mass reaches p, sorted only
  // that far (Candidates::walk_mass); each kept token's p is its share of the
  // whole distribution.
  const size_t at = c.walk_mass([p](double mass) { return mass >= p; });
  c.items.resize(std::min(c.items.size(), at + 1));
  c.sorted = true;
}

}  // namespace hearth::sampling
