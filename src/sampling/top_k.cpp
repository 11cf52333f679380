#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_top_k(Candidates& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.items.size()) return;
  c.sort_desc();
  c.items.resize(static_cast<size_t>(k));
}

}  // namespace hearth::sampling
