// AVX2 (F16C) attention helpers over the F16 KV cache.
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

// Rows of up to kMaxHd values are converted to float once into a stack buffer
// and reused for every head of the group; other sizes use the reference.
namespace {
constexpr int64_t kMaxHd = 256;
inline void f16_row(int64_t hd, const uint16_t* x, float* out) {
  for (int64_t i = 0; i < hd; i += 8)
    _mm256_store_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
}
}  // namespace

void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, size_t kv_stride, int64_t n_kv, float scale,
                     float* s, size_t s_stride) {
  if (hd % 8 != 0 || hd > kMaxHd) return tensor::attn_scores_f16(hd, g, q, k, kv_stride, n_kv, scale, s, s_stride);
  alignas(32) float kr[kMaxHd];
  for (int64_t j = 0; j < n_kv; ++j) {
    f16_row(hd, k + static_cast<size_t>(j) * kv_stride, kr);
    for (int h = 0; h < g; ++h) {
      const float* qh = q + h * hd;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 16 <= hd; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i), _mm256_load_ps(kr + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i + 8), _mm256_load_ps(kr + i + 8), acc1);
      }
      if (i < hd) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i), _mm256_load_ps(kr + i), acc0);
      s[static_cast<size_t>(h) * s_stride + static_cast<size_t>(j)] = hsum(_mm256_add_ps(acc0, acc1)) * scale;
    }
  }
}

void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  if (hd % 8 != 0 || hd > kMaxHd) return tensor::attn_mix_f16(hd, g, p, p_stride, v, kv_stride, n_kv, out);
  alignas(32) float vr[kMaxHd];
  for (int64_t i = 0; i < hd * g; ++i) out[i] = 0;
  for (int64_t j = 0; j < n_kv; ++j) {
    f16_row(hd, v + static_cast<size_t>(j) * kv_stride, vr);
    for (int h = 0; h < g; ++h) {
      const __m256 a = _mm256_set1_ps(p[static_cast<size_t>(h) * p_stride + static_cast<size_t>(j)]);
      float* o = out + h * hd;
      for (int64_t i = 0; i < hd; i += 8)
        _mm256_storeu_ps(o + i, _mm256_fmadd_ps(a, _mm256_load_ps(vr + i), _mm256_loadu_ps(o + i)));
    }
  }
}

}  // namespace hearth::kernels::avx2
