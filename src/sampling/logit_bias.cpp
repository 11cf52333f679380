#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_logit_bias(Candidates& c, const std::unordered_map<int32_t, float>& bias) {
  if (bias.empty()) return;
  for (auto& x : c.items) {
    auto it = bias.find(x.id);
    if (it != bias.end()) x.logit += it->second;
  }
  c.sorted = false;
}

}  // namespace hearth::sampling
