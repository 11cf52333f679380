// Greedy and temperature sampling with a seeded generator: the minimal chain
// `hearth run` uses until the full sampler chain lands (issue 4).
#pragma once

#include <cstdint>
#include <random>

namespace hearth::sampling {

// Index of the largest logit (lowest index on ties).
int32_t greedy(const float* logits, int64_t n);

// temperature <= 0 is greedy; otherwise samples softmax(logits / temperature).
class TemperatureSampler {
 public:
  TemperatureSampler(float temperature, uint64_t seed) : temp_(temperature), rng_(seed) {}
  int32_t sample(const float* logits, int64_t n);

 private:
  float temp_;
  std::mt19937_64 rng_;
};

}  // namespace hearth::sampling
