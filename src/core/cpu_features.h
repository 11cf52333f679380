// CPU feature detection and the instruction-set level hearth's kernels use.
// The level is chosen once at start-up: the best the CPU supports, or the one
// forced with HEARTH_ISA=scalar|avx2|avx512 (clamped to what the CPU has).
#pragma once

#include <string>

namespace hearth::core {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  // CPUID's vendor string ("GenuineIntel", "AuthenticAMD", ...; empty off x86).
  std::string vendor;
  // CPUID's display family (base family, plus the extended family when the
  // base is 0xF): AMD Zen 4 is 0x19, Zen 5 0x1A; 0 off x86.
  int family = 0;
  bool intel() const { return vendor == "GenuineIntel"; }
  bool amd() const { return vendor == "AuthenticAMD"; }
};

const CpuFeatures& cpu_features();
Isa best_isa();
const char* isa_name(Isa isa);
// "avx2 fma f16c avx512f ..." for reports.
std::string cpu_feature_string();

}  // namespace hearth::core
