// AVX2 (F16C) attention helpers over the F16 and Q8_0 KV caches.
#include <algorithm>

#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "tensor/blocks.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace hearth::kernels::avx2 {

using tensor::BlockQ8_0;
using tensor::kQK;

float dot_f32_f16(int64_t n, const float* a, const uint16_t* b) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i))), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 8))), acc1);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * f16(b[i]);
  return s;
}

void axpy_f16(int64_t n, float alpha, const uint16_t* x, float* y) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))),
                                            _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * f16(x[i]);
}

// Blocks of K (16 positions) and of up to 8 V rows, of at most kMaxHd values
// each, are converted to float once into a stack buffer and reused for every
// head of the group; larger heads use the reference.
namespace {
constexpr int64_t kMaxHd = 256;
constexpr int kRows = 8;
// How far ahead (in bytes of the cache) K blocks and V rows are requested:
// the cache has left the caches since the last token (Q4_0 file, 1024
// positions, HEARTH_ISA=avx2: attention 3.1-3.3 -> 2.7-3.0 ms per token).
constexpr size_t kAhead = 8192;

inline void f16_rows(int64_t hd, int nr, const uint16_t* x, size_t stride, float* out) {
  for (int t = 0; t < nr; ++t)
    for (int64_t i = 0; i < hd; i += 8) {
      if (i % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(x + t * stride + i) + kAhead, _MM_HINT_T0);
      _mm256_store_ps(out + t * hd + i,
                      _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + t * stride + i))));
    }
}

// Q8_0 V rows [0, nr) (hd / 32 BlockQ8_0 each, row_bytes apart) as float.
inline void q8_rows(int64_t hd, int nr, const uint8_t* x, size_t row_bytes, float* out) {
  for (int t = 0; t < nr; ++t) {
    const auto* row = reinterpret_cast<const BlockQ8_0*>(x + t * row_bytes);
    for (int64_t c = 0; c < hd / kQK; ++c) {
      if (c % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + c) + kAhead, _MM_HINT_T0);
      const __m256 d = _mm256_set1_ps(f16(row[c].d));
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row[c].qs + 8 * k)));
        _mm256_store_ps(out + t * hd + c * kQK + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
      }
    }
  }
}

// One K block (16 positions) as float: kt[16·i + r] = value i of position r.
inline void f16_k_block(int64_t hd, const uint16_t* kb, float* kt) {
  for (int64_t i = 0; i < hd * 16; i += 8) {
    if (i % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(kb + i) + kAhead, _MM_HINT_T0);
    _mm256_store_ps(kt + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kb + i))));
  }
}
inline void q8_k_block(int64_t hd, const int8_t* codes, const uint16_t* scales, float* kt) {
  _mm_prefetch(reinterpret_cast<const char*>(scales) + kAhead, _MM_HINT_T0);
  for (int64_t c = 0; c < hd / kQK; ++c) {
    const __m256 d0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + c * 16)));
    const __m256 d1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + c * 16 + 8)));
    for (int64_t i = c * kQK; i < (c + 1) * kQK; ++i) {
      if (i % 4 == 0) _mm_prefetch(reinterpret_cast<const char*>(codes + 16 * i) + kAhead, _MM_HINT_T0);
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16 * i));
      _mm256_store_ps(kt + 16 * i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d0));
      _mm256_store_ps(kt + 16 * i + 8,
                      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), d1));
    }
  }
}

// Per block of kKBlock (16) positions: the block's keys, position-minor
// (tensor/kv_layout.h), converted to float once by load(j0, kt), then for up
// to 4 heads at a time two 8-position accumulators each take one broadcast
// query value times one row of the block per head dimension: no horizontal
// sums.
template <class LoadBlock>
void scores_blocks(int64_t hd, int g, const float* q, int64_t n_kv, float scale, float* s, size_t s_stride,
                   LoadBlock load) {
  static_assert(tensor::kKBlock == 16);
  alignas(32) float kt[kMaxHd * 16];
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
    const int nr = static_cast<int>(std::min<int64_t>(16, n_kv - j0));
    load(j0, kt);
    for (int h0 = 0; h0 < g; h0 += 4) {
      const int gc = std::min(4, g - h0);
      __m256 acc[8];
      for (int c = 0; c < 8; ++c) acc[c] = _mm256_setzero_ps();
      const float* qh = q + h0 * hd;
      if (gc == 4) {
        for (int64_t i = 0; i < hd; ++i) {
          const __m256 k0 = _mm256_load_ps(kt + 16 * i), k1 = _mm256_load_ps(kt + 16 * i + 8);
#pragma GCC unroll 4
          for (int h = 0; h < 4; ++h) {
            const __m256 qv = _mm256_broadcast_ss(qh + h * hd + i);
            acc[2 * h] = _mm256_fmadd_ps(qv, k0, acc[2 * h]);
            acc[2 * h + 1] = _mm256_fmadd_ps(qv, k1, acc[2 * h + 1]);
          }
        }
      } else {
        for (int64_t i = 0; i < hd; ++i) {
          const __m256 k0 = _mm256_load_ps(kt + 16 * i), k1 = _mm256_load_ps(kt + 16 * i + 8);
          for (int h = 0; h < gc; ++h) {
            const __m256 qv = _mm256_broadcast_ss(qh + h * hd + i);
            acc[2 * h] = _mm256_fmadd_ps(qv, k0, acc[2 * h]);
            acc[2 * h + 1] = _mm256_fmadd_ps(qv, k1, acc[2 * h + 1]);
          }
        }
      }
      for (int h = 0; h < gc; ++h) {
        float* sh = s + static_cast<size_t>(h0 + h) * s_stride + static_cast<size_t>(j0);
        if (nr == 16) {
          _mm256_storeu_ps(sh, _mm256_mul_ps(acc[2 * h], vscale));
          _mm256_storeu_ps(sh + 8, _mm256_mul_ps(acc[2 * h + 1], vscale));
        } else {
          // Lanes past n_kv hold whatever the cache held there: not stored.
          alignas(32) float t[16];
          _mm256_store_ps(t, _mm256_mul_ps(acc[2 * h], vscale));
          _mm256_store_ps(t + 8, _mm256_mul_ps(acc[2 * h + 1], vscale));
          for (int j = 0; j < nr; ++j) sh[j] = t[j];
        }
      }
    }
  }
}

// Per block of 8 positions and head: 64 output values at a time stay in
// registers while the block's probability-weighted V rows (converted to
// float once by load(j0, nr, vr)) are added.
template <class LoadRows>
void mix_rows(int64_t hd, int g, const float* p, size_t p_stride, int64_t n_kv, float* out, LoadRows load) {
  alignas(32) float vr[kRows * kMaxHd];
  for (int64_t i = 0; i < hd * g; ++i) out[i] = 0;
  for (int64_t j0 = 0; j0 < n_kv; j0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, n_kv - j0));
    load(j0, nr, vr);
    for (int h = 0; h < g; ++h) {
      const float* ph = p + static_cast<size_t>(h) * p_stride + static_cast<size_t>(j0);
      float* o = out + h * hd;
      int64_t i0 = 0;
      for (; i0 + 64 <= hd; i0 += 64) {
        __m256 acc[8];
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) acc[c] = _mm256_loadu_ps(o + i0 + 8 * c);
        for (int t = 0; t < nr; ++t) {
          const __m256 a = _mm256_set1_ps(ph[t]);
#pragma GCC unroll 8
          for (int c = 0; c < 8; ++c) acc[c] = _mm256_fmadd_ps(a, _mm256_load_ps(vr + t * hd + i0 + 8 * c), acc[c]);
        }
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) _mm256_storeu_ps(o + i0 + 8 * c, acc[c]);
      }
      for (; i0 < hd; i0 += 8) {
        __m256 acc = _mm256_loadu_ps(o + i0);
        for (int t = 0; t < nr; ++t) acc = _mm256_fmadd_ps(_mm256_set1_ps(ph[t]), _mm256_load_ps(vr + t * hd + i0), acc);
        _mm256_storeu_ps(o + i0, acc);
      }
    }
  }
}

}  // namespace

void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride) {
  if (hd > kMaxHd) return tensor::attn_scores_f16(hd, g, q, k, n_kv, scale, s, s_stride);
  scores_blocks(hd, g, q, n_kv, scale, s, s_stride,
                [&](int64_t j0, float* kt) { f16_k_block(hd, k + tensor::k_index(hd, j0, 0), kt); });
}

// Up to 8 query heads per pass, each quantized to Q8_0 and back (the
// reference's query, tensor::attn_scores_q8), then the float loops.
void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride) {
  if (hd % kQK != 0 || hd > kMaxHd) return tensor::attn_scores_q8(hd, g, q, k, n_kv, scale, s, s_stride);
  BlockQ8_0 qb[kMaxHd / kQK];
  alignas(32) float qf[8 * kMaxHd];
  for (int h0 = 0; h0 < g; h0 += 8) {
    const int gc = std::min(8, g - h0);
    for (int h = 0; h < gc; ++h) {
      tensor::quantize_q8_0(q + (h0 + h) * hd, qb, hd);
      tensor::dequantize_q8_0(qb, qf + h * hd, hd);
    }
    scores_blocks(hd, gc, qf, n_kv, scale, s + static_cast<size_t>(h0) * s_stride, s_stride, [&](int64_t j0, float* kt) {
      const int64_t b = j0 / tensor::kKBlock;
      q8_k_block(hd, tensor::q8_k_codes(k, hd, b), tensor::q8_k_scales(k, hd, b), kt);
    });
  }
}

void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  if (hd % 8 != 0 || hd > kMaxHd) return tensor::attn_mix_f16(hd, g, p, p_stride, v, kv_stride, n_kv, out);
  mix_rows(hd, g, p, p_stride, n_kv, out, [&](int64_t j0, int nr, float* vr) {
    f16_rows(hd, nr, v + static_cast<size_t>(j0) * kv_stride, kv_stride, vr);
  });
}

void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out) {
  if (hd % kQK != 0 || hd > kMaxHd) return tensor::attn_mix_q8(hd, g, p, p_stride, v, row_bytes, n_kv, out);
  mix_rows(hd, g, p, p_stride, n_kv, out, [&](int64_t j0, int nr, float* vr) {
    q8_rows(hd, nr, v + static_cast<size_t>(j0) * row_bytes, row_bytes, vr);
  });
}

}  // namespace hearth::kernels::avx2
