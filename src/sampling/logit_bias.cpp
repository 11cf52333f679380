#include <algorithm>

#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_logit_bias(Candidates& c, const std::unordered_map<int32_t, float>& bias) {
  if (bias.empty()) return;
  // In id order (as the chain builds them) a candidate is found by index.
  const bool by_index = std::all_of(bias.begin(), bias.end(), [&](const auto& e) {
    return e.first >= 0 && static_cast<size_t>(e.first) < c.items.size() && c.items[static_cast<size_t>(e.first)].id == e.first;
  });
  if (by_index) {
    for (const auto& [id, b] : bias) c.items[static_cast<size_t>(id)].logit += b;
  } else {
    for (auto& x : c.items) {
      auto it = bias.find(x.id);
      if (it != bias.end()) x.logit += it->second;
    }
  }
  c.sorted = false;
}

}  // namespace hearth::sampling
