// Software prefetch for the interleaved products' weight streams: which hint,
// and how far ahead per weight type. Chosen once per CPU, because the CPU
// families this VM kind runs on want different things (docs/benchmarks.md,
// "Twelfth session" and "Twenty-second session"):
// - "nta" (AMD Zen 4, where it was tuned): Q4_0-like pairs 8 ahead and Q6_K
//   one super-block ahead with prefetchnta, which fills L1 without displacing
//   L2; Q8_0 and Q4_K none (the hardware prefetchers follow the stream).
//   There, prefetching into L2 or T0 measured 2.5-12% slower.
// - "mixed" (AMD Zen 5 and later, family 0x1A+): "nta" for the Q4_0-like
//   types and Q8_0, but the AVX-512 K-quant kernels prefetch T1 at the
//   distance and T0 at half of it, Q4_K 4 super-blocks (9 KiB) and Q6_K 2
//   (6.6 KiB) ahead. On Zen 5 (A/B on alternate tokens, Q4_K_M file, 2
//   threads) Q4_K with no prefetch took 1.17-1.21x the token time of NTA two
//   super-blocks ahead, which took 1.07-1.08x that of T1+T0; Q6_K's NTA one
//   ahead 1.05x that of none and 1.08x that of T1+T0. Q4_0 and Q8_0 measured
//   5-17% slower with any other hint or distance tried there.
// - "staged" (Intel; measured on Emerald Rapids): every type prefetched in
//   three stages, each line three times: prefetcht2 three distances ahead,
//   prefetcht1 one distance (4-9 KiB) ahead and prefetcht0 an eighth of it
//   ahead. There, non-temporal prefetches limit a core to its few L1 fill
//   buffers: one thread of the Q4_0 kernel over 75 MB (held in that host's
//   L3) read 6.6 GB/s with them, 18 with none and 24-27 with T0/T1; the
//   model's generation read 45-49% of the probe's bandwidth with "nta" and
//   80-87% with T1 alone. A single prefetch per line, at any distance from 4.5
//   to 64 KiB and with any hint, left a kernel with Q4_0's arithmetic per
//   byte at ~0.91 of the read loop; the second, farther one brought it to
//   0.95 and the near T0 one to 0.96, and tokens took 3-6% (Q4_0), 4-13%
//   (Q4_K_M) and 12% (all-Q6_K) less time than with T1 alone, the more the
//   busier the host; the far one at three distances instead of two took Q4_0
//   another 2.8% (others within 0.4%) (docs/benchmarks.md, "Thirteenth
//   session").
// The AVX-512 kernels request each line a fourth time, T0 at half the
// distance: tokens 3.5% (Q4_0), 0.8% (Q4_K_M) and 0.2% (all-Q6_K) faster
// than the three stages there, while the AVX2 kernels measured equal or
// slower with it and keep three (A/B on alternate tokens, fourteenth
// session). The exception is the AVX-512 Q8_0 kernel, the least arithmetic
// per byte of all: under "staged" it takes two requests per line, T1 at the
// distance and T0 at half of it (1.3-2.7% faster tokens than three stages
// with T1 alone, another 0.7-1.3% with the T0; the four stages 3% slower);
// the AVX2 Q8_0 kernel, with about twice the instructions per byte, was 6%
// slower with T1 alone and stays staged.
// The AVX2 kernels follow the policy too: "staged" as above with its
// distances; otherwise their own T0 distances, tuned on AMD.
// HEARTH_PREFETCH=nta|mixed|staged overrides the choice. Prefetching never changes
// results.
#pragma once

#include <cstddef>
#include <string>

#include "core/cpu_features.h"

namespace hearth::kernels {

// kStaged: T2 at three times the distance, T1 at the distance, T0 at an
// eighth (the AVX-512 kernels add a T0 at half the distance).
// kT1T0: T1 at the distance, T0 at half of it.
enum class PrefetchHint { kNone, kNta, kStaged, kT1T0 };

struct PrefetchPolicy {
  const char* name = "nta";
  PrefetchHint hint = PrefetchHint::kNta;
  // Distances; 0: no software prefetch for that type.
  int q4_0_pairs = 8;   // Q4_0, Q4_1, Q5_0, Q5_1: block pairs ahead
  int q8_0_pairs = 0;   // Q8_0: block pairs ahead
  int q4_k_blocks = 0;  // Q4_K, Q5_K: super-blocks ahead
  int q6_k_blocks = 1;  // Q6_K: super-blocks ahead
  // The AVX-512 Q8_0, Q4_K/Q5_K and Q6_K kernels' hints in place of `hint`
  // (see above); the AVX2 kernels follow `hint` alone.
  PrefetchHint q8_0_avx512_hint = PrefetchHint::kNta;
  PrefetchHint q4_k_avx512_hint = PrefetchHint::kNta;
  PrefetchHint q6_k_avx512_hint = PrefetchHint::kNta;
};

// The policy named `forced` (HEARTH_PREFETCH's value, may be null), else the
// one for this CPU. An unknown name falls back to the CPU's and sets *error.
PrefetchPolicy choose_prefetch_policy(const core::CpuFeatures& cpu, const char* forced, std::string* error);

// Chosen once, at first use (a bad HEARTH_PREFETCH is reported on stderr).
const PrefetchPolicy& prefetch_policy();

// kStaged's requests for the line `ahead` bytes past p (AVX-512 and AVX2
// kernels alike): locality 1, 2, 3 are prefetcht2, prefetcht1, prefetcht0.
__attribute__((always_inline)) inline void prefetch_staged(const void* p, size_t ahead) {
  const char* c = static_cast<const char*>(p);
  __builtin_prefetch(c + 3 * ahead, 0, 1);
  __builtin_prefetch(c + ahead, 0, 2);
  __builtin_prefetch(c + ahead / 8, 0, 3);
}

}  // namespace hearth::kernels
