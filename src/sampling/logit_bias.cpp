#include "sampling/candidates.h"

namespace hearth::sampling {

void apply_logit_bias(Candidates& c, const std::unordered_map<int32_t, float>& bias) {
  if (bias.empty()) return;
  for_each_listed(c, bias, [](Candidate& x, float b) { x.logit += b; });
  c.sorted = false;
}

}  // namespace hearth::sampling
