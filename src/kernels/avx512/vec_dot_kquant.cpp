// AVX-512 dot products of Q2_K, Q3_K and Q5_K rows with Q8_K activations: the AVX2
// unpacking (kquant_unpack_avx2.h), then two 32-byte chunks per 512-bit
// maddubs, with the four per-16 group scales spread by one vpermw.
#include <immintrin.h>

#include "kernels/avx2/kquant_unpack_avx2.h"
#include "kernels/avx512/kernels_avx512.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;
using avx2::Unpacked;

namespace {

template <class Block>
float dot_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  // Lane k (0..31) of the scale vector for chunk pair c is group 4c + k/8.
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) {
    alignas(64) int16_t v[32];
    for (int k = 0; k < 32; ++k) v[k] = static_cast<int16_t>(4 * c + k / 8);
    idx[c] = _mm512_load_si512(v);
  }
  float sum = 0;
  Unpacked u;
  for (int64_t i = 0; i < nb; ++i) {
    avx2::unpack(a[i], &u);
    const __m512i scales = _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(u.scale)));
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(u.u[2 * c]), u.u[2 * c + 1], 1);
      __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(y[i].qs + 64 * c));
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx[c], scales)));
    }
    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums));
    int32_t isum = _mm512_reduce_add_epi32(acc);
    if (u.offset)
      isum -= u.offset * avx2::hsum_i32(_mm256_madd_epi16(bs, _mm256_load_si256(reinterpret_cast<const __m256i*>(u.scale))));
    float s = u.d * static_cast<float>(isum);
    if (u.has_min)
      s -= u.dmin * static_cast<float>(avx2::hsum_i32(_mm256_madd_epi16(bs, _mm256_load_si256(reinterpret_cast<const __m256i*>(u.min)))));
    sum += y[i].d * s;
  }
  return sum;
}

}  // namespace

float vec_dot_q2_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ2_K>(n, w, x); }
float vec_dot_q3_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ3_K>(n, w, x); }
float vec_dot_q5_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ5_K>(n, w, x); }

}  // namespace hearth::kernels::avx512
