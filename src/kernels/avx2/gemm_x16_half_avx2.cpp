// AVX2 products over F32 / F16 / BF16 weights interleaved 16 rows at a time
// (tensor/interleave.h): each input's 16 values convert to two float vectors
// (rows 0-7, 8-15) that multiply the input's value of up to 4 activation rows
// per pass (16 registers: 8 accumulators, or 2 chains of them for 1-2 rows).
// Plus the fused activation preparation for F16 (round to half and back).
// Reference: tensor::x16_gemv_ref, tensor::x16_quantize_act.
#include <immintrin.h>

#include "core/dtype.h"

#include "kernels/avx2/kernels_avx2.h"
#include "kernels/kernels.h"
#include "tensor/fp16.h"

namespace hearth::kernels::avx2 {

namespace {

template <DType T>
inline __m256 load8(const uint8_t* p) {
  if constexpr (T == DType::kF32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (T == DType::kBF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}

template <DType T, int NX>
void gemm_half(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const uint8_t* x, size_t x_stride,
               float* y, size_t y_stride) {
  constexpr int kC = NX <= 2 ? 2 : 1;
  constexpr size_t kStep = T == DType::kF32 ? 64 : 32, kHalf = kStep / 2;  // bytes per input, per 8 rows
  const float* xr[NX];
  for (int j = 0; j < NX; ++j) xr[j] = reinterpret_cast<const float*>(x + static_cast<size_t>(j) * x_stride);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* grp = w + static_cast<size_t>(g) * group_bytes;
    __m256 acc[kC][NX][2];
    for (int c = 0; c < kC; ++c)
      for (int j = 0; j < NX; ++j) acc[c][j][0] = acc[c][j][1] = _mm256_setzero_ps();
    int64_t k = 0;
    auto step = [&](int64_t kk, int c) __attribute__((always_inline)) {
      const __m256 w0 = load8<T>(grp + kStep * static_cast<size_t>(kk));
      const __m256 w1 = load8<T>(grp + kStep * static_cast<size_t>(kk) + kHalf);
#pragma GCC unroll 4
      for (int j = 0; j < NX; ++j) {
        const __m256 xv = _mm256_broadcast_ss(xr[j] + kk);
        acc[c][j][0] = _mm256_fmadd_ps(w0, xv, acc[c][j][0]);
        acc[c][j][1] = _mm256_fmadd_ps(w1, xv, acc[c][j][1]);
      }
    };
    for (; k + kC <= n; k += kC)
#pragma GCC unroll 2
      for (int c = 0; c < kC; ++c) step(k + c, c);
    for (; k < n; ++k) step(k, 0);
    for (int j = 0; j < NX; ++j)
      for (int h = 0; h < 2; ++h) {
        __m256 s = acc[0][j][h];
        for (int c = 1; c < kC; ++c) s = _mm256_add_ps(s, acc[c][j][h]);
        _mm256_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g) + 8 * h, s);
      }
  }
}

template <DType T>
void gemm_half_any(int64_t n, const uint8_t* w, size_t gb, int ng, const uint8_t* x, size_t xs, int nx, float* y,
                   size_t ys) {
  for (int j0 = 0; j0 < nx; j0 += 4) {
    const uint8_t* xj = x + static_cast<size_t>(j0) * xs;
    float* yj = y + static_cast<size_t>(j0) * ys;
    with_rows<4>(nx - j0, [&]<int NX>() { gemm_half<T, NX>(n, w, gb, ng, xj, xs, yj, ys); });
  }
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

void x16_act_f16(const float* x, int64_t n, void* out) {
  auto* o = static_cast<float*>(out);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
  for (; i < n; ++i) o[i] = tensor::fp16_to_f32(tensor::f32_to_fp16(x[i]));
}

}  // namespace hearth::kernels::avx2
