// RMS norm with the sum of squares in double precision like the reference
// (tensor::rms_norm), in four 8-lane double accumulators.
#include <immintrin.h>

#include <cmath>

#include "kernels/avx512/kernels_avx512.h"

namespace hearth::kernels::avx512 {

void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * k));
      acc[k] = _mm512_fmadd_pd(v, v, acc[k]);
    }
  for (; i + 8 <= n; i += 8) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
    acc[0] = _mm512_fmadd_pd(v, v, acc[0]);
  }
  double ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
  const __m512 vs = _mm512_set1_ps(scale);
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 y = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
    _mm512_storeu_ps(out + i, w ? _mm512_mul_ps(y, _mm512_loadu_ps(w + i)) : y);
  }
  for (; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

}  // namespace hearth::kernels::avx512
