// AVX-512 VNNI dot products for Q4_0, Q5_0 and Q8_0 rows with Q8_0
// activations: two 32-element blocks per 512-bit step.
#include <immintrin.h>

#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx512/common.h"
#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;
using avx2::f16;

namespace {

// Σ (u - offset) · y per 4-byte group, for unsigned u and signed y.
inline __m512i dot_offset(__m512i u, __m512i y, __m512i offset) {
  __m512i z = _mm512_setzero_si512();
  return _mm512_sub_epi32(_mm512_dpbusd_epi32(z, u, y), _mm512_dpbusd_epi32(z, offset, y));
}

}  // namespace

float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  const __m512i eight = _mm512_set1_epi8(8);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    __m512i u = nibbles_pair(a[i].qs, a[i + 1].qs);
    __m512i y = load_pair(b[i].qs, b[i + 1].qs);
    __m512 d = scale_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot_offset(u, y, eight)), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  if (i < nb) s += avx2::vec_dot_q4_0(kQK, a + i, b + i);
  return s;
}

float vec_dot_q5_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  const __m512i sixteen = _mm512_set1_epi8(16);
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    uint32_t h0, h1;
    std::memcpy(&h0, a[i].qh, 4);
    std::memcpy(&h1, a[i + 1].qh, 4);
    __mmask64 hm = (static_cast<uint64_t>(h1) << 32) | h0;
    __m512i u = nibbles_pair(a[i].qs, a[i + 1].qs);  // elements 0..31 of each block, in order
    u = _mm512_mask_add_epi8(u, hm, u, sixteen);     // the fifth bit of element k is qh bit k
    __m512i y = load_pair(b[i].qs, b[i + 1].qs);
    __m512 d = scale_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot_offset(u, y, sixteen)), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  if (i < nb) s += avx2::vec_dot_q5_0(kQK, a + i, b + i);
  return s;
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    __m512i q = load_pair(a[i].qs, a[i + 1].qs);
    __m512i y = load_pair(b[i].qs, b[i + 1].qs);
    // |q| · (y with q's sign): the unsigned x signed form VNNI multiplies.
    __m512i ys = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(q), _mm512_setzero_si512(), y);
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(q), ys);
    __m512 d = scale_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d));
    acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  if (i < nb) s += avx2::vec_dot_q8_0(kQK, a + i, b + i);
  return s;
}

float vec_dot_f16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
    __m512 b0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)));
    __m512 a1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 16)));
    __m512 b1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i + 16)));
    acc0 = _mm512_fmadd_ps(a0, b0, acc0);
    acc1 = _mm512_fmadd_ps(a1, b1, acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if (i < n) s += avx2::vec_dot_f16(n - i, a + i, b + i);
  return s;
}

}  // namespace hearth::kernels::avx512
