// AVX-512 activation quantizers to Q8_0 and Q8_K, bit-identical to the scalar
// references tensor::quantize_q8_0 (same divisions, round half away from zero)
// and tensor::quantize_q8_k (scale from the first element of largest
// magnitude, round half to even, block sums).
#include <immintrin.h>

#include <cstring>

#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/type_ops.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;

namespace {

// std::round for every lane: truncate, then step away from zero when the
// dropped fraction is at least one half (x - trunc(x) is exact).
inline __m512 round_half_away(__m512 x) {
  const __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(x, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(_mm512_set1_ps(1.0f)),
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u)))));
  return _mm512_mask_add_ps(t, up, t, one);
}

}  // namespace

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b[i].d = f32_to_fp16(d);
    const __m512 s = _mm512_set1_ps(id);
    const __m512i q0 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v0, s)));
    const __m512i q1 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(v1, s)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16), _mm512_cvtepi32_epi8(q1));
  }
}

void quantize_q8_k(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  constexpr int kV = kQK_K / 16;  // vectors per block
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m512 v[kV];
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < kV; ++k) {
      v[k] = _mm512_loadu_ps(x + 16 * k);
      m = _mm512_max_ps(m, _mm512_abs_ps(v[k]));
    }
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference takes the first element whose magnitude is amax.
    int first = -1;
    const __m512 am = _mm512_set1_ps(amax);
    for (int k = 0; k < kV && first < 0; ++k) {
      __mmask16 eq = _mm512_cmp_ps_mask(_mm512_abs_ps(v[k]), am, _CMP_EQ_OQ);
      if (eq) first = 16 * k + __builtin_ctz(eq);
    }
    if (first < 0) {  // NaN input: leave it to the reference's semantics
      tensor::quantize_q8_k(x, &b[i], kQK_K);
      continue;
    }
    const float iscale = -127.0f / x[first];
    const __m512 s = _mm512_set1_ps(iscale);
    const __m512i hi = _mm512_set1_epi32(127);
    for (int k = 0; k < kV; ++k) {
      __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(s, v[k])), hi);  // nearest, ties to even
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * k), _mm512_cvtepi32_epi8(q));
      b[i].bsums[k] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    b[i].d = 1 / iscale;
  }
}

}  // namespace hearth::kernels::avx512
