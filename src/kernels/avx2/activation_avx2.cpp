// Softmax and SiLU·gate over float rows with a vector exp (8 lanes, AVX2 +
// FMA; AVX-512 machines use kernels/avx512/activation.cpp): scalar expf was
// ~1-2% of generation. exp: kernels/vector_exp.h (NaN passes through).
// References: tensor::softmax, tensor::silu_mul, tensor::gelu.
#include <immintrin.h>

#include <cfloat>
#include <cmath>

#include "kernels/avx2/common.h"
#include "kernels/avx2/kernels_avx2.h"
#include "kernels/vector_exp.h"
#include "tensor/float_math.h"

namespace hearth::kernels::avx2 {

namespace {

inline __m256 exp8(__m256 x) {
  // min/max return their second operand when either is NaN: x goes second.
  x = _mm256_max_ps(_mm256_set1_ps(vexp::kMin), _mm256_min_ps(_mm256_set1_ps(vexp::kMax), x));
  const __m256 n =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(vexp::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(vexp::kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(vexp::kLn2Lo), r);
  __m256 p = _mm256_set1_ps(vexp::kPoly[0]);
#pragma GCC unroll 6
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(vexp::kPoly[i]));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Lanes [0, n) of p as a vector, the rest `fill`.
inline __m256 load_tail(const float* p, int64_t n, float fill) {
  alignas(32) float t[8];
  for (int i = 0; i < 8; ++i) t[i] = i < n ? p[i] : fill;
  return _mm256_load_ps(t);
}

inline void store_tail(float* p, int64_t n, __m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  for (int i = 0; i < n; ++i) p[i] = t[i];
}

}  // namespace

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 mv = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  if (i < n) mv = _mm256_max_ps(mv, load_tail(x + i, n - i, -INFINITY));
  const __m256 max = _mm256_set1_ps(hmax(mv));
  // No subnormal floats, as in the AVX-512 kernel: exp of a difference below
  // vexp::kFlush is 0, a probability below 2 FLT_MIN is 0 before it is scaled
  // (NaN passes through both).
  const __m256 flush = _mm256_set1_ps(vexp::kFlush);
  auto exp_row = [&](__m256 v) __attribute__((always_inline)) {
    const __m256 d = _mm256_sub_ps(v, max);
    return _mm256_and_ps(_mm256_cmp_ps(d, flush, _CMP_NLT_UQ), exp8(_mm256_max_ps(flush, d)));
  };
  __m256 sum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_row(_mm256_loadu_ps(x + i));
    _mm256_storeu_ps(x + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {
    // Padding lanes are computed but neither stored nor summed.
    const __m256 e = exp_row(load_tail(x + i, n - i, 0.0f));
    store_tail(x + i, n - i, e);
    sum = _mm256_add_ps(sum, load_tail(x + i, n - i, 0.0f));
  }
  const float total = hsum(sum);
  const __m256 inv = _mm256_set1_ps(1.0f / total), least = _mm256_set1_ps(2 * FLT_MIN * total);
  auto scale = [&](__m256 e) __attribute__((always_inline)) {
    return _mm256_mul_ps(_mm256_and_ps(_mm256_cmp_ps(e, least, _CMP_NLT_UQ), e), inv);
  };
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, scale(_mm256_loadu_ps(x + i)));
  if (i < n) store_tail(x + i, n - i, scale(load_tail(x + i, n - i, 0.0f)));
}

// GELU (tanh approximation): 0.5 (1 + tanh(z)) = 1 / (1 + exp(-2z)).
void gelu(int64_t n, const float* x, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(-2.0f * 0.7978845608f), k = _mm256_set1_ps(0.044715f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 z2 = _mm256_mul_ps(c, _mm256_fmadd_ps(k, _mm256_mul_ps(_mm256_mul_ps(v, v), v), v));
    _mm256_storeu_ps(out + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(z2))));
  }
  if (i < n) tensor::gelu(n - i, x + i, out + i);
}

void silu_mul(int64_t n, const float* a, const float* b, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(b + i)));
  }
  if (i < n) tensor::silu_mul(n - i, a + i, b + i, out + i);
}

}  // namespace hearth::kernels::avx2
