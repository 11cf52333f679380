// Tail-free sampling: cut where the second derivative of the sorted
// probabilities has accumulated z of its mass.
#include <cmath>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_tail_free(Candidates& c, float z) {
  if (z >= 1.0f || c.items.size() <= 2) return;
  c.softmax();
  std::vector<float> d1(c.items.size() - 1), d2(c.items.size() - 2);
  for (size_t i = 0; i + 1 < c.items.size(); ++i) d1[i] = c.items[i].p - c.items[i + 1].p;
  double sum = 0;
  for (size_t i = 0; i + 1 < d1.size(); ++i) sum += d2[i] = std::fabs(d1[i] - d1[i + 1]);
  if (sum <= 0) return;
  size_t keep = c.items.size();
  double cum = 0;
  for (size_t i = 0; i < d2.size(); ++i) {
    cum += d2[i] / sum;
    if (cum > z) {
      keep = i + 1;
      break;
    }
  }
  c.items.resize(std::max<size_t>(1, keep));
}

}  // namespace hearth::sampling
