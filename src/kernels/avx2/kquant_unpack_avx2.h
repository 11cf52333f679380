// AVX2 unpacking of K-quant super-blocks into unsigned 32-byte chunks with
// per-16 integer scales and mins (shared by the AVX2 and AVX-512 kernels; the
// layout contract is described in vec_dot_kquant.cpp).
#pragma once

#include "kernels/avx2/common.h"
#include "tensor/blocks.h"
#include "tensor/kquant_unpack.h"

namespace hearth::kernels::avx2 {

using namespace hearth::tensor;

struct Unpacked {
  __m256i u[8];
  alignas(32) int16_t scale[16];
  alignas(32) int16_t min[16];
  float d, dmin;
  int offset;
  bool per32;  // scale[2c] == scale[2c+1] for every chunk (Q4_K/Q5_K)
  bool has_min;
};

inline __m256i lo_nib(__m256i b) { return _mm256_and_si256(b, _mm256_set1_epi8(0x0f)); }
inline __m256i hi_nib(__m256i b) { return _mm256_and_si256(_mm256_srli_epi16(b, 4), _mm256_set1_epi8(0x0f)); }
inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline void scales_k4(const uint8_t* s12, Unpacked* u) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, s12, &sc, &m);
    u->scale[2 * j] = u->scale[2 * j + 1] = sc;
    u->min[2 * j] = u->min[2 * j + 1] = m;
  }
}

inline void unpack(const BlockQ4_K& b, Unpacked* u) {
  u->d = f16(b.d);
  u->dmin = f16(b.dmin);
  u->offset = 0;
  u->per32 = u->has_min = true;
  scales_k4(b.scales, u);
  for (int j = 0; j < 4; ++j) {
    __m256i q = load(b.qs + 32 * j);
    u->u[2 * j] = lo_nib(q);
    u->u[2 * j + 1] = hi_nib(q);
  }
}

inline void unpack(const BlockQ5_K& b, Unpacked* u) {
  u->d = f16(b.d);
  u->dmin = f16(b.dmin);
  u->offset = 0;
  u->per32 = u->has_min = true;
  scales_k4(b.scales, u);
  const __m256i hb = load(b.qh), one = _mm256_set1_epi8(1);
  for (int j = 0; j < 4; ++j) {
    __m256i q = load(b.qs + 32 * j);
    __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4);
    __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4);
    u->u[2 * j] = _mm256_or_si256(lo_nib(q), h0);
    u->u[2 * j + 1] = _mm256_or_si256(hi_nib(q), h1);
  }
}

inline void unpack(const BlockQ6_K& b, Unpacked* u) {
  u->d = f16(b.d);
  u->dmin = 0;
  u->offset = 32;
  u->per32 = u->has_min = false;
  for (int g = 0; g < 16; ++g) u->scale[g] = b.scales[g];
  const __m256i m30 = _mm256_set1_epi8(0x30);
  for (int h = 0; h < 2; ++h) {
    __m256i ql0 = load(b.ql + 64 * h), ql1 = load(b.ql + 64 * h + 32), qh = load(b.qh + 32 * h);
    u->u[4 * h + 0] = _mm256_or_si256(lo_nib(ql0), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
    u->u[4 * h + 1] = _mm256_or_si256(lo_nib(ql1), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    u->u[4 * h + 2] = _mm256_or_si256(hi_nib(ql0), _mm256_and_si256(qh, m30));
    u->u[4 * h + 3] = _mm256_or_si256(hi_nib(ql1), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
  }
}

inline void unpack(const BlockQ3_K& b, Unpacked* u) {
  // The 16 6-bit scales, unpacked as in tensor/quant_k.cpp.
  uint32_t aux[4];
  std::memcpy(aux, b.scales, 12);
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  const int8_t* sc = reinterpret_cast<const int8_t*>(aux);
  for (int g = 0; g < 16; ++g) u->scale[g] = static_cast<int16_t>(sc[g] - 32);
  u->d = f16(b.d);
  u->dmin = 0;
  u->offset = 4;
  u->per32 = u->has_min = false;
  const __m256i hm = load(b.hmask), three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  for (int h = 0; h < 2; ++h) {
    __m256i q = load(b.qs + 32 * h);
    for (int s2 = 0; s2 < 4; ++s2) {
      __m256i low = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s2), three);
      __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + s2), one), 2);
      u->u[4 * h + s2] = _mm256_or_si256(low, hi);
    }
  }
}

inline void unpack(const BlockQ2_K& b, Unpacked* u) {
  u->d = f16(b.d);
  u->dmin = f16(b.dmin);
  u->offset = 0;
  u->per32 = false;
  u->has_min = true;
  for (int g = 0; g < 16; ++g) {
    u->scale[g] = b.scales[g] & 0xF;
    u->min[g] = b.scales[g] >> 4;
  }
  const __m256i three = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; ++h) {
    __m256i q = load(b.qs + 32 * h);
    for (int s2 = 0; s2 < 4; ++s2) u->u[4 * h + s2] = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s2), three);
  }
}

}  // namespace hearth::kernels::avx2
