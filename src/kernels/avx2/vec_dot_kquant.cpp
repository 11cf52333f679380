// AVX2 dot products of K-quant rows (Q2_K..Q6_K) with Q8_K activations.
//
// Each super-block is unpacked to eight 32-byte chunks of *unsigned* quants u
// (the signed value is u - offset), 16 per-group integer scales and mins. Then
//   Σ scale·(u - offset)·y = Σ scale·u·y - offset · Σ scale·bsum
// so one maddubs + madd(scale) per chunk does the work, and the correction
// terms come from Q8_K's per-16 sums.
#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx2/kquant_unpack_avx2.h"

namespace hearth::kernels::avx2 {

namespace {

template <class Block>
float dot_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sum = 0;
  Unpacked u;
  for (int64_t i = 0; i < nb; ++i) {
    unpack(a[i], &u);
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      __m256i p = _mm256_maddubs_epi16(u.u[c], load(y[i].qs + 32 * c));
      __m256i sc = u.per32 ? _mm256_set1_epi16(u.scale[2 * c])
                           : _mm256_set_m128i(_mm_set1_epi16(u.scale[2 * c + 1]), _mm_set1_epi16(u.scale[2 * c]));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
    }
    __m256i bs = load(y[i].bsums);
    int32_t isum = hsum_i32(acc);
    if (u.offset) isum -= u.offset * hsum_i32(_mm256_madd_epi16(bs, load(u.scale)));
    float s = u.d * static_cast<float>(isum);
    if (u.has_min) s -= u.dmin * static_cast<float>(hsum_i32(_mm256_madd_epi16(bs, load(u.min))));
    sum += y[i].d * s;
  }
  return sum;
}

}  // namespace

float vec_dot_q2_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ2_K>(n, w, x); }
float vec_dot_q3_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ3_K>(n, w, x); }
float vec_dot_q4_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ4_K>(n, w, x); }
float vec_dot_q5_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ5_K>(n, w, x); }
float vec_dot_q6_k(int64_t n, const void* w, const void* x) { return dot_k<BlockQ6_K>(n, w, x); }

}  // namespace hearth::kernels::avx2
