// Rotary embedding of one head and the residual add, 8 lanes at a time
// (AVX2 + FMA). Generation runs them once per head and layer for one token,
// serially between the matrix products: as scalar loops they were ~2-4 µs
// of every layer. References: tensor::rope, tensor::add.
#include <immintrin.h>

#include "kernels/avx2/kernels_avx2.h"
#include "tensor/float_math.h"

namespace hearth::kernels::avx2 {

void rope(float* x, int64_t n_rot, const float* cs, bool neox) {
  const int64_t half = n_rot / 2;
  int64_t i = 0;  // pairs done
  if (!neox) {
    // Adjacent pairs (x[2i], x[2i+1]) with cs = (c_i, s_i) in the same
    // lanes: x·c ∓ swap(x)·s, subtracting in even lanes and adding in odd.
    for (; i + 4 <= half; i += 4) {
      const __m256 v = _mm256_loadu_ps(x + 2 * i), t = _mm256_loadu_ps(cs + 2 * i);
      const __m256 swapped = _mm256_permute_ps(v, 0xB1);
      const __m256 r = _mm256_fmaddsub_ps(v, _mm256_moveldup_ps(t), _mm256_mul_ps(swapped, _mm256_movehdup_ps(t)));
      _mm256_storeu_ps(x + 2 * i, r);
    }
  } else {
    // Halves (x[i], x[i + n_rot/2]): 8 (cos, sin) pairs de-interleaved.
    for (; i + 8 <= half; i += 8) {
      const __m256 t0 = _mm256_loadu_ps(cs + 2 * i), t1 = _mm256_loadu_ps(cs + 2 * i + 8);
      auto order = [](__m256 v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); };
      const __m256 c = order(_mm256_shuffle_ps(t0, t1, 0x88)), s = order(_mm256_shuffle_ps(t0, t1, 0xDD));
      const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + half);
      _mm256_storeu_ps(x + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
      _mm256_storeu_ps(x + i + half, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
    }
  }
  for (; i < half; ++i) {
    const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
    const float c = cs[2 * i], s = cs[2 * i + 1], x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

void add(int64_t n, float* y, const float* x) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

}  // namespace hearth::kernels::avx2
