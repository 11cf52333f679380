// AVX2 dot products of Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 rows with Q8_0/Q8_1 activations.
#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "tensor/blocks.h"

namespace hearth::kernels::avx2 {

using namespace hearth::tensor;

float vec_dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m256 d = _mm256_set1_ps(f16(a[i].d) * f16(b[i].d));
    __m256i qx = _mm256_sub_epi8(nibbles_32(a[i].qs), eight);
    __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
  }
  return hsum(acc);
}

float vec_dot_q4_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < nb; ++i) {
    summs += f16(a[i].m) * f16(b[i].s);
    __m256 d = _mm256_set1_ps(f16(a[i].d) * f16(b[i].d));
    __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8s8(nibbles_32(a[i].qs), qy)), acc);
  }
  return hsum(acc) + summs;
}

float vec_dot_q5_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m256 d = _mm256_set1_ps(f16(a[i].d) * f16(b[i].d));
    __m256i hi = _mm256_and_si256(bits_to_bytes_32(a[i].qh), _mm256_set1_epi8(0x10));
    __m256i qx = _mm256_sub_epi8(_mm256_or_si256(nibbles_32(a[i].qs), hi), _mm256_set1_epi8(16));
    __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
  }
  return hsum(acc);
}

float vec_dot_q5_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0;
  for (int64_t i = 0; i < nb; ++i) {
    summs += f16(a[i].m) * f16(b[i].s);
    __m256 d = _mm256_set1_ps(f16(a[i].d) * f16(b[i].d));
    __m256i hi = _mm256_and_si256(bits_to_bytes_32(a[i].qh), _mm256_set1_epi8(0x10));
    __m256i qx = _mm256_or_si256(nibbles_32(a[i].qs), hi);
    __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8s8(qx, qy)), acc);
  }
  return hsum(acc) + summs;
}

float vec_dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    __m256 d = _mm256_set1_ps(f16(a[i].d) * f16(b[i].d));
    __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8s8(qx, qy)), acc);
  }
  return hsum(acc);
}

}  // namespace hearth::kernels::avx2
