// Mirostat v1 and v2: adapt truncation so the observed surprise tracks tau.
#include <cmath>

#include "sampling/candidates.h"

namespace hearth::sampling {

namespace {

int32_t draw_and_update(Candidates& c, float tau, float eta, float& mu, std::mt19937_64& rng) {
  int32_t id = sample_distribution(c, rng);
  float p = 0;
  for (const auto& x : c.items)
    if (x.id == id) p = x.p;
  float surprise = -std::log2(std::max(p, 1e-30f));
  mu -= eta * (surprise - tau);
  return id;
}

}  // namespace

int32_t sample_mirostat_v1(Candidates& c, float tau, float eta, int32_t m, int32_t n_vocab, float& mu, std::mt19937_64& rng) {
  c.softmax();
  // Estimate the Zipf exponent from the top m probabilities.
  double sum_ti_bi = 0, sum_ti_sq = 0;
  for (int32_t i = 0; i < std::min<int32_t>(m, static_cast<int32_t>(c.items.size())) - 1; ++i) {
    double t_i = std::log(static_cast<double>(i + 2) / (i + 1));
    double b_i = std::log(static_cast<double>(c.items[i].p) / c.items[i + 1].p);
    sum_ti_bi += t_i * b_i;
    sum_ti_sq += t_i * t_i;
  }
  double s_hat = sum_ti_sq > 0 ? sum_ti_bi / sum_ti_sq : 1.0;
  double eps_hat = s_hat - 1;
  double k = std::pow((eps_hat * std::pow(2.0, mu)) / (1 - std::pow(static_cast<double>(n_vocab), -eps_hat)), 1 / s_hat);
  int32_t ki = std::isfinite(k) ? static_cast<int32_t>(std::max(1.0, std::min(k, 1e9))) : 1;
  apply_top_k(c, ki);
  return draw_and_update(c, tau, eta, mu, rng);
}

int32_t sample_mirostat_v2(Candidates& c, float tau, float eta, float& mu, std::mt19937_64& rng) {
  c.softmax();
  size_t keep = 0;
  while (keep < c.items.size() && -std::log2(std::max(c.items[keep].p, 1e-30f)) <= mu) ++keep;
  c.items.resize(std::max<size_t>(1, keep));
  return draw_and_update(c, tau, eta, mu, rng);
}

}  // namespace hearth::sampling
