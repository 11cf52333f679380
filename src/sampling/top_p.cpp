// Nucleus sampling: the smallest set of most likely tokens whose probability
// reaches p.
#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  // The most likely tokens in order until their mass reaches p, sorted only
  // that far (Candidates::visit_desc); each kept token's p is its share of
  // the whole distribution.
  float max = 0;
  double sum = 0;
  c.exp_sum(&max, &sum);
  double cum = 0;
  const size_t at = c.visit_desc([&](size_t i) {
    Candidate& x = c.items[i];
    x.p = static_cast<float>(relative_exp(x.logit, max) / sum);
    cum += x.p;
    return cum >= p;
  });
  c.items.resize(std::min(c.items.size(), at + 1));
  c.sorted = true;
}

}  // namespace hearth::sampling
