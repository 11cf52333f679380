// AVX-512 dot products for F32, BF16, Q4_1 and Q5_1 rows.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx512/common.h"
#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;
using avx2::f16;

namespace {

inline __m512 bf16x16(const uint16_t* p) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

// Q4_1/Q5_1 share everything but the fifth bit.
template <class Block, bool kFive>
float dot_q_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  float summs = 0;
  int64_t i = 0;
  for (; i + 2 <= nb; i += 2) {
    __m512i u = nibbles_pair(a[i].qs, a[i + 1].qs);
    if constexpr (kFive) {
      uint32_t h0, h1;
      std::memcpy(&h0, a[i].qh, 4);
      std::memcpy(&h1, a[i + 1].qh, 4);
      u = _mm512_mask_add_epi8(u, (static_cast<uint64_t>(h1) << 32) | h0, u, _mm512_set1_epi8(16));
    }
    __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, load_pair(b[i].qs, b[i + 1].qs));
    acc = _mm512_fmadd_ps(scale_pair(f16(a[i].d) * f16(b[i].d), f16(a[i + 1].d) * f16(b[i + 1].d)),
                          _mm512_cvtepi32_ps(dot), acc);
    summs += f16(a[i].m) * f16(b[i].s) + f16(a[i + 1].m) * f16(b[i + 1].s);
  }
  float s = _mm512_reduce_add_ps(acc) + summs;
  if (i < nb) s += kFive ? avx2::vec_dot_q5_1(kQK, a + i, b + i) : avx2::vec_dot_q4_1(kQK, a + i, b + i);
  return s;
}

}  // namespace

float vec_dot_f32(int64_t n, const void* w, const void* x) {
  const float* a = static_cast<const float*>(w);
  const float* b = static_cast<const float*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if (i < n) s += avx2::vec_dot_f32(n - i, a + i, b + i);
  return s;
}

float vec_dot_bf16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(bf16x16(a + i), bf16x16(b + i), acc0);
    acc1 = _mm512_fmadd_ps(bf16x16(a + i + 16), bf16x16(b + i + 16), acc1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  if (i < n) s += avx2::vec_dot_bf16(n - i, a + i, b + i);
  return s;
}

float vec_dot_q4_1(int64_t n, const void* w, const void* x) { return dot_q_1<BlockQ4_1, false>(n, w, x); }
float vec_dot_q5_1(int64_t n, const void* w, const void* x) { return dot_q_1<BlockQ5_1, true>(n, w, x); }

}  // namespace hearth::kernels::avx512
