// The working set of a sampling step: candidate tokens with their logits and
// (after softmax) probabilities, and the individual samplers of the chain.
// Each sampler lives in its own file; all keep at least one candidate.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

namespace hearth::sampling {

struct Candidate {
  int32_t id;
  float logit;
  float p;
};

struct Candidates {
  std::vector<Candidate> items;
  bool sorted = false;  // descending by logit

  void sort_desc();
  // p = softmax(logit) over the current items (sorts first).
  void softmax();
  // Walks the items from the most likely down, setting each one's p (its
  // share of the whole softmax) and calling stop(mass so far) after it;
  // returns the index where stop was first true, or items.size(). Sorts only
  // as far as the walk goes (items[0..i] are then in their final order): a
  // prefix of 64, then 4 times longer ones, partially sorted at a time; the
  // samplers that cut the distribution short (top-p, a draw) rarely need more
  // than the first few dozen of a vocabulary.
  size_t walk_mass(const std::function<bool(double)>& stop);
};

// The samplers' order: descending by logit, ties by id. One total order (the
// chain's logits hold no NaN), so full and partial sorts agree on every prefix.
inline bool ranks_before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// f(candidate, value) for the candidate of each id listed in `by_id` (a map
// id -> value) that is among c's items: found by index while the items are in
// id order (as the chain builds them: one lookup per listed id, not one per
// vocabulary entry), else by one pass over the items.
template <class Map, class F>
void for_each_listed(Candidates& c, const Map& by_id, F f) {
  const bool by_index = std::all_of(by_id.begin(), by_id.end(), [&](const auto& e) {
    return e.first >= 0 && static_cast<size_t>(e.first) < c.items.size() && c.items[static_cast<size_t>(e.first)].id == e.first;
  });
  if (by_index) {
    for (const auto& [id, value] : by_id) f(c.items[static_cast<size_t>(id)], value);
    return;
  }
  for (auto& x : c.items) {
    auto it = by_id.find(x.id);
    if (it != by_id.end()) f(x, it->second);
  }
}

void apply_logit_bias(Candidates& c, const std::unordered_map<int32_t, float>& bias);
// repeat_penalty divides positive logits (multiplies negative ones) of tokens
// seen in `window`; frequency and presence penalties subtract count·f and
// (count > 0)·p, as the usual engines do.
void apply_penalties(Candidates& c, std::span<const int32_t> window, float repeat, float frequency, float presence);
void apply_top_k(Candidates& c, int32_t k);
void apply_tail_free(Candidates& c, float z);
void apply_typical(Candidates& c, float p);
void apply_top_p(Candidates& c, float p);
void apply_min_p(Candidates& c, float p);
void apply_temperature(Candidates& c, float t);
// Draws from softmax(logits) with `rng`.
int32_t sample_distribution(Candidates& c, std::mt19937_64& rng);
int32_t sample_greedy(const Candidates& c);

// Mirostat (adaptive surprise control). `mu` is the caller's running state,
// initialised to 2·tau.
int32_t sample_mirostat_v1(Candidates& c, float tau, float eta, int32_t m, int32_t n_vocab, float& mu, std::mt19937_64& rng);
int32_t sample_mirostat_v2(Candidates& c, float tau, float eta, float& mu, std::mt19937_64& rng);

}  // namespace hearth::sampling
