// AVX-512 multi-row dot products: one weight row against up to 4 activation
// rows, unpacking each weight block once (Q4_0, Q8_0, Q4_K, Q6_K).
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

template <int R>
void q4_0_rows(int64_t n, const void* w, const void* x, size_t stride, float* out) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const BlockQ8_0* b[R];
  for (int r = 0; r < R; ++r) b[r] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(x) + r * stride);
  const int64_t nb = n / kQK;
  const __m512i eight = _mm512_set1_epi8(8), z = _mm512_setzero_si512();
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i u = nibbles_pair(a[i].qs, a[i + 1].qs);
    const float dw0 = f16(a[i].d), dw1 = f16(a[i + 1].d);
    for (int r = 0; r < R; ++r) {
      __m512i y = load_pair(b[r][i].qs, b[r][i + 1].qs);
      __m512i dot = _mm512_sub_epi32(_mm512_dpbusd_epi32(z, u, y), _mm512_dpbusd_epi32(z, eight, y));
      acc[r] = _mm512_fmadd_ps(scale_pair(dw0 * f16(b[r][i].d), dw1 * f16(b[r][i + 1].d)), _mm512_cvtepi32_ps(dot), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    out[r] = _mm512_reduce_add_ps(acc[r]);
    if (i < nb) out[r] += vec_dot_q4_0(kQK, a + i, b[r] + i);
  }
}

template <int R>
void q8_0_rows(int64_t n, const void* w, const void* x, size_t stride, float* out) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const BlockQ8_0* b[R];
  for (int r = 0; r < R; ++r) b[r] = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(x) + r * stride);
  const int64_t nb = n / kQK;
  const __m512i z = _mm512_setzero_si512();
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    const __m512i q = load_pair(a[i].qs, a[i + 1].qs);
    const __m512i aq = _mm512_abs_epi8(q);
    const __mmask64 neg = _mm512_movepi8_mask(q);
    const float dw0 = f16(a[i].d), dw1 = f16(a[i + 1].d);
    for (int r = 0; r < R; ++r) {
      __m512i y = load_pair(b[r][i].qs, b[r][i + 1].qs);
      __m512i ys = _mm512_mask_sub_epi8(y, neg, z, y);
      __m512i dot = _mm512_dpbusd_epi32(z, aq, ys);
      acc[r] = _mm512_fmadd_ps(scale_pair(dw0 * f16(b[r][i].d), dw1 * f16(b[r][i + 1].d)), _mm512_cvtepi32_ps(dot), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    out[r] = _mm512_reduce_add_ps(acc[r]);
    if (i < nb) out[r] += vec_dot_q8_0(kQK, a + i, b[r] + i);
  }
}

template <int R>
void q4_k_rows(int64_t n, const void* w, const void* x, size_t stride, float* out) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const BlockQ8_K* y[R];
  for (int r = 0; r < R; ++r) y[r] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + r * stride);
  const int64_t nb = n / kQK_K;
  const ScaleIndex& si = scale_index();
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  __m512 acc[R];
  __m256 accm[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm512_setzero_ps();
    accm[r] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < nb; ++i) {
    uint32_t u[4];
    std::memcpy(u, a[i].scales, 12);
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t aux = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = aux;
    u[0] &= kmask1;
    const __m128i sm = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
    const __m512i sc16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(sm));
    const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(sm, 8), dup));
    __m512i q[4], sc[4];
    for (int c = 0; c < 4; ++c) {
      __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs + 32 * c)));
      q[c] = _mm512_and_si512(_mm512_srlv_epi16(v, shift), m4);
      sc[c] = _mm512_permutexvar_epi16(si.per32[c], sc16);
    }
    const float d = f16(a[i].d), dmin = f16(a[i].dmin);
    for (int r = 0; r < R; ++r) {
      __m512i isum = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c)
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(q[c], _mm512_loadu_si512(y[r][i].qs + 64 * c)), sc[c]));
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[r][i].bsums));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(y[r][i].d * d), acc[r]);
      accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mn16)), _mm256_set1_ps(-y[r][i].d * dmin), accm[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) + avx2::hsum(accm[r]);
}

template <int R>
void q6_k_rows(int64_t n, const void* w, const void* x, size_t stride, float* out) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const BlockQ8_K* y[R];
  for (int r = 0; r < R; ++r) y[r] = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) + r * stride);
  const int64_t nb = n / kQK_K;
  const ScaleIndex& si = scale_index();
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr_hi = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  __m512 acc[R];
  __m256 accc[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = _mm512_setzero_ps();
    accc[r] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(s8));
    __m512i u[4], sc[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(a[i].ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh + 32 * h)));
      u[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl_lo), m30));
      u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(_mm512_srlv_epi16(qh, shr_hi), m30));
      sc[2 * h] = _mm512_permutexvar_epi16(si.per16[2 * h], sc16);
      sc[2 * h + 1] = _mm512_permutexvar_epi16(si.per16[2 * h + 1], sc16);
    }
    const float dw = f16(a[i].d);
    for (int r = 0; r < R; ++r) {
      __m512i isum = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c)
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(_mm512_maddubs_epi16(u[c], _mm512_loadu_si512(y[r][i].qs + 64 * c)), sc[c]));
      const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[r][i].bsums));
      const float d = y[r][i].d * dw;
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc[r]);
      accc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, _mm512_castsi512_si256(sc16))), _mm256_set1_ps(-32.0f * d), accc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) + avx2::hsum(accc[r]);
}

#define HEARTH_ROWS_DISPATCH(name, fn)                                                                        \
  void name(int64_t n, const void* w, const void* x, size_t stride, int rows, float* out) {                 \
    switch (rows) {                                                                                          \
      case 1: fn<1>(n, w, x, stride, out); break;                                                             \
      case 2: fn<2>(n, w, x, stride, out); break;                                                             \
      case 3: fn<3>(n, w, x, stride, out); break;                                                             \
      default: fn<4>(n, w, x, stride, out); break;                                                            \
    }                                                                                                        \
  }

}  // namespace

HEARTH_ROWS_DISPATCH(vec_dot_rows_q4_0, q4_0_rows)
HEARTH_ROWS_DISPATCH(vec_dot_rows_q8_0, q8_0_rows)
HEARTH_ROWS_DISPATCH(vec_dot_rows_q4_k, q4_k_rows)
HEARTH_ROWS_DISPATCH(vec_dot_rows_q6_k, q6_k_rows)

}  // namespace hearth::kernels::avx512
