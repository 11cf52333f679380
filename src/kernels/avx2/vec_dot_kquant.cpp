// AVX2 dot products of K-quant rows (Q2_K..Q6_K) with Q8_K activations.
//
// Each super-block is unpacked to eight 32-byte chunks of *unsigned* quants u
// (the signed value is u - offset), 16 per-group integer scales and mins. Then
//   Σ scale·(u - offset)·y = Σ scale·u·y - offset · Σ scale·bsum
// so one maddubs + madd(scale) per chunk does the work, and the correction
// terms come from Q8_K's per-16 sums.
#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "tensor/blocks.h"
#include "tensor/kquant_unpack.h"

namespace hearth::kernels::avx2 {

using namespace hearth::tensor;

namespace {

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

void unpack(const BlockQ4_K& b, Unpacked* u) {
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

void unpack(const BlockQ5_K& b, Unpacked* u) {
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

void unpack(const BlockQ6_K& b, Unpacked* u) {
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

void unpack(const BlockQ3_K& b, Unpacked* u) {
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

void unpack(const BlockQ2_K& b, Unpacked* u) {
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
