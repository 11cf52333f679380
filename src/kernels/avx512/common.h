// Helpers shared by the AVX-512 kernels: two 32-value blocks per 512-bit
// register. Include only from files compiled with the AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace hearth::kernels::avx512 {

// The 32 int8 codes of block a then block b.
inline __m512i load_pair(const int8_t* a, const int8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

// The 4-bit codes of two blocks (16 bytes each, element j in the low nibble of
// byte j, element j+16 in its high nibble) as [lo p0, hi p0, lo p1, hi p1]:
// elements 0..31 of each block in order.
inline __m512i nibbles_pair(const uint8_t* p0, const uint8_t* p1) {
  __m256i q = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p1)),
                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0)));
  const __m256i m = _mm256_set1_epi8(0x0f);
  __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, m)),
                                 _mm256_and_si256(_mm256_srli_epi16(q, 4), m), 1);  // [lo0 lo1 hi0 hi1]
  return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));                       // [lo0 hi0 lo1 hi1]
}

// [d0 x 8, d1 x 8]: one scale per block of the pair.
inline __m512 scale_pair(float d0, float d1) { return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1); }

// K-quant sub-block scales spread to 16-bit lanes with one permute:
// idx[c]: lanes 0..15 -> group 2c, lanes 16..31 -> group 2c+1 (per-32 scales),
// or lanes 8k..8k+7 -> group 4c+k (per-16 scales), as 16-bit lane indices.
struct ScaleIndex {
  __m512i per32[4], per16[4];
  ScaleIndex() {
    for (int c = 0; c < 4; ++c) {
      alignas(64) int16_t a[32], b[32];
      for (int k = 0; k < 32; ++k) {
        a[k] = static_cast<int16_t>(2 * c + k / 16);
        b[k] = static_cast<int16_t>(4 * c + k / 8);
      }
      per32[c] = _mm512_load_si512(a);
      per16[c] = _mm512_load_si512(b);
    }
  }
};

inline const ScaleIndex& scale_index() {
  static const ScaleIndex s;
  return s;
}

}  // namespace hearth::kernels::avx512
