// Dedicated AVX-512 kernels for Q4_K and Q6_K (the types of the usual
// Q4_K_M mix): quants unpacked straight into 512-bit registers, scales
// spread with vpermw, and integer sums scaled into float accumulators per
// super-block (no horizontal reduction until the end of the row).
#include <immintrin.h>

#include <cstring>

#include "kernels/avx2/common.h"
#include "kernels/avx512/common.h"
#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;
using avx2::f16;

namespace {

inline float reduce(__m512 a, __m256 b) {
  return _mm512_reduce_add_ps(a) + avx2::hsum(b);
}

}  // namespace

float vec_dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const ScaleIndex& si = scale_index();
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);  // 0 low half, 4 high
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  __m512 acc = _mm512_setzero_ps();
  __m256 accm = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    // 8 scales then 8 mins, 6 bits each, out of the 12 packed bytes.
    uint32_t u[4];
    std::memcpy(u, a[i].scales, 12);
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t aux = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = aux;
    u[0] &= kmask1;
    const __m128i sm = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
    const __m512i sc16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(sm));  // lanes 0..7 scales
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(sm, 8), dup));
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c)));
      q = _mm512_and_si512(_mm512_srlv_epi16(q, shift), m4);  // [lo nibbles | hi nibbles]
      __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y[i].qs + 64 * c));
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(si.per32[c], sc16)));
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const float dy = y[i].d;
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dy * f16(a[i].d)), acc);
    accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mn16)), _mm256_set1_ps(-dy * f16(a[i].dmin)), accm);
  }
  return reduce(acc, accm);
}

float vec_dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const ScaleIndex& si = scale_index();
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);   // qh<<4 | qh<<2
  const __m512i shr_hi = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);  // qh    | qh>>2
  __m512 acc = _mm512_setzero_ps();
  __m256 accc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(s8));
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(a[i].ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h)));
      // chunks 4h, 4h+1: low nibbles of ql[0..31], ql[32..63] with qh bits 0-1, 2-3
      __m512i u0 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl_lo), m30));
      // chunks 4h+2, 4h+3: high nibbles with qh bits 4-5, 6-7
      __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                   _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), m30));
      __m512i p0 = _mm512_maddubs_epi16(u0, _mm512_loadu_si512(y[i].qs + 128 * h));
      __m512i p1 = _mm512_maddubs_epi16(u1, _mm512_loadu_si512(y[i].qs + 128 * h + 64));
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p0, _mm512_permutexvar_epi16(si.per16[2 * h], sc16)));
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p1, _mm512_permutexvar_epi16(si.per16[2 * h + 1], sc16)));
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    const float d = y[i].d * f16(a[i].d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc);
    // the -32 offset: Σ scale·32·bsum
    accc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, _mm512_castsi512_si256(sc16))),
                           _mm256_set1_ps(-32.0f * d), accc);
  }
  return reduce(acc, accc);
}

}  // namespace hearth::kernels::avx512
