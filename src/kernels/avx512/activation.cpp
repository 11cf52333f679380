// Softmax and SiLU·gate over float rows, 16 lanes: the AVX2 kernels' vector
// exp (kernels/vector_exp.h, NaN passing through) at twice the width, and SiLU's
// division replaced by a 14-bit reciprocal and one Newton step (a 512-bit
// divide takes ~10 cycles of throughput here; SiLU·gate over the FFN's 5632
// values ran 2.9 µs with the AVX2 kernel). References: tensor::softmax,
// tensor::silu_mul, tensor::gelu.
#include <immintrin.h>

#include <cfloat>
#include <cmath>

#include "kernels/avx512/kernels_avx512.h"
#include "kernels/vector_exp.h"

namespace hearth::kernels::avx512 {

namespace {

// exp(x) = y · 2^n for x within [vexp::kMin, vexp::kMax] (or NaN): n =
// round(x / ln2), y = exp(r) of the remainder by the polynomial.
struct ExpParts {
  __m512 y, n;
};
inline ExpParts exp_parts(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(vexp::kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(vexp::kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(vexp::kLn2Lo), r);
  __m512 p = _mm512_set1_ps(vexp::kPoly[0]);
#pragma GCC unroll 6
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(vexp::kPoly[i]));
  return {_mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f)), n};
}

inline __m512 exp16(__m512 x) {
  // min/max return their second operand when either is NaN: x goes second.
  x = _mm512_max_ps(_mm512_set1_ps(vexp::kMin), _mm512_min_ps(_mm512_set1_ps(vexp::kMax), x));
  const ExpParts e = exp_parts(x);
  return _mm512_scalef_ps(e.y, e.n);  // y · 2^n: one instruction for the exponent bits' four
}

// exp(d) for the softmax: d in [vexp::kFlush, 0] or NaN (the caller clamps
// from below; nothing is above the row's max), so without exp16's clamps;
// lanes off `keep` are 0. The same values as exp16.
inline __m512 exp16_softmax(__mmask16 keep, __m512 d) {
  const ExpParts e = exp_parts(d);
  return _mm512_maskz_scalef_ps(keep, e.y, e.n);
}

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }

// x · sigmoid(x) · g for 16 lanes.
inline __m512 silu_gate(__m512 x, __m512 g) {
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(_mm512_sub_ps(_mm512_setzero_ps(), x)));
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));  // r (2 - d r)
  return _mm512_mul_ps(_mm512_mul_ps(x, r), g);
}

// GELU (tanh approximation) for 16 lanes: 0.5 (1 + tanh(z)) = 1 / (1 +
// exp(-2z)), so x · sigmoid(2z) with the SiLU's exp and reciprocal.
inline __m512 gelu16(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 z2 = _mm512_mul_ps(_mm512_set1_ps(-2.0f * 0.7978845608f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp16(z2));
  __m512 r = _mm512_rcp14_ps(d);
  r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));  // r (2 - d r)
  return _mm512_mul_ps(x, r);
}

}  // namespace

void gelu(int64_t n, const float* x, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, gelu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, tail, gelu16(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m512 mv = _mm512_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
  const __mmask16 tail = tail_mask(n - i);
  if (i < n) mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, x + i));
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
  // No subnormal floats (each costs a microcode assist in the multiplies that
  // make or use it: an attention mix over probabilities that small ran 45x
  // slower): exp of a difference below vexp::kFlush is 0, and a probability
  // below 2 FLT_MIN is 0 before it is scaled (NaN passes through both).
  const __m512 flush = _mm512_set1_ps(vexp::kFlush);
  auto exp_row = [&](__m512 v) __attribute__((always_inline)) {
    const __m512 d = _mm512_sub_ps(v, max);
    return exp16_softmax(_mm512_cmp_ps_mask(d, flush, _CMP_NLT_UQ), _mm512_max_ps(flush, d));
  };
  __m512 sum = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = exp_row(_mm512_loadu_ps(x + i));
    _mm512_storeu_ps(x + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (i < n) {
    // Padding lanes are computed but neither stored nor summed.
    const __m512 e = exp_row(_mm512_maskz_loadu_ps(tail, x + i));
    _mm512_mask_storeu_ps(x + i, tail, e);
    sum = _mm512_mask_add_ps(sum, tail, sum, e);
  }
  const float total = _mm512_reduce_add_ps(sum);
  const __m512 inv = _mm512_set1_ps(1.0f / total), least = _mm512_set1_ps(2 * FLT_MIN * total);
  auto scale = [&](__m512 e) __attribute__((always_inline)) {
    return _mm512_mul_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(e, least, _CMP_NLT_UQ), e), inv);
  };
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, scale(_mm512_loadu_ps(x + i)));
  if (i < n) _mm512_mask_storeu_ps(x + i, tail, scale(_mm512_maskz_loadu_ps(tail, x + i)));
}

void silu_mul(int64_t n, const float* a, const float* b, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, silu_gate(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    const __mmask16 tail = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, tail, silu_gate(_mm512_maskz_loadu_ps(tail, a + i), _mm512_maskz_loadu_ps(tail, b + i)));
  }
}

}  // namespace hearth::kernels::avx512
