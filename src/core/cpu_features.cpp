#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace hearth::core {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = true;  // implied by every AVX2 CPU hearth targets; checked below
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512dq = __builtin_cpu_supports("avx512dq");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
    unsigned a, b, cc, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(cc), "=d"(d) : "a"(1), "c"(0));
    c.f16c = (cc >> 29) & 1;
    const int base_family = static_cast<int>((a >> 8) & 0xf);
    c.family = base_family == 0xf ? base_family + static_cast<int>((a >> 20) & 0xff) : base_family;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(cc), "=d"(d) : "a"(0), "c"(0));
    char vendor[12];
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &cc, 4);
    c.vendor.assign(vendor, 12);
#endif
    return c;
  }();
  return f;
}

Isa best_isa() {
  static const Isa isa = [] {
    const CpuFeatures& c = cpu_features();
    Isa best = Isa::kScalar;
    if (c.avx2 && c.fma && c.f16c) best = Isa::kAvx2;
    if (best == Isa::kAvx2 && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq) best = Isa::kAvx512;
    if (const char* forced = std::getenv("HEARTH_ISA")) {
      Isa want = best;
      if (std::strcmp(forced, "scalar") == 0) want = Isa::kScalar;
      else if (std::strcmp(forced, "avx2") == 0) want = Isa::kAvx2;
      else if (std::strcmp(forced, "avx512") == 0) want = Isa::kAvx512;
      if (static_cast<int>(want) < static_cast<int>(best)) best = want;
    }
    return best;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

std::string cpu_feature_string() {
  const CpuFeatures& c = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += n;
  };
  add(c.avx2, "avx2");
  add(c.fma, "fma");
  add(c.f16c, "f16c");
  add(c.avx512f, "avx512f");
  add(c.avx512bw, "avx512bw");
  add(c.avx512vl, "avx512vl");
  add(c.avx512vnni, "avx512vnni");
  add(c.avx512bf16, "avx512bf16");
  return s.empty() ? "none" : s;
}

}  // namespace hearth::core
