// AVX-512 activation quantizers to Q8_0 and Q8_K, bit-identical to the scalar
// references tensor::quantize_q8_0 (same divisions, round half away from zero)
// and tensor::quantize_q8_k (scale from the first element of largest
// magnitude, round half to even, block sums); and the same fused with the
// preparation for the interleaved products (tensor::x16_quantize_act), which
// reduces 16 blocks' maxima and sums at once instead of one block at a time.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/interleave.h"
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

// Reduces 16 vectors to one: lane i of the result is op over the 16 lanes of
// v[i]. Four levels of shuffles, each combining lanes of the same vector only,
// leave vector (4k + m)'s result in lane k + 4m; one permute puts it back.
template <class Op>
inline __m512 reduce16(const __m512* v, Op op) {
  __m512 r1[8], r2[4], r3[2];
  for (int j = 0; j < 8; ++j)  // lanes 0-7: 8 partials of v[2j]; 8-15: of v[2j+1]
    r1[j] = op(_mm512_shuffle_f32x4(v[2 * j], v[2 * j + 1], 0x44), _mm512_shuffle_f32x4(v[2 * j], v[2 * j + 1], 0xEE));
  for (int j = 0; j < 4; ++j)  // 128-bit lane k: 4 partials of v[4j + k]
    r2[j] = op(_mm512_shuffle_f32x4(r1[2 * j], r1[2 * j + 1], 0x88),
               _mm512_shuffle_f32x4(r1[2 * j], r1[2 * j + 1], 0xDD));
  for (int j = 0; j < 2; ++j)  // lane k: 2 partials each of v[8j + k], v[8j + 4 + k]
    r3[j] = op(_mm512_shuffle_ps(r2[2 * j], r2[2 * j + 1], 0x44), _mm512_shuffle_ps(r2[2 * j], r2[2 * j + 1], 0xEE));
  const __m512 r = op(_mm512_shuffle_ps(r3[0], r3[1], 0x88), _mm512_shuffle_ps(r3[0], r3[1], 0xDD));
  // r lane 4k + m holds v[k + 4m]; result lane i takes r lane 4·(i % 4) + i / 4.
  const __m512i back = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(back, r);
}

inline __m512 max_op(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
inline __m512 add_i32_op(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

// Loads a Q8_K super-block into v[16] and finds the element the reference
// takes its scale from: the first of largest magnitude. Returns its index, or
// -1 when the block is all zeros or holds a NaN (no element equals the
// maximum); *zero tells the two apart.
inline int q8_k_scale_index(const float* x, __m512* v, bool* zero) {
  __m512 m = _mm512_setzero_ps();
  for (int k = 0; k < kQK_K / 16; ++k) {
    v[k] = _mm512_loadu_ps(x + 16 * k);
    m = _mm512_max_ps(m, _mm512_abs_ps(v[k]));
  }
  const float amax = _mm512_reduce_max_ps(m);
  *zero = amax == 0;
  if (*zero) return -1;
  const __m512 am = _mm512_set1_ps(amax);
  for (int k = 0; k < kQK_K / 16; ++k)
    if (const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_abs_ps(v[k]), am, _CMP_EQ_OQ)) return 16 * k + __builtin_ctz(eq);
  return -1;
}

// Q8_0 codes of up to 16 blocks at once straight into ActQ8 (offset k).
void act_q8_0_blocks(const float* x, int64_t n, ActQ8* a, int k) {
  const int64_t nb = n / kQK;
  for (int64_t b0 = 0; b0 < nb; b0 += 16, x += 16 * kQK, a += 16) {
    const int cnt = static_cast<int>(std::min<int64_t>(16, nb - b0));
    __m512 m[16];
    for (int i = 0; i < 16; ++i)
      m[i] = i < cnt ? _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + kQK * i)),
                                     _mm512_abs_ps(_mm512_loadu_ps(x + kQK * i + 16)))
                     : _mm512_setzero_ps();
    const __m512 amax = reduce16(m, max_op);
    const __m512 d = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));                        // amax / 127
    const __mmask16 nz = _mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ);         // d != 0
    const __m512 id = _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), d);                   // 1 / d or 0
    const __m512 dq = _mm512_cvtph_ps(_mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    alignas(64) float idv[16], dv[16];
    alignas(64) int32_t offv[16];
    _mm512_store_ps(idv, id);
    _mm512_store_ps(dv, dq);
    __m512 sums[16];
    for (int i = 0; i < 16; ++i) {
      if (i >= cnt) {
        sums[i] = _mm512_setzero_ps();
        continue;
      }
      const __m512 sc = _mm512_set1_ps(idv[i]);
      const __m512i q0 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(_mm512_loadu_ps(x + kQK * i), sc)));
      const __m512i q1 = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(_mm512_loadu_ps(x + kQK * i + 16), sc)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a[i].qs), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a[i].qs + 16), _mm512_cvtepi32_epi8(q1));
      a[i].d = dv[i];
      sums[i] = _mm512_castsi512_ps(_mm512_add_epi32(q0, q1));
    }
    const __m512i total = _mm512_castps_si512(reduce16(sums, add_i32_op));
    _mm512_store_si512(offv, _mm512_mullo_epi32(total, _mm512_set1_epi32(-k)));
    for (int i = 0; i < cnt; ++i) a[i].off = offv[i];
  }
}

}  // namespace

void x16_act_q4_0(const float* x, int64_t n, void* out) { act_q8_0_blocks(x, n, static_cast<ActQ8*>(out), 8); }
void x16_act_q5_0(const float* x, int64_t n, void* out) { act_q8_0_blocks(x, n, static_cast<ActQ8*>(out), 16); }
void x16_act_q8_0(const float* x, int64_t n, void* out) { act_q8_0_blocks(x, n, static_cast<ActQ8*>(out), 128); }

// Q8_K super-blocks straight into ActQ8K: the 16 group sums of a super-block
// reduced at once, then paired as int16 (msum16), summed in pairs again
// (msum32) and scaled by -32 (q6_off), as tensor::x16_prepare_act does from
// the Q8_K bsums.
void x16_act_k(const float* x, int64_t n, void* out) {
  auto* a = static_cast<ActQ8K*>(out);
  constexpr int kV = kQK_K / 16;
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m512 v[kV];
    bool zero;
    const int first = q8_k_scale_index(x, v, &zero);
    if (first < 0) {  // zeros, or NaN input: the reference's semantics
      tensor::x16_quantize_act(DType::kQ4_K, x, kQK_K, &a[i]);
      continue;
    }
    const float iscale = -127.0f / x[first];
    const __m512 s = _mm512_set1_ps(iscale);
    const __m512i hi = _mm512_set1_epi32(127);
    __m512 sums[kV];
    for (int k = 0; k < kV; ++k) {
      const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(s, v[k])), hi);  // nearest, ties to even
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a[i].qs + 16 * k), _mm512_cvtepi32_epi8(q));
      sums[k] = _mm512_castsi512_ps(q);
    }
    const __m512i g = _mm512_castps_si512(reduce16(sums, add_i32_op));  // the 16 group sums (bsums)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a[i].msum16), _mm512_cvtepi32_epi16(g));
    const __m512i pairs = _mm512_add_epi32(g, _mm512_srli_epi64(g, 32));  // 64-bit lane j: g[2j] + g[2j+1]
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a[i].msum32), _mm512_cvtepi64_epi16(pairs));
    _mm512_storeu_si512(a[i].q6_off, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(g, 5)));
    a[i].d = 1 / iscale;
  }
}

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
    bool zero;
    const int first = q8_k_scale_index(x, v, &zero);
    if (zero) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
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
