#include <algorithm>
#include <chrono>
#include <cmath>

#include "sampling/params.h"

namespace hearth::sampling {

Status SamplingParams::validate(int32_t n_vocab) const {
  auto bad = [](const std::string& m) { return invalid_argument(m); };
  if (!std::isfinite(temperature) || temperature < 0) return bad("temperature must be a number >= 0");
  if (!(top_p >= 0 && top_p <= 1)) return bad("top_p must be between 0 and 1");
  if (!(min_p >= 0 && min_p <= 1)) return bad("min_p must be between 0 and 1");
  if (!(typical_p > 0 && typical_p <= 1)) return bad("typical_p must be in (0, 1]");
  if (!(tfs_z > 0 && tfs_z <= 1)) return bad("tfs_z must be in (0, 1]");
  if (!(repeat_penalty > 0) || !std::isfinite(repeat_penalty)) return bad("repeat_penalty must be > 0");
  if (repeat_last_n < -1) return bad("repeat_last_n must be >= -1");
  if (!std::isfinite(presence_penalty) || !std::isfinite(frequency_penalty))
    return bad("presence_penalty and frequency_penalty must be finite numbers");
  if (mirostat < 0 || mirostat > 2) return bad("mirostat must be 0, 1 or 2");
  if (!(mirostat_tau > 0) || !std::isfinite(mirostat_tau)) return bad("mirostat_tau must be > 0");
  if (!(mirostat_eta > 0) || !std::isfinite(mirostat_eta)) return bad("mirostat_eta must be > 0");
  for (const auto& [id, b] : logit_bias) {
    if (id < 0 || id >= n_vocab) return bad("logit_bias: token id " + std::to_string(id) + " is outside the vocabulary");
    if (std::isnan(b)) return bad("logit_bias: bias for token " + std::to_string(id) + " is not a number");
  }
  return Status();
}

SamplerChain::SamplerChain(SamplingParams p, int32_t n_vocab)
    : p_(std::move(p)),
      n_vocab_(n_vocab),
      rng_(p_.seed >= 0 ? static_cast<uint64_t>(p_.seed)
                        : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())),
      mu_(2 * p_.mirostat_tau) {}

int32_t SamplerChain::sample(std::span<const float> logits, std::span<const int32_t> history) {
  int32_t t = draw(logits, history);
  if (!json_) return t;
  if (!json_->allowed(t)) {
    masked_.assign(logits.begin(), logits.end());
    const bool any = json_->mask(masked_);
    // Vocabularies hold every byte, so some token continues the JSON; one
    // without any (or a schema asking for text it cannot write) ends here.
    if (!any) {
      if (const int32_t end = json_->an_end_token(); end >= 0) t = end;
    } else {
      t = draw(masked_, history);
      if (!json_->allowed(t)) {  // a bias of +inf on a masked token: the best allowed one instead
        int32_t best = -1;
        for (size_t i = 0; i < masked_.size(); ++i)
          if (masked_[i] != -INFINITY && (best < 0 || masked_[i] > masked_[static_cast<size_t>(best)]))
            best = static_cast<int32_t>(i);
        if (best >= 0) t = best;
      }
    }
  }
  json_->commit(t);
  return t;
}

int32_t SamplerChain::draw(std::span<const float> logits, std::span<const int32_t> history) {
  cand_.items.resize(logits.size());
  // A NaN logit (a numerically broken model) is never chosen while any other
  // token can be: it counts as -inf, which also keeps the samplers' sort
  // order total.
  for (size_t i = 0; i < logits.size(); ++i)
    cand_.items[i] = {static_cast<int32_t>(i), std::isnan(logits[i]) ? -INFINITY : logits[i], 0.0f};
  cand_.sorted = false;
  apply_logit_bias(cand_, p_.logit_bias);
  // Temperature 0 is plain greedy decoding over the (biased) logits: the
  // repetition heuristics do not apply, so it reproduces the model's argmax text.
  if (p_.temperature <= 0) return sample_greedy(cand_);
  size_t n_window = p_.repeat_last_n < 0 ? history.size() : std::min<size_t>(history.size(), static_cast<size_t>(p_.repeat_last_n));
  apply_penalties(cand_, history.subspan(history.size() - n_window), p_.repeat_penalty, p_.frequency_penalty,
                  p_.presence_penalty);
  if (p_.mirostat == 1) {
    apply_temperature(cand_, p_.temperature);
    return sample_mirostat_v1(cand_, p_.mirostat_tau, p_.mirostat_eta, 100, n_vocab_, mu_, rng_);
  }
  if (p_.mirostat == 2) {
    apply_temperature(cand_, p_.temperature);
    return sample_mirostat_v2(cand_, p_.mirostat_tau, p_.mirostat_eta, mu_, rng_);
  }
  apply_top_k(cand_, p_.top_k);
  apply_tail_free(cand_, p_.tfs_z);
  apply_typical(cand_, p_.typical_p);
  apply_top_p(cand_, p_.top_p);
  apply_min_p(cand_, p_.min_p);
  apply_temperature(cand_, p_.temperature);
  return sample_distribution(cand_, rng_);
}

Logprobs compute_logprobs(std::span<const float> logits, int32_t token, int top_n) {
  Logprobs r;
  float max = -INFINITY;
  for (float l : logits) max = std::max(max, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const float lse = max + static_cast<float>(std::log(sum));
  if (token >= 0 && static_cast<size_t>(token) < logits.size()) r.logprob = logits[token] - lse;
  top_n = std::clamp(top_n, 0, static_cast<int>(logits.size()));
  std::vector<int32_t> idx(logits.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(i);
  std::partial_sort(idx.begin(), idx.begin() + top_n, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  for (int i = 0; i < top_n; ++i) r.top.push_back({idx[i], logits[idx[i]] - lse});
  return r;
}

}  // namespace hearth::sampling
