// AVX2 (F16C) attention helpers over the F16 KV cache.
#include <algorithm>

#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "tensor/type_ops.h"

namespace hearth::kernels::avx2 {

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

// Blocks of up to 8 K/V rows of at most kMaxHd values are converted to float
// once into a stack buffer and reused for every head of the group; other
// sizes use the reference.
namespace {
constexpr int64_t kMaxHd = 256;
constexpr int kRows = 8;

inline void f16_rows(int64_t hd, int nr, const uint16_t* x, size_t stride, float* out) {
  for (int t = 0; t < nr; ++t)
    for (int64_t i = 0; i < hd; i += 8)
      _mm256_store_ps(out + t * hd + i,
                      _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + t * stride + i))));
}

// [Σ a0, Σ a1, ..., Σ a7]: the 8 horizontal sums in one vector.
inline __m256 hsum8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
}  // namespace

// Per block of 8 positions and head: 8 dot products accumulated side by side,
// reduced together (one vector of 8 scores, stored contiguously).
void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, size_t kv_stride, int64_t n_kv, float scale,
                     float* s, size_t s_stride) {
  if (hd % 8 != 0 || hd > kMaxHd) return tensor::attn_scores_f16(hd, g, q, k, kv_stride, n_kv, scale, s, s_stride);
  alignas(32) float kr[kRows * kMaxHd];
  const __m256 vscale = _mm256_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n_kv; j0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, n_kv - j0));
    f16_rows(hd, nr, k + static_cast<size_t>(j0) * kv_stride, kv_stride, kr);
    for (int h = 0; h < g; ++h) {
      const float* qh = q + h * hd;
      float* sh = s + static_cast<size_t>(h) * s_stride + static_cast<size_t>(j0);
      if (nr == kRows) {
        __m256 acc[kRows];
        for (int t = 0; t < kRows; ++t) acc[t] = _mm256_setzero_ps();
        for (int64_t i = 0; i < hd; i += 8) {
          const __m256 qv = _mm256_loadu_ps(qh + i);
#pragma GCC unroll 8
          for (int t = 0; t < kRows; ++t) acc[t] = _mm256_fmadd_ps(qv, _mm256_load_ps(kr + t * hd + i), acc[t]);
        }
        _mm256_storeu_ps(sh, _mm256_mul_ps(hsum8(acc), vscale));
      } else {
        for (int t = 0; t < nr; ++t) {
          __m256 acc = _mm256_setzero_ps();
          for (int64_t i = 0; i < hd; i += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i), _mm256_load_ps(kr + t * hd + i), acc);
          sh[t] = hsum(acc) * scale;
        }
      }
    }
  }
}

// Per block of 8 positions and head: 64 output values at a time stay in
// registers while the block's probability-weighted V rows are added.
void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  if (hd % 8 != 0 || hd > kMaxHd) return tensor::attn_mix_f16(hd, g, p, p_stride, v, kv_stride, n_kv, out);
  alignas(32) float vr[kRows * kMaxHd];
  for (int64_t i = 0; i < hd * g; ++i) out[i] = 0;
  for (int64_t j0 = 0; j0 < n_kv; j0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, n_kv - j0));
    f16_rows(hd, nr, v + static_cast<size_t>(j0) * kv_stride, kv_stride, vr);
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

}  // namespace hearth::kernels::avx2
