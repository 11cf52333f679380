// AVX-512 grouped-query attention over the F16 KV cache.
// Scores: per block of 16 positions (the K cache is position-minor in blocks
// of 16, tensor/kv_layout.h), each head dimension's 16 keys are converted
// once and multiplied by every query head's broadcast value: up to 8 heads'
// 16 scores accumulate in registers with no horizontal sums (hd 64, 8 heads:
// 53 GMAC/s at 64-512 positions against 19-23 for the row-major layout's 8
// dot products reduced together, 2.1x at 2048).
// Mix: blocks of 16 V rows are converted to float once (into a stack buffer)
// and reused by every query head of the group; two heads at a time keep 64
// output values each in registers while the block's rows are added (one V
// load feeds two FMAs). 1.7x the AVX2 kernel (hd 64, 8 heads, 64-512
// positions). Head sizes off the mix's fast path (hd % 64 or > 256) use the
// AVX2 mix. References: tensor::attn_scores_f16, attn_mix_f16.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx512/kernels_avx512.h"
#include "tensor/kv_layout.h"

namespace hearth::kernels::avx512 {

namespace {

constexpr int64_t kMaxHd = 256;
constexpr int kRows = 16;
// How far ahead (in bytes of the cache) the kernels request K blocks and V
// rows: the cache has left the caches since the last token, and the
// hardware prefetchers alone kept it at a few GB/s (Q4_0 file, 1024
// positions: attention 2.5-2.7 -> 1.7 ms per token, tg +3-5%; 4 or 16 KiB
// ahead the same).
constexpr size_t kAhead = 8192;

// Rows [0, nr) of a block converted to float (hd values each, hd % 16 == 0).
inline void f16_rows(int64_t hd, int nr, const uint16_t* x, size_t stride, float* out) {
  for (int t = 0; t < nr; ++t)
    for (int64_t i = 0; i < hd; i += 16) {
      if (i % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(x + t * stride + i) + kAhead, _MM_HINT_T0);
      _mm512_store_ps(out + t * hd + i,
                      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * stride + i))));
    }
}

// NH (1 or 2) heads' outputs o[h] (64 values each) += Σ_t p[h][t] · vr[t].
template <int NH>
inline void mix64(const float* const* p, int nr, const float* vr, int64_t hd, float* const* o) {
  __m512 acc[NH][4];
  for (int h = 0; h < NH; ++h)
    for (int c = 0; c < 4; ++c) acc[h][c] = _mm512_loadu_ps(o[h] + 16 * c);
  for (int t = 0; t < nr; ++t) {
    __m512 a[NH];
    for (int h = 0; h < NH; ++h) a[h] = _mm512_set1_ps(p[h][t]);
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m512 v = _mm512_load_ps(vr + t * hd + 16 * c);
      for (int h = 0; h < NH; ++h) acc[h][c] = _mm512_fmadd_ps(a[h], v, acc[h][c]);
    }
  }
  for (int h = 0; h < NH; ++h)
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(o[h] + 16 * c, acc[h][c]);
}


// Scores of G heads (q: hd values each) for the 16 positions of one K block.
template <int G>
inline void scores16(int64_t hd, const float* q, const uint16_t* kb, __m512* acc) {
  for (int h = 0; h < G; ++h) acc[h] = _mm512_setzero_ps();
  for (int64_t i = 0; i < hd; ++i) {
    if (i % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(kb + 16 * i) + kAhead, _MM_HINT_T0);
    const __m512 kt = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kb + 16 * i)));
#pragma GCC unroll 8
    for (int h = 0; h < G; ++h) acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(q[h * hd + i]), kt, acc[h]);
  }
}

}  // namespace

void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride) {
  static_assert(tensor::kKBlock == 16);
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n_kv; j0 += 16) {
    const int nr = static_cast<int>(std::min<int64_t>(16, n_kv - j0));
    // Lanes past n_kv hold whatever the cache held there: not stored.
    const __mmask16 keep = static_cast<__mmask16>((1u << nr) - 1);
    const uint16_t* kb = k + tensor::k_index(hd, j0, 0);
    for (int h0 = 0; h0 < g; h0 += 8) {
      const int gc = std::min(8, g - h0);
      __m512 acc[8];
      const float* qh = q + h0 * hd;
      switch (gc) {
        case 8: scores16<8>(hd, qh, kb, acc); break;
        case 7: scores16<7>(hd, qh, kb, acc); break;
        case 6: scores16<6>(hd, qh, kb, acc); break;
        case 5: scores16<5>(hd, qh, kb, acc); break;
        case 4: scores16<4>(hd, qh, kb, acc); break;
        case 3: scores16<3>(hd, qh, kb, acc); break;
        case 2: scores16<2>(hd, qh, kb, acc); break;
        default: scores16<1>(hd, qh, kb, acc); break;
      }
      for (int h = 0; h < gc; ++h)
        _mm512_mask_storeu_ps(s + static_cast<size_t>(h0 + h) * s_stride + static_cast<size_t>(j0), keep,
                              _mm512_mul_ps(acc[h], vscale));
    }
  }
}

void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  if (hd % 64 != 0 || hd > kMaxHd) return avx2::attn_mix_f16(hd, g, p, p_stride, v, kv_stride, n_kv, out);
  alignas(64) float vr[kRows * kMaxHd];
  std::fill(out, out + hd * g, 0.0f);
  for (int64_t j0 = 0; j0 < n_kv; j0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, n_kv - j0));
    f16_rows(hd, nr, v + static_cast<size_t>(j0) * kv_stride, kv_stride, vr);
    for (int h = 0; h < g; h += 2) {
      const float* ph[2] = {p + static_cast<size_t>(h) * p_stride + static_cast<size_t>(j0),
                            p + static_cast<size_t>(std::min(h + 1, g - 1)) * p_stride + static_cast<size_t>(j0)};
      for (int64_t i0 = 0; i0 < hd; i0 += 64) {
        float* o[2] = {out + h * hd + i0, out + std::min(h + 1, g - 1) * hd + i0};
        if (h + 1 < g)
          mix64<2>(ph, nr, vr + i0, hd, o);
        else
          mix64<1>(ph, nr, vr + i0, hd, o);
      }
    }
  }
}

}  // namespace hearth::kernels::avx512
