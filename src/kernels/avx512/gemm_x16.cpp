// AVX-512 VNNI products over weights interleaved 16 rows at a time
// (tensor/interleave.h): for each block of 32 inputs, 8 VNNI instructions
// (each 4 inputs × 16 rows, activation bytes broadcast from memory) build the
// 16 rows' integer dots, then one convert, one multiply and one FMA apply the
// 16 block scales at once. Serves generation (one activation row) and prompt
// processing (up to kX16MaxX activation rows share each unpacked weight
// block). Reference: tensor::x16_gemv_ref.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx512/kernels_avx512.h"
#include "kernels/kernels.h"
#include "tensor/blocks.h"
#include "tensor/interleave.h"

namespace hearth::kernels::avx512 {

using namespace hearth::tensor;

namespace {

inline __m512i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

template <DType T, int NX>
void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int n_groups, const ActQ8* x, size_t x_stride, float* y,
          size_t y_stride) {
  constexpr size_t kCodes = T == DType::kQ4_0 ? 256 : 512;
  const int64_t nb = n / kQK;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  for (int g = 0; g < n_groups; ++g) {
    const uint8_t* codes = w + static_cast<size_t>(g) * group_bytes;
    const auto* scales = reinterpret_cast<const uint16_t*>(codes + static_cast<size_t>(nb) * kCodes);
    __m512 acc[NX];
    for (int j = 0; j < NX; ++j) acc[j] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* c = codes + static_cast<size_t>(b) * kCodes;
      __m512i u[8];
      if constexpr (T == DType::kQ4_0) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const __m512i v = _mm512_loadu_si512(c + 64 * k);
          u[k] = _mm512_and_si512(v, low4);
          u[4 + k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
      } else {
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) u[k] = _mm512_loadu_si512(c + 64 * k);
      }
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + 16 * b)));
#pragma GCC unroll 8
      for (int j = 0; j < NX; ++j) {
        const ActQ8& a = x[static_cast<size_t>(j) * x_stride + static_cast<size_t>(b)];
        // Two chains of 4 so that one activation row does not wait on 8
        // dependent VNNI latencies per block.
        __m512i s0 = _mm512_set1_epi32(a.off), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int k = 0; k < 8; k += 2) {
          s0 = _mm512_dpbusd_epi32(s0, u[k], bcast4(a.qs + 4 * k));
          s1 = _mm512_dpbusd_epi32(s1, u[k + 1], bcast4(a.qs + 4 * k + 4));
        }
        const __m512 s = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
        acc[j] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(a.d)), acc[j]);
      }
    }
    for (int j = 0; j < NX; ++j) _mm512_storeu_ps(y + static_cast<size_t>(j) * y_stride + 16 * static_cast<size_t>(g), acc[j]);
  }
}

template <DType T>
void gemm_any(int64_t n, const uint8_t* w, size_t gb, int ng, const ActQ8* x, size_t xs, int nx, float* y,
              size_t ys) {
  switch (nx) {
    case 1: return gemm<T, 1>(n, w, gb, ng, x, xs, y, ys);
    case 2: return gemm<T, 2>(n, w, gb, ng, x, xs, y, ys);
    case 3: return gemm<T, 3>(n, w, gb, ng, x, xs, y, ys);
    case 4: return gemm<T, 4>(n, w, gb, ng, x, xs, y, ys);
    case 5: return gemm<T, 5>(n, w, gb, ng, x, xs, y, ys);
    case 6: return gemm<T, 6>(n, w, gb, ng, x, xs, y, ys);
    case 7: return gemm<T, 7>(n, w, gb, ng, x, xs, y, ys);
    default: return gemm<T, 8>(n, w, gb, ng, x, xs, y, ys);
  }
}

}  // namespace

void gemm_x16_q4_0(int64_t n, const uint8_t* w, size_t gb, int ng, const ActQ8* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ4_0>(n, w, gb, ng, x, xs, nx, y, ys);
}
void gemm_x16_q8_0(int64_t n, const uint8_t* w, size_t gb, int ng, const ActQ8* x, size_t xs, int nx, float* y,
                   size_t ys) {
  gemm_any<DType::kQ8_0>(n, w, gb, ng, x, xs, nx, y, ys);
}

}  // namespace hearth::kernels::avx512
