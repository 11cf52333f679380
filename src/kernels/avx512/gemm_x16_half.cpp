// AVX-512 products over F32 / F16 / BF16 weights interleaved 16 rows at a time
// (tensor/interleave.h: per input, the 16 rows' values side by side): each
// input's 16 values convert to one float vector, which multiplies the input's
// value of every activation row (broadcast from memory) into that row's 16
// accumulators. Up to kX16MaxX activation rows share each converted vector,
// two groups at a time from 4 rows on (each broadcast feeds two FMAs); fewer
// rows split the inputs over independent accumulator chains.
// Reference: tensor::x16_gemv_ref.
#include <immintrin.h>

#include "core/dtype.h"

#include "kernels/avx512/kernels_avx512.h"
#include "kernels/kernels.h"

namespace hearth::kernels::avx512 {

namespace {

template <DType T>
inline __m512 load16(const uint8_t* p) {
  if constexpr (T == DType::kF32) return _mm512_loadu_ps(p);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (T == DType::kBF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

template <DType T, int NX>
void gemm_half(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
               float* y, size_t y_stride) {
  constexpr int kC = NX >= 4 ? 1 : NX == 1 ? 4 : 2;  // chains per activation row (FMA latency)
  constexpr size_t kStep = T == DType::kF32 ? 64 : 32;  // bytes per input
  const float* xr[NX];
  for (int j = 0; j < NX; ++j) xr[j] = reinterpret_cast<const float*>(x + static_cast<size_t>(j) * x_stride);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    __m512 acc[kC][NX];
    for (int c = 0; c < kC; ++c)
      for (int j = 0; j < NX; ++j) acc[c][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + kC <= n; k += kC) {
#pragma GCC unroll 4
      for (int c = 0; c < kC; ++c) {
        const __m512 wv = load16<T>(grp + kStep * static_cast<size_t>(k + c));
#pragma GCC unroll 8
        for (int j = 0; j < NX; ++j) acc[c][j] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[j][k + c]), acc[c][j]);
      }
    }
    for (; k < n; ++k) {
      const __m512 wv = load16<T>(grp + kStep * static_cast<size_t>(k));
      for (int j = 0; j < NX; ++j) acc[0][j] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[j][k]), acc[0][j]);
    }
    for (int j = 0; j < NX; ++j) {
      __m512 s = acc[0][j];
      for (int c = 1; c < kC; ++c) s = _mm512_add_ps(s, acc[c][j]);
      _mm512_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g), s);
    }
  }
}

// G groups (16·G weight rows) at a time for NX >= 4 activation rows: one
// broadcast feeds G FMAs (one group: a broadcast per FMA, 9 loads per 8
// FMAs, the loads set the pace).
template <DType T, int NX, int G>
void gemm_half_g(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
                 float* y, size_t y_stride) {
  constexpr size_t kStep = T == DType::kF32 ? 64 : 32;  // bytes per input
  const float* xr[NX];
  for (int j = 0; j < NX; ++j) xr[j] = reinterpret_cast<const float*>(x + static_cast<size_t>(j) * x_stride);
  int g = 0;
  for (; g + G <= n_groups; g += G) {
    const uint8_t* g0 = w + static_cast<size_t>(g) * group_bytes;
    __m512 acc[G][NX];
#pragma GCC unroll 4
    for (int i = 0; i < G; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NX; ++j) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < n; ++k) {
      __m512 wv[G];
#pragma GCC unroll 4
      for (int i = 0; i < G; ++i) wv[i] = load16<T>(g0 + static_cast<size_t>(i) * group_bytes + kStep * static_cast<size_t>(k));
#pragma GCC unroll 8
      for (int j = 0; j < NX; ++j) {
        __m512 xv = _mm512_set1_ps(xr[j][k]);
        asm("" : "+v"(xv));  // one broadcast for the G FMAs
#pragma GCC unroll 4
        for (int i = 0; i < G; ++i) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NX; ++j)
#pragma GCC unroll 4
      for (int i = 0; i < G; ++i)
        _mm512_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g + i), acc[i][j]);
  }
  if (g < n_groups)
    gemm_half<T, NX>(n, w + static_cast<size_t>(g) * group_bytes, group_bytes, n_groups - g, x, x_stride,
                     y + 16 * static_cast<size_t>(g), y_stride);
}

template <DType T>
void gemm_half_any(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  with_rows<kX16MaxX>(nx, [&]<int NX>() {
    // Two groups per pass: matmul32 F16 (1 thread) 38-43 -> 52-54 GMAC/s
    // (three: 47-48, the blocks being 4 groups).
    if (NX >= 4 && ng >= 2)
      gemm_half_g<T, NX, 2>(n, w, gb, ng, x, xs, y, ys);
    else
      gemm_half<T, NX>(n, w, gb, ng, x, xs, y, ys);
  });
}

}  // namespace

void gemm_x16_f32(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys) {
  gemm_half_any<DType::kF32>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_f16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                  size_t ys) {
  gemm_half_any<DType::kF16>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_bf16(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_half_any<DType::kBF16>(n, w, gb, ng, x, xs, nx, y, ys);
}

}  // namespace hearth::kernels::avx512
