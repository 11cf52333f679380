// Locally typical sampling: keep the tokens whose surprise is closest to the
// distribution's entropy, up to cumulative probability p.
#include <algorithm>
#include <cmath>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_typical(Candidates& c, float p) {
  if (p >= 1.0f || c.items.size() <= 1) return;
  c.softmax();
  double entropy = 0;
  for (const auto& x : c.items)
    if (x.p > 0) entropy -= x.p * std::log(x.p);
  std::vector<std::pair<double, size_t>> shifted;
  for (size_t i = 0; i < c.items.size(); ++i) {
    double s = c.items[i].p > 0 ? std::fabs(-std::log(c.items[i].p) - entropy) : INFINITY;
    shifted.emplace_back(s, i);
  }
  std::stable_sort(shifted.begin(), shifted.end());
  std::vector<Candidate> kept;
  double cum = 0;
  for (const auto& [s, i] : shifted) {
    kept.push_back(c.items[i]);
    cum += c.items[i].p;
    if (cum >= p) break;
  }
  c.items = std::move(kept);
  c.sorted = false;
}

}  // namespace hearth::sampling
