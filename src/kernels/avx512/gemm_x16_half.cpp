// AVX-512 products over F32 / F16 / BF16 weights interleaved 16 rows at a time
// (tensor/interleave.h: per input, the 16 rows' values side by side): each
// input's 16 values convert to one float vector, which multiplies the input's
// value of every activation row (broadcast from memory) into that row's 16
// accumulators. Up to kX16MaxX activation rows share each converted vector;
// fewer rows split the inputs over independent accumulator chains.
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

template <DType T>
void gemm_half_any(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  with_rows<kX16MaxX>(nx, [&]<int NX>() { gemm_half<T, NX>(n, w, gb, ng, x, xs, y, ys); });
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
