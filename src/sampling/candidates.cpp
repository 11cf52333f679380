#include "sampling/candidates.h"

#include <algorithm>
#include <cmath>

namespace hearth::sampling {

namespace {

// exp(logit - max), 0 for a logit of -inf (whatever max is).
float relative_exp(float logit, float max) { return std::isinf(logit) && logit < 0 ? 0.0f : std::exp(logit - max); }

}  // namespace

void Candidates::sort_desc() {
  if (sorted) return;
  std::sort(items.begin(), items.end(), ranks_before);
  sorted = true;
}

size_t Candidates::walk_mass(const std::function<bool(double)>& stop) {
  float max = -INFINITY;
  for (const auto& c : items) max = std::max(max, c.logit);
  double sum = 0;
  for (const auto& c : items) sum += relative_exp(c.logit, max);
  double mass = 0;
  auto visit = [&](size_t i) {
    Candidate& x = items[i];
    x.p = static_cast<float>(relative_exp(x.logit, max) / sum);
    mass += x.p;
    return stop(mass);
  };
  const size_t n = items.size();
  if (sorted) {
    for (size_t i = 0; i < n; ++i)
      if (visit(i)) return i;
    return n;
  }
  size_t done = 0;
  for (size_t k = std::min<size_t>(64, n); done < n; k = std::min(n, 4 * k)) {
    // [0, done) are the best `done` in order; bring the next ones after them.
    std::partial_sort(items.begin() + static_cast<std::ptrdiff_t>(done), items.begin() + static_cast<std::ptrdiff_t>(k),
                      items.end(), ranks_before);
    for (size_t i = done; i < k; ++i)
      if (visit(i)) return i;
    done = k;
  }
  sorted = true;
  return n;
}

void Candidates::softmax() {
  sort_desc();
  if (items.empty()) return;
  const float max = items[0].logit;
  double sum = 0;
  for (auto& c : items) {
    c.p = relative_exp(c.logit, max);
    sum += c.p;
  }
  for (auto& c : items) c.p = static_cast<float>(c.p / sum);
}

int32_t sample_greedy(const Candidates& c) {
  if (c.sorted) return c.items[0].id;
  const Candidate* best = &c.items[0];
  for (const auto& x : c.items)
    if (ranks_before(x, *best)) best = &x;
  return best->id;
}

int32_t sample_distribution(Candidates& c, std::mt19937_64& rng) {
  // The draw walks the tokens from the most likely down until the mass
  // passes r: only that far are they sorted (a 32000-token vocabulary with
  // no top-k: 2.6 ms per token when all were).
  const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  const size_t at = c.walk_mass([r](double mass) { return r < mass; });
  if (at < c.items.size()) return c.items[at].id;
  c.sort_desc();
  return c.items.back().id;
}

}  // namespace hearth::sampling
