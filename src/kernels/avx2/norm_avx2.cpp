// RMS norm with the sum of squares in double precision like the reference
// (tensor::rms_norm), but four 4-lane double accumulators instead of one
// serial chain of scalar adds (which the compiler may not reorder).
#include <immintrin.h>

#include <cmath>

#include "kernels/avx2/kernels_avx2.h"

namespace hearth::kernels::avx2 {

void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k));
      acc[k] = _mm256_fmadd_pd(v, v, acc[k]);
    }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3])));
  double ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
    _mm256_storeu_ps(out + i, w ? _mm256_mul_ps(y, _mm256_loadu_ps(w + i)) : y);
  }
  for (; i < n; ++i) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

}  // namespace hearth::kernels::avx2
