// AVX-512 VNNI products over weights interleaved 16 rows at a time
// (tensor/interleave.h): for each block of 32 inputs, 8 VNNI instructions
// (each 4 inputs × 16 rows, activation bytes broadcast from memory) build the
// 16 rows' integer dots, then one convert, one multiply and one FMA apply the
// 16 block scales at once (Q4_0, Q8_0; the K-quants below). Serves
// generation (one activation row) and prompt processing (up to kX16MaxX
// activation rows share each unpacked weight block).
// Reference: tensor::x16_gemv_ref.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/kernels_avx512.h"
#include "kernels/kernels.h"
#include "kernels/prefetch.h"
#include "tensor/blocks.h"
#include "tensor/interleave.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;

namespace {

// Software prefetch of the lines [l0, l1) (64 bytes each) `ahead` bytes past
// p with the policy's hint (kernels/prefetch.h); kStaged also requests them
// three times as far ahead into the outer levels and a half and an eighth as
// far into L1, kT1T0 half as far into L1. Each request's base is computed
// once and hidden from the optimizer, so the line offsets become address
// displacements: otherwise GCC keeps one offset per line and request,
// spilled to vector registers and moved back one by one (18 vmovq per Q4_0
// pair on the vector ports the kernel's arithmetic needs).
template <PrefetchHint H>
__attribute__((always_inline)) inline void prefetch_lines(const uint8_t* p, size_t ahead, size_t l0, size_t l1) {
  const char* c = reinterpret_cast<const char*>(p) + 64 * l0;
  auto base = [c](size_t off) __attribute__((always_inline)) {
    const char* b = c + off;
    asm("" : "+r"(b));
    return b;
  };
  if constexpr (H == PrefetchHint::kNta) {
    const char* b = base(ahead);
#pragma GCC unroll 9
    for (size_t l = 0; l < l1 - l0; ++l) _mm_prefetch(b + 64 * l, _MM_HINT_NTA);
  } else if constexpr (H == PrefetchHint::kStaged) {
    const char *b3 = base(3 * ahead), *b1 = base(ahead), *b8 = base(ahead / 8), *b2 = base(ahead / 2);
#pragma GCC unroll 9
    for (size_t l = 0; l < l1 - l0; ++l) {
      _mm_prefetch(b3 + 64 * l, _MM_HINT_T2);
      _mm_prefetch(b1 + 64 * l, _MM_HINT_T1);
      _mm_prefetch(b8 + 64 * l, _MM_HINT_T0);
      _mm_prefetch(b2 + 64 * l, _MM_HINT_T0);
    }
  } else if constexpr (H == PrefetchHint::kT1T0) {
    const char *b1 = base(ahead), *b2 = base(ahead / 2);
#pragma GCC unroll 9
    for (size_t l = 0; l < l1 - l0; ++l) {
      _mm_prefetch(b1 + 64 * l, _MM_HINT_T1);
      _mm_prefetch(b2 + 64 * l, _MM_HINT_T0);
    }
  }
}

// Calls f.template operator()<H>(ahead) with the prefetch policy's hint and
// distance for one weight type (`distance`: its field of the policy, in units
// of `unit_bytes`; `hint`: the field naming its hint), or with kNone when that
// distance is 0. Only the hints listed in kHints are instantiated; any other
// runs as kNone.
template <PrefetchHint... kHints, class F>
__attribute__((always_inline)) inline void with_prefetch(int PrefetchPolicy::*distance,
                                                         PrefetchHint PrefetchPolicy::*hint, size_t unit_bytes, F&& f) {
  const PrefetchPolicy& pf = prefetch_policy();
  const int units = pf.*distance;
  if (units > 0) {
    const PrefetchHint h = pf.*hint;
    const size_t ahead = static_cast<size_t>(units) * unit_bytes;
    if (((h == kHints && (f.template operator()<kHints>(ahead), true)) || ...)) return;
  }
  f.template operator()<PrefetchHint::kNone>(size_t{0});
}

// with_prefetch over the policy's own hints (kNta, kStaged) and `hint`.
template <class F>
__attribute__((always_inline)) inline void with_policy_prefetch(int PrefetchPolicy::*distance, size_t unit_bytes,
                                                                F&& f) {
  with_prefetch<PrefetchHint::kNta, PrefetchHint::kStaged>(distance, &PrefetchPolicy::hint, unit_bytes, f);
}

// The same for the kernels with a hint of their own in the policy (Q8_0 and
// the K-quants: `hint` names it), which may also be kT1T0.
template <class F>
__attribute__((always_inline)) inline void with_own_prefetch(int PrefetchPolicy::*distance,
                                                             PrefetchHint PrefetchPolicy::*hint, size_t unit_bytes,
                                                             F&& f) {
  with_prefetch<PrefetchHint::kNta, PrefetchHint::kStaged, PrefetchHint::kT1T0>(distance, hint, unit_bytes, f);
}

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

template <DType T, int NX, PrefetchHint H>
void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride, float* y,
          size_t y_stride, size_t ahead) {
  constexpr X16Legacy kLay = x16_legacy(T);
  constexpr size_t kPair = kLay.pair_bytes(), kCodes = kLay.code_bytes, kBlock = kLay.block_bytes(),
                   kScales = 2 * kBlock;
  constexpr bool kMasks = T == DType::kQ5_0 || T == DType::kQ5_1, kMins = T == DType::kQ4_1 || T == DType::kQ5_1;
  constexpr bool kNibbles = T != DType::kQ8_0, kInPlace = kNibbles && !kMasks;
  const int64_t nb = n / kQK;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  // One block: c its 16 rows' codes (Q5_0, Q5_1: then their masks), sc
  // their scales (Q4_1, Q5_1: their mins 64 bytes further), b its index.
  auto block = [&](const uint8_t* c, const uint8_t* sc, int64_t b, __m512* acc) __attribute__((always_inline)) {
    // Q4_0, Q4_1: u[0..3] the low nibbles, u[4..7] the high nibbles left in
    // place (16 × code: one AND instead of shift + AND); their dot is
    // exactly 16 × the true one and is shifted back once per block. Q5_0,
    // Q5_1: the high nibbles shifted down (a five-bit code in place would
    // pass 255), and 16 added where the chunk's masks have the fifth bit.
    // Q4_1, Q5_1 have no code offset; min × the activation block's sum is
    // added after the scaled dot.
    __m512i u[8];
    if constexpr (kMasks) {
      const __m512i k16 = _mm512_set1_epi8(16);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_loadu_si512(c + 64 * k);
        uint64_t ml, mh;
        std::memcpy(&ml, c + kCodes + 16 * k, 8);
        std::memcpy(&mh, c + kCodes + 16 * k + 8, 8);
        const __m512i lo = _mm512_and_si512(v, low4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        u[k] = _mm512_mask_add_epi8(lo, _cvtu64_mask64(ml), lo, k16);
        u[4 + k] = _mm512_mask_add_epi8(hi, _cvtu64_mask64(mh), hi, k16);
      }
    } else if constexpr (kInPlace) {
      const __m512i high4 = _mm512_set1_epi8(static_cast<char>(0xf0));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_loadu_si512(c + 64 * k);
        u[k] = _mm512_and_si512(v, low4);
        u[4 + k] = _mm512_and_si512(v, high4);
      }
    } else {
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) u[k] = _mm512_loadu_si512(c + 64 * k);
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc)));
    // Q4_1, Q5_1: the 16 rows' mins, 64 bytes after their scales.
    const __m512 mw = kMins ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + 64)))
                            : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int j = 0; j < NX; ++j) {
      const ActQ8& a = reinterpret_cast<const ActQ8*>(x + static_cast<size_t>(j) * x_stride)[b];
      // Two chains of 4 so that one activation row does not wait on 8
      // dependent VNNI latencies per block.
      __m512i s0 = kMins ? _mm512_setzero_si512() : _mm512_set1_epi32(a.off), s1 = _mm512_setzero_si512();
      if constexpr (kNibbles && NX == 1 && T == DType::kQ4_0) {
        // Generation: the block's 32 activation bytes in one load, each
        // 4-byte group broadcast with a permute instead of a load of its
        // own (9 loads per block -> 2 besides the codes). A/B in one process
        // on the AMD Zen 5 host (weights streamed by 2 threads in products
        // of 6 and 256 MiB, old and new alternating, both objects built with
        // aligned loops): 2-4% more GB/s, Q4_K's likewise 2-3%. Not for
        // Q6_K: its permutes streamed 1.2-1.35x slower (measured before the
        // loops were aligned, so partly placement).
        const __m512i q = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs)));
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          s0 = _mm512_dpbusd_epi32(s0, u[k], _mm512_permutexvar_epi32(_mm512_set1_epi32(k), q));
          s1 = _mm512_dpbusd_epi32(s1, u[4 + k], _mm512_permutexvar_epi32(_mm512_set1_epi32(4 + k), q));
        }
        if constexpr (kInPlace) s1 = _mm512_srai_epi32(s1, 4);
      } else if constexpr (kNibbles) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          s0 = _mm512_dpbusd_epi32(s0, u[k], bcast4(a.qs + 4 * k));
          s1 = _mm512_dpbusd_epi32(s1, u[4 + k], bcast4(a.qs + 16 + 4 * k));
        }
        if constexpr (kInPlace) s1 = _mm512_srai_epi32(s1, 4);
      } else {
#pragma GCC unroll 4
        for (int k = 0; k < 8; k += 2) {
          s0 = _mm512_dpbusd_epi32(s0, u[k], bcast4(a.qs + 4 * k));
          s1 = _mm512_dpbusd_epi32(s1, u[k + 1], bcast4(a.qs + 4 * k + 4));
        }
      }
      const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
      acc[j] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(a.d)), acc[j]);
      if constexpr (kMins) acc[j] = _mm512_fmadd_ps(mw, _mm512_set1_ps(a.s), acc[j]);
    }
  };
  // Software prefetch `ahead` bytes (whole pairs) ahead in the stream, the
  // lines of a pair spread over its two blocks (kernels/prefetch.h). Under
  // the "nta" policy Q4_0 takes 8 pairs (4.5 KiB) non-temporal, measured in
  // the model on AMD (A/B on alternate tokens, one process): 32 pairs ahead
  // with T0 was 5-14% slower at 70-90 GB/s, equal at 35-45 GB/s; no prefetch
  // 3-5% slower; T0 at 8 pairs 2.5% slower; Q8_0 no gain. On Intel
  // non-temporal prefetches throttle the stream (the "staged" policy).
  constexpr size_t kLines = (kPair + 63) / 64, kFirst = (kLines + 1) / 2;
  auto prefetch = [ahead](const uint8_t* pair, size_t l0, size_t l1) __attribute__((always_inline)) {
    if constexpr (H != PrefetchHint::kNone) prefetch_lines<H>(pair, ahead, l0, l1);
  };
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    __m512 acc[NX];
    for (int j = 0; j < NX; ++j) acc[j] = _mm512_setzero_ps();
    // Whole pairs, then the last block of an odd count (its pair padded).
    const uint8_t* pr = grp;
    for (int64_t b = 0; b + 1 < nb; b += 2, pr += kPair) {
      prefetch(pr, 0, kFirst);
      block(pr, pr + kScales, b, acc);
      prefetch(pr, kFirst, kLines);
      block(pr + kBlock, pr + kScales + 32, b + 1, acc);
    }
    if (nb & 1) block(pr, pr + kScales, nb - 1, acc);
    for (int j = 0; j < NX; ++j) _mm512_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g), acc[j]);
  }
}

// The loops the K-quant kernels share: per group of 16 rows,
// block(sb, a, acc) adds one super-block's contribution to the NX activation
// rows' accumulators (a[j]: row j's activation block); the sums are stored per
// row. Forced inline: a kernel body behind a call measured 25-35% slower in
// the AVX2 version.
template <int NX, size_t kBytes, class Block>
__attribute__((always_inline)) inline void k_quant_rows(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups,
                                                        const uint8_t* x, size_t x_stride, float* y, size_t y_stride,
                                                        Block block) {
  const int64_t nb = n / kQK_K;
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    __m512 acc[NX];
    for (int j = 0; j < NX; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const ActQ8K* a[NX];
      for (int j = 0; j < NX; ++j) a[j] = reinterpret_cast<const ActQ8K*>(x + static_cast<size_t>(j) * x_stride) + b;
      block(grp + static_cast<size_t>(b) * kBytes, a, acc);
    }
    for (int j = 0; j < NX; ++j) _mm512_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g), acc[j]);
  }
}

// 32 of a Q4_K / Q5_K super-block's 6-bit scales (tensor::X16KScales) as
// bytes: the low nibbles at `nib`, and the high two bits from `high`, which
// shifted left by `shift` land in bits 4-5. Unpacked where they are used
// (through a buffer on the stack, stores then narrower loads, the Q5_K prompt
// kernel ran 13% slower).
__attribute__((always_inline)) inline __m256i k_scales(const uint8_t* nib, const uint8_t* high, int shift) {
  const __m256i n = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nib));
  const __m256i h = _mm256_sll_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(high)), _mm_cvtsi32_si128(shift));
  return _mm256_or_si256(_mm256_and_si256(n, _mm256_set1_epi8(0x0f)), _mm256_and_si256(h, _mm256_set1_epi8(0x30)));
}

// Q4_K and Q5_K: per super-block and pair of sub-blocks, 8 code chunks give
// 16 code vectors; each activation row runs two 8-long VNNI chains (low and
// high sub-block), converts them to float and adds them times the sub-block
// scales × d (converted once per pair for every row), and the mins term is 4
// VPDPWSSD over the paired mins. One FMA per super-block for the activation
// scale, one for dmin. (The sub-block scales applied with integer multiplies
// instead, exact until one conversion per super-block: VPMULLD issues at
// 2.2 G/s against VPDPBUSD's 5.4 on the Intel host, and the prompt kernel
// ran 10-14% slower; the sums differ by float rounding only.) Q4_K keeps the
// high nibbles in place (16 × code, the 1/16 folded into the scale); Q5_K
// shifts them down (16 × a five-bit code no longer fits a byte) and its
// chunks' two 64-bit masks (loaded straight into mask registers) add 16 to
// the codes whose fifth bit is set.
template <int NX, bool kQ5, PrefetchHint H>
void gemm_q4_q5_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
                  float* y, size_t y_stride, size_t ahead) {
  static_assert(X16Q5K::kScaleMins == X16Q4K::kScaleMins && X16Q5K::kD == X16Q4K::kD &&
                X16Q5K::kDmin == X16Q4K::kDmin);
  constexpr size_t kScaleMins = X16Q4K::kScaleMins, kD = X16Q4K::kD, kDmin = X16Q4K::kDmin,
                   kBytes = kQ5 ? X16Q5K::kBytes : X16Q4K::kBytes;
  const __m512i low4 = _mm512_set1_epi8(0x0f), high4 = _mm512_set1_epi8(static_cast<char>(0xf0)),
                k16 = _mm512_set1_epi8(16);
  k_quant_rows<NX, kBytes>(n, w, group_bytes, n_groups, x, x_stride, y, y_stride,
                           [&](const uint8_t* sb, const ActQ8K* const* a, __m512* acc) __attribute__((always_inline)) {
    __m512 f[NX];  // per row: Σ sub-block dot × scale × d
    __m512i m[NX];
    for (int j = 0; j < NX; ++j) {
      f[j] = _mm512_setzero_ps();
      m[j] = _mm512_setzero_si512();
    }
    const uint8_t* sm = sb + kScaleMins;
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + kD)));
    // Q4_K's high sub-block dots are 16 × the true ones (exact in float: below 2^24).
    const __m512 d_hi = kQ5 ? d : _mm512_mul_ps(d, _mm512_set1_ps(1.0f / 16));
#pragma GCC unroll 1
    for (int p = 0; p < 4; ++p) {
      // Under the "nta" policy no software prefetch: the layout is read in
      // order (scales first, then the codes) and the hardware prefetchers
      // follow. In the model on AMD (A/B on alternate tokens, Q4_K file, 2
      // threads), against prefetching 2 super-blocks ahead (NTA, a quarter
      // per step): 0-1.4% faster; half, one or three ahead 2-7% slower. The
      // earlier layout (codes, then the scales) read 4-10% slower, and
      // without prefetch 9-12% slower still. Under "staged" and "mixed" (T1
      // and T0, Zen 5: 17-21% faster than none), `ahead` bytes ahead, a
      // quarter of a super-block per step.
      if constexpr (H != PrefetchHint::kNone) {
        constexpr size_t kQuarter = (kBytes + 255) / 256 * 64;
        prefetch_lines<H>(sb, ahead, kQuarter * static_cast<size_t>(p) / 64,
                          (std::min<size_t>(kBytes, kQuarter * (p + 1)) + 63) / 64);
      }
      const uint8_t* codes = sb + (kQ5 ? X16Q5K::codes(p) : X16Q4K::kCodes + 512 * static_cast<size_t>(p));
      __m512i lo[8], hi[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m512i v = _mm512_loadu_si512(codes + 64 * c);
        lo[c] = _mm512_and_si512(v, low4);
        if constexpr (kQ5) {
          uint64_t ml, mh;
          std::memcpy(&ml, sb + X16Q5K::masks(p) + 16 * c, 8);
          std::memcpy(&mh, sb + X16Q5K::masks(p) + 16 * c + 8, 8);
          hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
          lo[c] = _mm512_mask_add_epi8(lo[c], _cvtu64_mask64(ml), lo[c], k16);
          hi[c] = _mm512_mask_add_epi8(hi[c], _cvtu64_mask64(mh), hi[c], k16);
        } else {
          hi[c] = _mm512_and_si512(v, high4);  // 16 × code, shifted back once below
        }
      }
      // Sub-blocks 2p, 2p + 1: scale bytes 32p.. (X16KScales), the high
      // bits at 2(p / 2) in the bytes 32(p % 2)...
      const __m256i sc = k_scales(sm + 32 * p, sm + X16KScales::kHigh + 32 * (p % 2), 4 - 2 * (p / 2));
      const __m512 sc_lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(sc))), d);
      const __m512 sc_hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(sc, 1))), d_hi);
#pragma GCC unroll 4
      for (int j = 0; j < NX; ++j) {
        const int8_t* xq = a[j]->qs + 64 * p;
        __m512i s_lo = _mm512_setzero_si512(), s_hi = _mm512_setzero_si512();
        if constexpr (NX == 1) {  // generation: one load, broadcasts by permutes (as Q4_0 above)
          const __m512i q = _mm512_loadu_si512(xq);
#pragma GCC unroll 8
          for (int c = 0; c < 8; ++c) {
            s_lo = _mm512_dpbusd_epi32(s_lo, lo[c], _mm512_permutexvar_epi32(_mm512_set1_epi32(c), q));
            s_hi = _mm512_dpbusd_epi32(s_hi, hi[c], _mm512_permutexvar_epi32(_mm512_set1_epi32(8 + c), q));
          }
        } else {
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
          s_lo = _mm512_dpbusd_epi32(s_lo, lo[c], bcast4(xq + 4 * c));
          s_hi = _mm512_dpbusd_epi32(s_hi, hi[c], bcast4(xq + 32 + 4 * c));
        }
        }
        f[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s_lo), sc_lo, f[j]);
        f[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s_hi), sc_hi, f[j]);
      }
    }
    // The mins: bytes 0..63 (k = 0, 1) from the high nibbles of bytes 0..63
    // and bits 4-5 of the high bytes, 64..127 (k = 2, 3) from bytes 64..127
    // and bits 6-7.
    const __m512i h = _mm512_loadu_si512(sm + X16KScales::kHigh), bits45 = _mm512_set1_epi8(0x30);
    const __m512i mins[2] = {
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(sm), 4), low4),
                        _mm512_and_si512(h, bits45)),
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(sm + 64), 4), low4),
                        _mm512_and_si512(_mm512_srli_epi16(h, 2), bits45))};
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i mk = _mm512_cvtepu8_epi16(k % 2 ? _mm512_extracti64x4_epi64(mins[k / 2], 1)
                                                     : _mm512_castsi512_si256(mins[k / 2]));
      for (int j = 0; j < NX; ++j) m[j] = _mm512_dpwssd_epi32(m[j], mk, _mm512_set1_epi32(a[j]->msum32[k]));
    }
    const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + kDmin)));
    for (int j = 0; j < NX; ++j) {
      const __m512 xd = _mm512_set1_ps(a[j]->d);
      acc[j] = _mm512_fmadd_ps(f[j], xd, acc[j]);
      acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m[j]), _mm512_mul_ps(dmin, xd), acc[j]);
    }
  });
}

// Q3_K and Q2_K: per super-block, half h and quarter j, the half's 8 code
// chunks (loaded once per half) masked to bits 2j, 2j+1 give 8 code vectors
// left in place (4^j × code: one AND, no shift; the dots are shifted back once
// per quarter, exact as every term is a multiple of 4^j). Q3_K adds 4 · 4^j
// where the quarter's masks have the third bit, except in quarter 3, whose
// codes would pass 255 in place and are shifted down instead. Each activation
// row runs 2 VNNI chains of 4 (the 2 groups of 16), scaled by the groups'
// scales (integer multiply). Q3_K's code offset (-4 · Σ scale · group sum)
// and Q2_K's mins are 8 VPDPWSSD over the paired scales or mins.
template <int NX, bool kQ3>
void gemm_q2_q3_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
                  float* y, size_t y_stride) {
  constexpr size_t kBytes = kQ3 ? X16Q3K::kBytes : X16Q2K::kBytes, kD = kQ3 ? X16Q3K::kD : X16Q2K::kD;
  const __m512i low4w = _mm512_set1_epi16(0x0f);
  // 16 lanes of (group 2k, group 2k+1) as int16: Q3_K's signed scales; Q2_K's
  // scale (low nibble) or min (high nibble).
  auto pair = [&](const uint8_t* p, bool min) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    if constexpr (kQ3) return _mm512_cvtepi8_epi16(v);
    const __m512i u = _mm512_cvtepu8_epi16(v);
    return min ? _mm512_srli_epi16(u, 4) : _mm512_and_si512(u, low4w);
  };
  k_quant_rows<NX, kBytes>(n, w, group_bytes, n_groups, x, x_stride, y, y_stride,
                           [&](const uint8_t* sb, const ActQ8K* const* a, __m512* acc) __attribute__((always_inline)) {
    __m512i q[NX];
    for (int j = 0; j < NX; ++j) q[j] = _mm512_setzero_si512();
#pragma GCC unroll 1
    for (int h = 0; h < 2; ++h) {
      const uint8_t* codes = sb + (kQ3 ? X16Q3K::codes(h) : X16Q2K::codes(h));
      __m512i v[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) v[c] = _mm512_loadu_si512(codes + 64 * c);
#pragma GCC unroll 4
      for (int jq = 0; jq < 4; ++jq) {
        const bool in_place = !kQ3 || jq < 3;
        const int scale_shift = in_place ? 2 * jq : 0;  // the codes are 4^jq × code
        __m512i u[8];
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
          u[c] = in_place ? _mm512_and_si512(v[c], _mm512_set1_epi8(static_cast<char>(3 << (2 * jq))))
                          : _mm512_and_si512(_mm512_srli_epi16(v[c], 6), _mm512_set1_epi8(3));
          if constexpr (kQ3) {
            uint64_t m;
            std::memcpy(&m, sb + X16Q3K::masks(h) + 64 * jq + 8 * c, 8);
            u[c] = _mm512_mask_add_epi8(u[c], _cvtu64_mask64(m), u[c], _mm512_set1_epi8(static_cast<char>(4 << scale_shift)));
          }
        }
        const __m512i p = pair(sb + 32 * (4 * h + jq), false);
        const __m512i s0 = _mm512_srai_epi32(_mm512_slli_epi32(p, 16), 16), s1 = _mm512_srai_epi32(p, 16);
#pragma GCC unroll 4
        for (int j = 0; j < NX; ++j) {
          const int8_t* xq = a[j]->qs + 128 * h + 32 * jq;
          __m512i i0 = _mm512_setzero_si512(), i1 = i0;
#pragma GCC unroll 4
          for (int c = 0; c < 4; ++c) {
            i0 = _mm512_dpbusd_epi32(i0, u[c], bcast4(xq + 4 * c));
            i1 = _mm512_dpbusd_epi32(i1, u[4 + c], bcast4(xq + 16 + 4 * c));
          }
          const __m512i t = _mm512_add_epi32(_mm512_mullo_epi32(i0, s0), _mm512_mullo_epi32(i1, s1));
          q[j] = _mm512_add_epi32(q[j], scale_shift ? _mm512_srai_epi32(t, scale_shift) : t);
        }
      }
    }
    __m512i m[NX];
    for (int j = 0; j < NX; ++j) m[j] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m512i pk = pair(sb + 32 * k, true);
      for (int j = 0; j < NX; ++j) m[j] = _mm512_dpwssd_epi32(m[j], pk, _mm512_set1_epi32(a[j]->msum16[k]));
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + kD)));
    for (int j = 0; j < NX; ++j) {
      const __m512 xd = _mm512_set1_ps(a[j]->d);
      if constexpr (kQ3) {
        const __m512i total = _mm512_sub_epi32(q[j], _mm512_slli_epi32(m[j], 2));  // codes are q + 4
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, xd), acc[j]);
      } else {
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + X16Q2K::kDmin)));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q[j]), _mm512_mul_ps(d, xd), acc[j]);
        acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m[j]), _mm512_mul_ps(dmin, xd), acc[j]);
      }
    }
  });
}

// Q6_K: per super-block and group g of 16 inputs, the group's three packed
// vectors give its four code vectors (X16Q6K: three ANDs, and chunk 3 from
// the vectors' top bits in two shifts, an AND, a shift and two bit-selects);
// each activation row runs one VNNI chain of 4 that starts from the code
// offset (ActQ8K::q6_off: -32 × the activation group's sum, broadcast from
// memory), converted to float and added times the group's 16 signed scales
// × d (converted once per group for every row; integer multiplies with one
// conversion per super-block ran 2-8% slower in prompts on the Intel host).
// One FMA per super-block for the activation scale.
template <int NX, PrefetchHint H>
void gemm_q6_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
               float* y, size_t y_stride, size_t ahead) {
  constexpr size_t kD = X16Q6K::kD, kBytes = X16Q6K::kBytes;
  const __m512i low6 = _mm512_set1_epi8(0x3f), low2 = _mm512_set1_epi8(0x03), low4 = _mm512_set1_epi8(0x0f),
                top2 = _mm512_set1_epi8(static_cast<char>(0xc0));
  k_quant_rows<NX, kBytes>(n, w, group_bytes, n_groups, x, x_stride, y, y_stride,
                           [&](const uint8_t* sb, const ActQ8K* const* a, __m512* acc) __attribute__((always_inline)) {
    __m512 f[NX];  // per row: Σ group dot × scale × d
    for (int j = 0; j < NX; ++j) f[j] = _mm512_setzero_ps();
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + kD)));
#pragma GCC unroll 1
    for (int quarter = 0; quarter < 4; ++quarter) {
      // Prefetch `ahead` bytes ahead, a quarter of a super-block per step
      // (issued all at once the 53 lines streamed ~30% slower). Under the
      // "nta" policy the next super-block, non-temporal; in the model on AMD
      // (A/B on alternate tokens, all-Q6_K file, 2 threads, the earlier
      // GGUF-like bit planes): two super-blocks ahead with T0 was 6-12%
      // slower, half a block or 1.25 ahead 3-5% slower; none at all 1% slower.
      // Under "mixed" (Zen 5) T1 two super-blocks ahead and T0 one.
      if constexpr (H != PrefetchHint::kNone)
        prefetch_lines<H>(sb, ahead, 14 * static_cast<size_t>(quarter),
                          (std::min<size_t>(kBytes, 64 * 14 * (quarter + 1)) + 63) / 64);
#pragma GCC unroll 4
      for (int gi = 0; gi < 4; ++gi) {
        const int g = 4 * quarter + gi;
        const uint8_t* pv = sb + X16Q6K::codes(g, 0);
        const __m512i p0 = _mm512_loadu_si512(pv), p1 = _mm512_loadu_si512(pv + 64), p2 = _mm512_loadu_si512(pv + 128);
        // Chunk 3: bits 0-1 from p0's top bits, 2-3 from p1's, 4-5 from
        // p2's (0xCA: first operand ? second : third, bit by bit). The 16-bit
        // shifts pull the next byte's bits into the ones the selects drop.
        const __m512i c01 =
            _mm512_ternarylogic_epi32(low2, _mm512_srli_epi16(p0, 6), _mm512_srli_epi16(p1, 4), 0xCA);
        const __m512i c[4] = {_mm512_and_si512(p0, low6), _mm512_and_si512(p1, low6), _mm512_and_si512(p2, low6),
                              _mm512_ternarylogic_epi32(low4, c01, _mm512_srli_epi16(_mm512_and_si512(p2, top2), 2),
                                                        0xCA)};
        const __m512 sc = _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + X16Q6K::scales(g))))),
            d);
#pragma GCC unroll 4
        for (int j = 0; j < NX; ++j) {
          const int8_t* xq = a[j]->qs + 16 * g;
          __m512i s = _mm512_set1_epi32(a[j]->q6_off[g]);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) s = _mm512_dpbusd_epi32(s, c[k], bcast4(xq + 4 * k));
          f[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, f[j]);
        }
      }
    }
    for (int j = 0; j < NX; ++j) acc[j] = _mm512_fmadd_ps(f[j], _mm512_set1_ps(a[j]->d), acc[j]);
  });
}

// K-quant kernels take at most 4 activation rows per pass (3 accumulators
// each beside 16 unpacked code vectors fill the 32 registers): k is called as
// k.template operator()<NX>(rows' activations, rows' outputs).
template <class K>
void by_four(const uint8_t* x, size_t xs, int nx, float* y, size_t ys, K k) {
  for (int j0 = 0; j0 < nx; j0 += 4) {
    const uint8_t* xj = x + static_cast<size_t>(j0) * xs;
    float* yj = y + static_cast<size_t>(j0) * ys;
    with_rows<4>(nx - j0, [&]<int NX>() { k.template operator()<NX>(xj, yj); });
  }
}

template <DType T>
void gemm_any(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
              size_t ys) {
  auto run = [&]<PrefetchHint H>(size_t ahead) {
    with_rows<kX16MaxX>(nx, [&]<int NX>() { gemm<T, NX, H>(n, w, gb, ng, x, xs, y, ys, ahead); });
  };
  if constexpr (T == DType::kQ8_0)
    with_own_prefetch(
        &PrefetchPolicy::q8_0_pairs, &PrefetchPolicy::q8_0_avx512_hint, x16_legacy(T).pair_bytes(), run);
  else
    with_policy_prefetch(&PrefetchPolicy::q4_0_pairs, x16_legacy(T).pair_bytes(), run);
}

}  // namespace

void gemm_x16_q4_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ4_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q4_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ4_1>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q5_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ5_1>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q5_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ5_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q8_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ8_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q2_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  by_four(x, xs, nx, y, ys, [&]<int NX>(const uint8_t* xj, float* yj) { gemm_q2_q3_k<NX, false>(n, w, gb, ng, xj, xs, yj, ys); });
}
void gemm_x16_q3_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  by_four(x, xs, nx, y, ys, [&]<int NX>(const uint8_t* xj, float* yj) { gemm_q2_q3_k<NX, true>(n, w, gb, ng, xj, xs, yj, ys); });
}
void gemm_x16_q4_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  with_own_prefetch(
      &PrefetchPolicy::q4_k_blocks, &PrefetchPolicy::q4_k_avx512_hint, X16Q4K::kBytes, [&]<PrefetchHint H>(size_t ahead) {
    by_four(x, xs, nx, y, ys, [&]<int NX>(const uint8_t* xj, float* yj) {
      gemm_q4_q5_k<NX, false, H>(n, w, gb, ng, xj, xs, yj, ys, ahead);
    });
  });
}
void gemm_x16_q5_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  with_own_prefetch(
      &PrefetchPolicy::q4_k_blocks, &PrefetchPolicy::q4_k_avx512_hint, X16Q5K::kBytes, [&]<PrefetchHint H>(size_t ahead) {
    by_four(x, xs, nx, y, ys, [&]<int NX>(const uint8_t* xj, float* yj) {
      gemm_q4_q5_k<NX, true, H>(n, w, gb, ng, xj, xs, yj, ys, ahead);
    });
  });
}
void gemm_x16_q6_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  with_own_prefetch(
      &PrefetchPolicy::q6_k_blocks, &PrefetchPolicy::q6_k_avx512_hint, X16Q6K::kBytes, [&]<PrefetchHint H>(size_t ahead) {
    by_four(x, xs, nx, y, ys, [&]<int NX>(const uint8_t* xj, float* yj) {
      gemm_q6_k<NX, H>(n, w, gb, ng, xj, xs, yj, ys, ahead);
    });
  });
}

}  // namespace hearth::kernels::avx512
