#include "runtime/batch_plan.h"

namespace hearth::runtime {

void plan_prompt_chunks(std::span<const size_t> remaining, int64_t budget, std::span<size_t> take) {
  bool any = false;
  for (size_t i = 0; i < remaining.size(); ++i) {
    take[i] = 0;
    if (remaining[i] == 0 || budget <= 0) continue;
    const auto left = static_cast<size_t>(budget);
    if (remaining[i] <= left)
      take[i] = remaining[i];
    else if (!any)
      take[i] = left;
    else
      continue;
    any = true;
    budget -= static_cast<int64_t>(take[i]);
  }
}

}  // namespace hearth::runtime
