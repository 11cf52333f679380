// AVX2 products over weights interleaved 16 rows at a time (tensor/interleave.h)
// for CPUs without AVX-512 VNNI: each 64-byte chunk is two 256-bit halves
// (rows 0-7, rows 8-15); VPMADDUBSW multiplies 4 codes of 8 rows by the
// broadcast activation bytes into 16-bit pair sums, VPMADDWD folds them to
// 32-bit lanes (one per row), and the 8 rows' block scales are applied as one
// vector. Q4_0 sums the 16-bit results of a whole block before folding (at
// most 8 × 2 × 15 × 128 < 32768); Q8_0 codes are turned back to signed and
// multiplied with the sign trick (|w| · sign(x, w)), folding each chunk.
// The K-quants below. Reference: tensor::x16_gemv_ref.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx2/kernels_avx2.h"
#include "kernels/prefetch.h"
#include "tensor/blocks.h"
#include "tensor/interleave.h"

namespace hearth::kernels::avx2 {

using namespace hearth::tensor;

namespace {

// Software prefetch of the weight stream, one line at a time. Under the
// "staged" policy (Intel; kernels/prefetch.h) every line three times, T2
// three distances ahead, T1 one distance and T0 an eighth, the distance the
// policy's for the type (`distance` units of `unit_bytes`); otherwise T0 at
// the kernel's own distance, tuned on AMD. On the Intel host with
// HEARTH_ISA=avx2 (token-alternating A/B, Q4_0 file) staged took 0.885 of
// the token time of T0 32 pairs ahead (T1 alone 16 pairs ahead: 0.955).
struct StreamPrefetch {
  bool staged;
  size_t ahead;
  __attribute__((always_inline)) void line(const uint8_t* p) const {
    if (staged) prefetch_staged(p, ahead);
    else _mm_prefetch(reinterpret_cast<const char*>(p) + ahead, _MM_HINT_T0);
  }
};

StreamPrefetch stream_prefetch(int PrefetchPolicy::*distance, size_t unit_bytes, size_t own_ahead) {
  const PrefetchPolicy& pf = prefetch_policy();
  const int units = pf.*distance;
  if (pf.hint == PrefetchHint::kStaged && units > 0) return {true, static_cast<size_t>(units) * unit_bytes};
  return {false, own_ahead};
}

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// The high bits of 32 codes (bit i of m for byte i) as `value` or 0 per byte.
inline __m256i high_bits(uint32_t m, __m256i value) {
  const __m256i which_byte = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                              2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(m)), which_byte), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(v, bit), value);
}

// One half (8 rows) of one block for one activation row: the 8 rows' integer
// dots including the code offset.
template <DType T>
inline __m256i block_dot(const __m256i* u, const ActQ8& a) {
  const __m256i ones = _mm256_set1_epi16(1);
  // Q4_1 and Q5_1 have no code offset (their mins are applied by the caller).
  const __m256i off = T == DType::kQ4_1 || T == DType::kQ5_1 ? _mm256_setzero_si256() : _mm256_set1_epi32(a.off);
  if constexpr (T == DType::kQ4_0 || T == DType::kQ4_1) {
    __m256i s16 = _mm256_maddubs_epi16(u[0], bcast4(a.qs));
#pragma GCC unroll 7
    for (int k = 1; k < 8; ++k) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(u[k], bcast4(a.qs + 4 * k)));
    return _mm256_add_epi32(_mm256_madd_epi16(s16, ones), off);
  } else if constexpr (T == DType::kQ5_0 || T == DType::kQ5_1) {
    // Codes reach 31: fold every 4 chunks (4 × 2 × 31 × 128 < 32768).
    __m256i s16[2];
#pragma GCC unroll 2
    for (int f = 0; f < 2; ++f) {
      s16[f] = _mm256_maddubs_epi16(u[4 * f], bcast4(a.qs + 16 * f));
#pragma GCC unroll 3
      for (int k = 1; k < 4; ++k) s16[f] = _mm256_add_epi16(s16[f], _mm256_maddubs_epi16(u[4 * f + k], bcast4(a.qs + 16 * f + 4 * k)));
    }
    const __m256i s32 = _mm256_add_epi32(_mm256_madd_epi16(s16[0], ones), _mm256_madd_epi16(s16[1], ones));
    return _mm256_add_epi32(s32, off);
  } else {
    __m256i s32 = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m256i x = bcast4(a.qs + 4 * k);
      s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(u[k], u[k]),
                                                                         _mm256_sign_epi8(x, u[k])),
                                                    ones));
    }
    return s32;  // signed codes: no offset
  }
}

template <DType T>
void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride, int nx,
          float* y, size_t y_stride) {
  constexpr X16Legacy kLay = x16_legacy(T);
  constexpr size_t kPair = kLay.pair_bytes(), kCodes = kLay.code_bytes, kBlock = kLay.block_bytes(),
                   kScales = 2 * kBlock;
  constexpr size_t kAhead = 32 * kPair, kLines = kPair / 64, kFirst = (kLines + 1) / 2;
  static_assert(kPair % 64 == 0);
  const int64_t nb = n / kQK;
  const __m256i low4 = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const StreamPrefetch pf =
      stream_prefetch(T == DType::kQ8_0 ? &PrefetchPolicy::q8_0_pairs : &PrefetchPolicy::q4_0_pairs, kPair, kAhead);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    // Up to 2 activation rows per pass over the group, both halves per block
    // (4 accumulators beside the 8 unpacked code vectors of a half).
    for (int j0 = 0; j0 < nx; j0 += 2) {
      const int nj = std::min(2, nx - j0);
      __m256 acc[2][2] = {{_mm256_setzero_ps(), _mm256_setzero_ps()}, {_mm256_setzero_ps(), _mm256_setzero_ps()}};
      // One block: c its 16 rows' codes, sc their scales, b its index.
      auto block = [&](const uint8_t* c0, const uint8_t* sc, int64_t b) __attribute__((always_inline)) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t* c = c0 + 32 * half;
          __m256i u[8];
          if constexpr (T == DType::kQ5_0 || T == DType::kQ5_1) {
            const __m256i k16 = _mm256_set1_epi8(16);
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
              const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 64 * k));
              uint32_t ml, mh;  // this half's 8 rows: bits 32·half.. of the chunk's masks
              std::memcpy(&ml, c0 + kCodes + 16 * k + 4 * half, 4);
              std::memcpy(&mh, c0 + kCodes + 16 * k + 8 + 4 * half, 4);
              u[k] = _mm256_or_si256(_mm256_and_si256(v, low4), high_bits(ml, k16));
              u[4 + k] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4), high_bits(mh, k16));
            }
          } else if constexpr (T == DType::kQ4_0 || T == DType::kQ4_1) {
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
              const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 64 * k));
              u[k] = _mm256_and_si256(v, low4);
              u[4 + k] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            }
          } else {
#pragma GCC unroll 8
            for (int k = 0; k < 8; ++k)
              u[k] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 64 * k)), flip);
          }
          const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 16 * half)));
          for (int j = 0; j < nj; ++j) {
            const ActQ8& a = reinterpret_cast<const ActQ8*>(x + static_cast<size_t>(j0 + j) * x_stride)[b];
            const __m256 s = _mm256_cvtepi32_ps(block_dot<T>(u, a));
            acc[j][half] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw, _mm256_set1_ps(a.d)), acc[j][half]);
            if constexpr (T == DType::kQ4_1 || T == DType::kQ5_1)  // the 8 rows' mins, 64 bytes after the scales
              acc[j][half] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 64 + 16 * half))),
                                             _mm256_set1_ps(a.s), acc[j][half]);
          }
        }
      };
      // The first pass streams the group from memory: prefetch (T0 32 block
      // pairs ahead unless the policy is "staged", StreamPrefetch) in the
      // stream, a pair's lines spread over its blocks (as the AVX-512 kernel;
      // without it the unrolled kernel outran the hardware prefetchers; on
      // AMD nearer or non-temporal measured 1-2% slower, A/B on alternate
      // tokens).
      const bool first = j0 == 0;
      auto prefetch = [&](const uint8_t* pair, size_t l0, size_t l1) __attribute__((always_inline)) {
        if (first)
#pragma GCC unroll 9
          for (size_t l = l0; l < l1; ++l) pf.line(pair + 64 * l);
      };
      // Whole pairs, then the last block of an odd count (its pair padded).
      const uint8_t* pr = grp;
      for (int64_t b = 0; b + 1 < nb; b += 2, pr += kPair) {
        prefetch(pr, 0, kFirst);
        block(pr, pr + kScales, b);
        prefetch(pr, kFirst, kLines);
        block(pr + kBlock, pr + kScales + 32, b + 1);
      }
      if (nb & 1) block(pr, pr + kScales, nb - 1);
      for (int j = 0; j < nj; ++j)
        for (int half = 0; half < 2; ++half)
          _mm256_storeu_ps(y + static_cast<size_t>(j0 + j) * y_stride + 16 * static_cast<size_t>(g) + 8 * half,
                           acc[j][half]);
    }
  }
}

// The loops the K-quant kernels share: for each group, pair of activation
// rows and half (8 rows), block(sb, a, nj, half, first_pass, acc) adds one
// super-block's contribution to the (up to) 2 rows' accumulators; a[j] is
// row j's activation block. The first pass over a group (half 0, rows 0-1)
// streams it from memory, the others find it in cache.
template <size_t kBytes, class Block>
__attribute__((always_inline)) inline void k_quant_gemm(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x,
                         size_t x_stride, int nx, float* y, size_t y_stride, Block block) {
  const int64_t nb = n / kQK_K;
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    for (int j0 = 0; j0 < nx; j0 += 2) {
      const int nj = std::min(2, nx - j0);
      for (int half = 0; half < 2; ++half) {
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int64_t b = 0; b < nb; ++b) {
          const ActQ8K* a[2] = {nullptr, nullptr};
          for (int j = 0; j < nj; ++j) a[j] = reinterpret_cast<const ActQ8K*>(x + static_cast<size_t>(j0 + j) * x_stride) + b;
          block(grp + static_cast<size_t>(b) * kBytes, a, nj, half, half == 0 && j0 == 0, acc);
        }
        for (int j = 0; j < nj; ++j)
          _mm256_storeu_ps(y + static_cast<size_t>(j0 + j) * y_stride + 16 * static_cast<size_t>(g) + 8 * half, acc[j]);
      }
    }
  }
}

// The 128 scale and 128 min bytes of a Q4_K / Q5_K super-block from their
// 6-bit form (tensor::X16KScales) into out[0, 128) and out[128, 256).
__attribute__((always_inline)) inline void unpack_k_scales(const uint8_t* sm, uint8_t* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
  auto load = [&](size_t off) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sm + off)); };
  auto merge = [&](__m256i low, __m256i high) {
    return _mm256_or_si256(_mm256_and_si256(low, low4), _mm256_and_si256(high, bits45));
  };
  auto store = [&](size_t off, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(out + off), v); };
  for (int i = 0; i < 2; ++i) {  // bytes 32i.. of each quarter of the logical values
    const __m256i lo = load(32 * static_cast<size_t>(i)), hi = load(64 + 32 * static_cast<size_t>(i));
    const __m256i h = load(X16KScales::kHigh + 32 * static_cast<size_t>(i));
    store(32 * i, merge(lo, _mm256_slli_epi16(h, 4)));
    store(64 + 32 * i, merge(hi, _mm256_slli_epi16(h, 2)));
    store(128 + 32 * i, merge(_mm256_srli_epi16(lo, 4), h));
    store(192 + 32 * i, merge(_mm256_srli_epi16(hi, 4), _mm256_srli_epi16(h, 2)));
  }
}

// Q4_K and Q5_K, per half (8 rows), super-block and sub-block of 32: 8
// chunks of codes (Q5_K: each fifth bit expanded from the masks, rows 0-7
// being the low 32 bits of a chunk's mask), VPMADDUBSW with the broadcast
// activation bytes summed in 16 bits (Q4_K: all 8, at most 8 × 2 × 15 × 128 <
// 32768; Q5_K: folded every 4, 4 × 2 × 31 × 128 < 32768), then VPMADDWD
// against the 8 rows' sub-block scales (as int16 in both halves of each
// lane) gives scale × dot in 32 bits. The mins term is 4 VPMADDWD over the
// paired mins. Up to 2 activation rows share each unpacked sub-block.
template <bool kQ5>
void gemm_q4_q5_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x,
                  size_t x_stride, int nx, float* y, size_t y_stride) {
  static_assert(X16Q5K::kScaleMins == X16Q4K::kScaleMins && X16Q5K::kD == X16Q4K::kD &&
                X16Q5K::kDmin == X16Q4K::kDmin);
  constexpr size_t kScaleMins = X16Q4K::kScaleMins, kD = X16Q4K::kD, kDmin = X16Q4K::kDmin,
                   kBytes = kQ5 ? X16Q5K::kBytes : X16Q4K::kBytes, kLines = (kBytes + 63) / 64;
  const __m256i low4 = _mm256_set1_epi8(0x0f), k16 = _mm256_set1_epi8(16);
  const StreamPrefetch pf = stream_prefetch(&PrefetchPolicy::q4_k_blocks, kBytes, 2 * kBytes);
  k_quant_gemm<kBytes>(n, w, group_bytes, n_groups, x, x_stride, nx, y, y_stride,
                       [&](const uint8_t* sb, const ActQ8K* const* a, int nj, int half, bool first, __m256* acc)
                           __attribute__((always_inline)) {
    __m256i q[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    // The scales and mins unpacked from 6 bits: [s][r] and [k][r][2].
    alignas(32) uint8_t sm[256];
    unpack_k_scales(sb + kScaleMins, sm);
    for (int s = 0; s < 8; ++s) {
      const int p = s / 2;
      // Prefetch on the first pass, an eighth of a super-block per step (T0
      // two ahead unless "staged"; in the model on AMD, HEARTH_ISA=avx2,
      // Q4_K: none 7-8% slower, one ahead ±0.4%).
      if (first)
        for (size_t l = kLines * s / 8; l < kLines * (s + 1) / 8; ++l) pf.line(sb + 64 * l);
      const uint8_t* codes = sb + (kQ5 ? X16Q5K::codes(p) : X16Q4K::kCodes + 512 * static_cast<size_t>(p));
      __m256i u[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 64 * c + 32 * half));
        u[c] = s % 2 ? _mm256_and_si256(_mm256_srli_epi16(v, 4), low4) : _mm256_and_si256(v, low4);
        if constexpr (kQ5) {
          uint32_t m;
          std::memcpy(&m, sb + X16Q5K::masks(p) + 16 * c + 8 * (s % 2) + 4 * half, 4);
          u[c] = _mm256_or_si256(u[c], high_bits(m, k16));
        }
      }
      int64_t sc8;
      std::memcpy(&sc8, sm + 16 * s + 8 * half, 8);
      const __m256i sc32 = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(sc8));
      const __m256i sc16 = _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16));  // scale in both 16-bit halves
      for (int j = 0; j < nj; ++j) {
        const int8_t* xq = a[j]->qs + 32 * s;
        if constexpr (kQ5) {
          __m256i s16[2];
#pragma GCC unroll 2
          for (int f = 0; f < 2; ++f) {
            s16[f] = _mm256_maddubs_epi16(u[4 * f], bcast4(xq + 16 * f));
#pragma GCC unroll 3
            for (int c = 1; c < 4; ++c)
              s16[f] = _mm256_add_epi16(s16[f], _mm256_maddubs_epi16(u[4 * f + c], bcast4(xq + 16 * f + 4 * c)));
          }
          q[j] = _mm256_add_epi32(q[j], _mm256_add_epi32(_mm256_madd_epi16(s16[0], sc16), _mm256_madd_epi16(s16[1], sc16)));
        } else {
          __m256i s16 = _mm256_maddubs_epi16(u[0], bcast4(xq));
#pragma GCC unroll 7
          for (int c = 1; c < 8; ++c) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(u[c], bcast4(xq + 4 * c)));
          q[j] = _mm256_add_epi32(q[j], _mm256_madd_epi16(s16, sc16));
        }
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kD + 16 * half)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kDmin + 16 * half)));
    for (int j = 0; j < nj; ++j) {
      __m256i m = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i mk = _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(sm + 128 + 32 * k + 16 * half)));
        m = _mm256_add_epi32(m, _mm256_madd_epi16(mk, _mm256_set1_epi32(a[j]->msum32[k])));
      }
      const __m256 xd = _mm256_set1_ps(a[j]->d);
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[j]), _mm256_mul_ps(d, xd), acc[j]);
      acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmin, xd), acc[j]);
    }
  });
}

// Q3_K and Q2_K, per half (8 rows), super-block, half h of the super-block
// and quarter j: the 8 code chunks shifted by 2j give 8 two-bit code vectors
// (Q3_K: plus 4 where the quarter's masks have the third bit) covering 2
// groups of 16; each group is 4 VPMADDUBSW summed in 16 bits, folded with
// VPMADDWD against the group's scale in both 16-bit halves. Q3_K's code offset
// (-4 · Σ scale · group sum) and Q2_K's mins are 8 VPMADDWD over the pairs.
template <bool kQ3>
void gemm_q2_q3_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
                  int nx, float* y, size_t y_stride) {
  constexpr size_t kBytes = kQ3 ? X16Q3K::kBytes : X16Q2K::kBytes, kD = kQ3 ? X16Q3K::kD : X16Q2K::kD,
                   kLines = (kBytes + 63) / 64;
  const __m256i low2 = _mm256_set1_epi8(3), k4 = _mm256_set1_epi8(4), low4w = _mm256_set1_epi16(0x0f);
  const StreamPrefetch pf = stream_prefetch(&PrefetchPolicy::q4_k_blocks, kBytes, 2 * kBytes);
  k_quant_gemm<kBytes>(n, w, group_bytes, n_groups, x, x_stride, nx, y, y_stride,
                       [&](const uint8_t* sb, const ActQ8K* const* a, int nj, int half, bool first, __m256* acc)
                           __attribute__((always_inline)) {
    // (group 2k, group 2k+1) of the half's 8 rows as int16 pairs: Q3_K's
    // signed scales; Q2_K's scales (low nibbles) or mins (high nibbles).
    auto pair = [&](int k, bool min) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + 32 * k + 16 * half));
      if constexpr (kQ3) return _mm256_cvtepi8_epi16(v);
      const __m256i u = _mm256_cvtepu8_epi16(v);
      return min ? _mm256_srli_epi16(u, 4) : _mm256_and_si256(u, low4w);
    };
    __m256i q[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int step = 0; step < 8; ++step) {
      const int h = step / 4, jq = step % 4;
      // Two super-blocks ahead on the first pass, an eighth per step (as Q4_K).
      if (first)
        for (size_t l = kLines * step / 8; l < kLines * (step + 1) / 8; ++l) pf.line(sb + 64 * l);
      const uint8_t* codes = sb + (kQ3 ? X16Q3K::codes(h) : X16Q2K::codes(h));
      const __m128i shift = _mm_cvtsi32_si128(2 * jq);
      __m256i u[8];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 64 * c + 32 * half));
        u[c] = _mm256_and_si256(_mm256_srl_epi16(v, shift), low2);
        if constexpr (kQ3) {
          uint32_t m;
          std::memcpy(&m, sb + X16Q3K::masks(h) + 64 * jq + 8 * c + 4 * half, 4);
          u[c] = _mm256_or_si256(u[c], high_bits(m, k4));
        }
      }
      const __m256i p = pair(4 * h + jq, false);
      const __m256i sc[2] = {_mm256_shufflehi_epi16(_mm256_shufflelo_epi16(p, 0xA0), 0xA0),   // group 2k twice
                             _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(p, 0xF5), 0xF5)};  // group 2k+1 twice
      for (int j = 0; j < nj; ++j) {
        const int8_t* xq = a[j]->qs + 128 * h + 32 * jq;
#pragma GCC unroll 2
        for (int gi = 0; gi < 2; ++gi) {
          const __m256i* ug = u + 4 * gi;
          const int8_t* xg = xq + 16 * gi;
          const __m256i s01 =
              _mm256_add_epi16(_mm256_maddubs_epi16(ug[0], bcast4(xg)), _mm256_maddubs_epi16(ug[1], bcast4(xg + 4)));
          const __m256i s23 =
              _mm256_add_epi16(_mm256_maddubs_epi16(ug[2], bcast4(xg + 8)), _mm256_maddubs_epi16(ug[3], bcast4(xg + 12)));
          q[j] = _mm256_add_epi32(q[j], _mm256_madd_epi16(_mm256_add_epi16(s01, s23), sc[gi]));  // 4 × 2 × 7 × 128 < 32768
        }
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kD + 16 * half)));
    for (int j = 0; j < nj; ++j) {
      __m256i m = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) m = _mm256_add_epi32(m, _mm256_madd_epi16(pair(k, true), _mm256_set1_epi32(a[j]->msum16[k])));
      const __m256 xd = _mm256_set1_ps(a[j]->d);
      if constexpr (kQ3) {
        const __m256i total = _mm256_sub_epi32(q[j], _mm256_slli_epi32(m, 2));  // codes are q + 4
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(d, xd), acc[j]);
      } else {
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + X16Q2K::kDmin + 16 * half)));
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[j]), _mm256_mul_ps(d, xd), acc[j]);
        acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dmin, xd), acc[j]);
      }
    }
  });
}

// Q6_K, per half (8 rows), super-block and group g of 16 inputs: the half of
// the group's three packed vectors give its four code vectors (X16Q6K: three
// ANDs, chunk 3 from the vectors' top bits in eight operations). The group's
// dot is two pairs of VPMADDUBSW summed in 16 bits (2 × 2 × 63 × 127 <
// 32768; four would overflow), each pair folded with VPMADDWD against the
// group's signed scale in both 16-bit halves. The code offset (-32 · Σ scale
// · group sum) is 8 VPMADDWD over the paired scales.
void gemm_q6_k(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
               int nx, float* y, size_t y_stride) {
  constexpr size_t kD = X16Q6K::kD, kBytes = X16Q6K::kBytes;
  const __m256i low6 = _mm256_set1_epi8(0x3f), low2 = _mm256_set1_epi8(0x03), bits23 = _mm256_set1_epi8(0x0c),
                bits45 = _mm256_set1_epi8(0x30);
  const StreamPrefetch pf = stream_prefetch(&PrefetchPolicy::q6_k_blocks, kBytes, kBytes);
  k_quant_gemm<kBytes>(n, w, group_bytes, n_groups, x, x_stride, nx, y, y_stride,
                       [&](const uint8_t* sb, const ActQ8K* const* a, int nj, int half, bool first, __m256* acc)
                           __attribute__((always_inline)) {
    // (scale 2k, scale 2k+1) of the half's 8 rows as int16 pairs.
    auto pair = [&](int k) {
      const __m128i s0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sb + X16Q6K::scales(2 * k) + 8 * half));
      const __m128i s1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sb + X16Q6K::scales(2 * k + 1) + 8 * half));
      return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s0, s1));
    };
    __m256i q[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int k = 0; k < 8; ++k) {  // groups 2k, 2k+1
      // Prefetch on the first pass, a quarter of a super-block per two steps
      // (T0 one ahead unless "staged"). In the model on AMD (HEARTH_ISA=avx2,
      // A/B on alternate tokens, all-Q6_K file, the earlier GGUF-like bit
      // planes): no prefetch 10-14% slower, two ahead 2.6-3.6% slower (T0) or
      // 1.7-2.2% (NTA), one ahead NTA 1.8-2%.
      if (first && k % 2 == 0)
        for (size_t l = 64 * 14 * static_cast<size_t>(k / 2); l < std::min<size_t>(kBytes, 64 * 14 * (k / 2 + 1));
             l += 64)
          pf.line(sb + l);
      const __m256i p = pair(k);
      const __m256i sc[2] = {_mm256_shufflehi_epi16(_mm256_shufflelo_epi16(p, 0xA0), 0xA0),   // scale 2k twice
                             _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(p, 0xF5), 0xF5)};  // scale 2k+1 twice
#pragma GCC unroll 2
      for (int gi = 0; gi < 2; ++gi) {
        const int g = 2 * k + gi;
        const uint8_t* pv = sb + X16Q6K::codes(g, 0) + 32 * half;
        const __m256i p0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pv));
        const __m256i p1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pv + 64));
        const __m256i p2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pv + 128));
        // Chunk 3: bits 0-1 from p0's top bits, 2-3 from p1's, 4-5 from p2's.
        const __m256i c3 = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(p0, 6), low2), _mm256_and_si256(_mm256_srli_epi16(p1, 4), bits23)),
            _mm256_and_si256(_mm256_srli_epi16(p2, 2), bits45));
        const __m256i u[4] = {_mm256_and_si256(p0, low6), _mm256_and_si256(p1, low6), _mm256_and_si256(p2, low6), c3};
        for (int j = 0; j < nj; ++j) {
          const int8_t* xg = a[j]->qs + 16 * g;
          const __m256i s01 =
              _mm256_add_epi16(_mm256_maddubs_epi16(u[0], bcast4(xg)), _mm256_maddubs_epi16(u[1], bcast4(xg + 4)));
          const __m256i s23 =
              _mm256_add_epi16(_mm256_maddubs_epi16(u[2], bcast4(xg + 8)), _mm256_maddubs_epi16(u[3], bcast4(xg + 12)));
          q[j] = _mm256_add_epi32(q[j], _mm256_add_epi32(_mm256_madd_epi16(s01, sc[gi]), _mm256_madd_epi16(s23, sc[gi])));
        }
      }
    }
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sb + kD + 16 * half)));
    for (int j = 0; j < nj; ++j) {
      __m256i m = _mm256_setzero_si256();
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) m = _mm256_add_epi32(m, _mm256_madd_epi16(pair(k), _mm256_set1_epi32(a[j]->msum16[k])));
      const __m256i total = _mm256_sub_epi32(q[j], _mm256_slli_epi32(m, 5));  // codes are q + 32
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(d, _mm256_set1_ps(a[j]->d)), acc[j]);
    }
  });
}

}  // namespace

void gemm_x16_q6_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_q6_k(n, w, gb, ng, x, xs, nx, y, ys);
}

void gemm_x16_q4_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_q4_q5_k<false>(n, w, gb, ng, x, xs, nx, y, ys);
}

void gemm_x16_q2_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_q2_q3_k<false>(n, w, gb, ng, x, xs, nx, y, ys);
}

void gemm_x16_q3_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_q2_q3_k<true>(n, w, gb, ng, x, xs, nx, y, ys);
}

void gemm_x16_q5_k(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_q4_q5_k<true>(n, w, gb, ng, x, xs, nx, y, ys);
}

void gemm_x16_q4_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm<DType::kQ4_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q4_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm<DType::kQ4_1>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q5_1(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm<DType::kQ5_1>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q5_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm<DType::kQ5_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q8_0(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm<DType::kQ8_0>(n, w, gb, ng, x, xs, nx, y, ys);
}

}  // namespace hearth::kernels::avx2
