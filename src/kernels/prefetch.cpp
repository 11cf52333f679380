#include "kernels/prefetch.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hearth::kernels {

namespace {

PrefetchPolicy nta_policy() { return PrefetchPolicy{}; }

PrefetchPolicy staged_policy() {
  PrefetchPolicy p;
  p.name = "staged";
  p.hint = PrefetchHint::kStaged;
  p.q4_0_pairs = 16;  // 9 KiB
  p.q8_0_pairs = 6;   // 6.4 KiB
  p.q4_k_blocks = 2;  // 4.5 KiB
  p.q6_k_blocks = 2;  // 6.6 KiB
  p.q8_0_avx512_hint = PrefetchHint::kT1T0;
  p.q4_k_avx512_hint = PrefetchHint::kStaged;
  p.q6_k_avx512_hint = PrefetchHint::kStaged;
  return p;
}

PrefetchPolicy mixed_policy() {
  PrefetchPolicy p;  // "nta" for Q4_0-like types and Q8_0
  p.name = "mixed";
  p.q4_k_blocks = 4;  // 9 KiB
  p.q6_k_blocks = 2;  // 6.6 KiB
  p.q4_k_avx512_hint = PrefetchHint::kT1T0;
  p.q6_k_avx512_hint = PrefetchHint::kT1T0;
  return p;
}

}  // namespace

PrefetchPolicy choose_prefetch_policy(const core::CpuFeatures& cpu, const char* forced, std::string* error) {
  const PrefetchPolicy own = cpu.intel()                     ? staged_policy()
                             : cpu.amd() && cpu.family >= 0x1a ? mixed_policy()
                                                               : nta_policy();
  if (forced == nullptr || *forced == '\0') return own;
  if (std::strcmp(forced, "nta") == 0) return nta_policy();
  if (std::strcmp(forced, "mixed") == 0) return mixed_policy();
  if (std::strcmp(forced, "staged") == 0) return staged_policy();
  if (error)
    *error = std::string("HEARTH_PREFETCH='") + forced + "' is not one of nta, mixed, staged; using '" + own.name + "'";
  return own;
}

const PrefetchPolicy& prefetch_policy() {
  static const PrefetchPolicy p = [] {
    std::string error;
    PrefetchPolicy chosen = choose_prefetch_policy(core::cpu_features(), std::getenv("HEARTH_PREFETCH"), &error);
    if (!error.empty()) std::fprintf(stderr, "hearth: %s\n", error.c_str());
    return chosen;
  }();
  return p;
}

}  // namespace hearth::kernels
