#include "sampling/basic.h"

#include <cmath>
#include <vector>

namespace hearth::sampling {

int32_t greedy(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

int32_t TemperatureSampler::sample(const float* logits, int64_t n) {
  if (!(temp_ > 0)) return greedy(logits, n);
  float max = logits[greedy(logits, n)];
  std::vector<double> p(static_cast<size_t>(n));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] = std::exp((logits[i] - max) / temp_);
  double r = std::uniform_real_distribution<double>(0, sum)(rng_);
  for (int64_t i = 0; i < n; ++i) {
    r -= p[i];
    if (r <= 0) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(n - 1);
}

}  // namespace hearth::sampling
