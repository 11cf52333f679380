#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>

namespace hearth::sampling {

void Candidates::sort_desc() {
  if (sorted) return;
  std::sort(items.begin(), items.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
  sorted = true;
}

void Candidates::softmax() {
  sort_desc();
  if (items.empty()) return;
  const float max = items[0].logit;
  double sum = 0;
  for (auto& c : items) {
    c.p = std::isinf(c.logit) && c.logit < 0 ? 0.0f : std::exp(c.logit - max);
    sum += c.p;
  }
  for (auto& c : items) c.p = static_cast<float>(c.p / sum);
}

int32_t sample_greedy(const Candidates& c) {
  if (c.sorted) return c.items[0].id;
  const Candidate* best = &c.items[0];
  for (const auto& x : c.items)
    if (x.logit > best->logit || (x.logit == best->logit && x.id < best->id)) best = &x;
  return best->id;
}

int32_t sample_distribution(Candidates& c, std::mt19937_64& rng) {
  c.softmax();
  double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  double acc = 0;
  for (const auto& x : c.items) {
    acc += x.p;
    if (r < acc) return x.id;
  }
  return c.items.back().id;
}

}  // namespace hearth::sampling
