// AVX-512 probability-weighted mix of V rows for grouped-query attention
// over the F16 KV cache: blocks of 16 V rows are converted to float once (into
// a stack buffer) and reused by every query head of the group; two heads at a
// time keep 64 output values each in registers while the block's rows are
// added (one V load feeds two FMAs). 1.7x the AVX2 kernel (hd 64, 8 heads,
// 64-512 positions). The scores stay on the AVX2 kernel: 16-row score
// blocks (16 accumulators reduced together) measured 1.6x slower than its
// 8-row blocks on Zen 4 (512-bit FMAs at half the rate there) and 1.2-1.3x
// slower on Emerald Rapids (512-bit FMAs at full rate; docs/benchmarks.md,
// fourteenth session). Head sizes off the fast path (hd % 64 or
// > 256) use the AVX2 kernel. Reference: tensor::attn_mix_f16.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx512/kernels_avx512.h"

namespace hearth::kernels::avx512 {

namespace {

constexpr int64_t kMaxHd = 256;
constexpr int kRows = 16;

// Rows [0, nr) of a block converted to float (hd values each, hd % 16 == 0).
inline void f16_rows(int64_t hd, int nr, const uint16_t* x, size_t stride, float* out) {
  for (int t = 0; t < nr; ++t)
    for (int64_t i = 0; i < hd; i += 16)
      _mm512_store_ps(out + t * hd + i,
                      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + t * stride + i))));
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

}  // namespace

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
