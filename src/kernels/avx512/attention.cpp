// AVX-512 grouped-query attention over the F16 and Q8_0 KV caches.
// Scores: per block of 16 positions (the K cache is position-minor in blocks
// of 16, tensor/kv_layout.h), each head dimension's 16 keys are converted
// once and multiplied by every query head's broadcast value: up to 8 heads'
// 16 scores accumulate in registers with no horizontal sums (hd 64, 8 heads:
// 53 GMAC/s at 64-512 positions against 19-23 for the row-major layout's 8
// dot products reduced together, 2.1x at 2048); F16 takes two blocks per
// pass. More than 8 heads (a prompt pass's tokens sharing a KV head): per 64
// positions the K blocks are converted to float once and scored 6 heads × 64
// positions at a time (scores_f16_wide; 1.14-1.22x the 8 × 32 tile). Q8_0
// scores are int8 dot products (VNNI) with the query heads rounded through
// Q8_0, 4 dimensions per instruction (scores16_q8).
// Mix: blocks of 64 V rows are converted to float once (F16, or Q8_0 codes
// times their scales; into a stack buffer) and reused by every query head of
// the group; four heads at a time keep 64 output values each in registers
// while the block's rows are added (one V load feeds four FMAs). Same-process
// A/B at 1464 positions, 32 heads: 1.13x the 16-row, two-head kernel; that
// one was 1.7x the AVX2 kernel (hd 64, 8 heads, 64-512 positions). Head
// dimensions past the last 64 go 32 or 16 at a time, eight heads per pass
// (hd 32, as small BERT embedders have, used the AVX2 mix before). Head sizes
// off the fast path (hd % 16, Q8_0 hd % 32, or > 256) use the AVX2 mix. References:
// tensor::attn_scores_f16, attn_mix_f16, attn_scores_q8, attn_mix_q8.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx2/kernels_avx2.h"
#include "kernels/avx512/kernels_avx512.h"
#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/kv_layout.h"
#include "tensor/type_ops.h"

namespace hearth::kernels::avx512 {

using tensor::BlockQ8_0;
using tensor::kQK;

namespace {

constexpr int64_t kMaxHd = 256;
// V rows converted per block of the mix: each head's 64 outputs are loaded
// and stored once per block (16 rows: 57 GMAC/s in L1, 64 rows: 73-76).
constexpr int kRows = 64;

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

// Q8_0 V rows [0, nr) (hd / 32 BlockQ8_0 each, row_bytes apart) as float.
inline void q8_rows(int64_t hd, int nr, const uint8_t* x, size_t row_bytes, float* out) {
  for (int t = 0; t < nr; ++t) {
    const auto* row = reinterpret_cast<const BlockQ8_0*>(x + t * row_bytes);
    for (int64_t c = 0; c < hd / kQK; ++c) {
      if (c % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + c) + kAhead, _MM_HINT_T0);
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(row[c].d));
      for (int k = 0; k < 2; ++k) {
        const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row[c].qs + 16 * k)));
        _mm512_store_ps(out + t * hd + c * kQK + 16 * k, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
      }
    }
  }
}

// NH heads' outputs o[h] (16·C values each) += Σ_t p[h][t] · vr[t] (the
// rows' 16·C values from the same offset; rows hd apart). Not inlined: GCC
// then kept some of the accumulators on the stack.
template <int NH, int C>
__attribute__((noinline)) void mix_tile(const float* const* p, int nr, const float* vr, int64_t hd, float* const* o) {
  __m512 acc[NH * C];
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[C * h + c] = _mm512_loadu_ps(o[h] + 16 * c);
  for (int t = 0; t < nr; ++t) {
    __m512 a[NH];
#pragma GCC unroll 8
    for (int h = 0; h < NH; ++h) a[h] = _mm512_set1_ps(p[h][t]);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      // In a register: GCC otherwise folds the load into each head's FMA,
      // two 64-byte loads per row and 16 values where one does (the loads,
      // not the FMAs, then set the pace: 23 -> 18 us per 8 heads x 2048
      // positions, hd 64).
      __m512 v = _mm512_load_ps(vr + t * hd + 16 * c);
      asm("" : "+v"(v));
#pragma GCC unroll 8
      for (int h = 0; h < NH; ++h) acc[C * h + c] = _mm512_fmadd_ps(a[h], v, acc[C * h + c]);
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(o[h] + 16 * c, acc[C * h + c]);
}

// mix_tile for nh heads (1..8; at most 4 when C is 4: 16 accumulators).
template <int C>
void mix_tile_n(int nh, const float* const* p, int nr, const float* vr, int64_t hd, float* const* o) {
  switch (nh) {
    case 8: if constexpr (C < 4) return mix_tile<8, C>(p, nr, vr, hd, o); break;
    case 7: if constexpr (C < 4) return mix_tile<7, C>(p, nr, vr, hd, o); break;
    case 6: if constexpr (C < 4) return mix_tile<6, C>(p, nr, vr, hd, o); break;
    case 5: if constexpr (C < 4) return mix_tile<5, C>(p, nr, vr, hd, o); break;
    case 4: return mix_tile<4, C>(p, nr, vr, hd, o);
    case 3: return mix_tile<3, C>(p, nr, vr, hd, o);
    case 2: return mix_tile<2, C>(p, nr, vr, hd, o);
    default: return mix_tile<1, C>(p, nr, vr, hd, o);
  }
}


// Scores of G heads (q: hd values each) for the 16 · NB positions of NB
// consecutive K blocks (kb: the first): each broadcast query value feeds NB
// FMAs (with one block per broadcast, the loads, 8 broadcasts and a K row
// per 8 FMAs, set the pace).
template <int G, int NB>
inline void scores16(int64_t hd, const float* q, const uint16_t* kb, __m512* acc) {
  constexpr size_t kBlockValues = 16;  // per head dimension and block
  const size_t next = static_cast<size_t>(hd) * kBlockValues;  // the next block
  for (int x = 0; x < G * NB; ++x) acc[x] = _mm512_setzero_ps();
  for (int64_t i = 0; i < hd; ++i) {
    __m512 kt[NB];
#pragma GCC unroll 2
    for (int b = 0; b < NB; ++b) {
      const uint16_t* row = kb + b * next + 16 * i;
      if (i % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(row) + kAhead, _MM_HINT_T0);
      kt[b] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)));
    }
#pragma GCC unroll 8
    for (int h = 0; h < G; ++h) {
      const __m512 qv = _mm512_set1_ps(q[h * hd + i]);
#pragma GCC unroll 2
      for (int b = 0; b < NB; ++b) acc[b * G + h] = _mm512_fmadd_ps(qv, kt[b], acc[b * G + h]);
    }
  }
}

// G heads' (q: hd values each) scores of NB K blocks already converted to
// float (kf: [NB][hd][16]), n of them valid, written to s (rows s_stride
// apart) times scale. 6 heads × 4 blocks (24 accumulators: 4 loads and 6
// broadcasts per 24 FMAs) ran at 95% of the FMA peak in L1 where the F16
// kernel's 8 × 2 tile (10 per 16, converting as it goes) ran at 69-82%. Not
// inlined: GCC kept the accumulators on the stack in the callers.
template <int G, int NB>
__attribute__((noinline)) void scores_tile(int64_t hd, const float* q, const float* kf, float scale, int n, float* s,
                                           size_t s_stride) {
  const size_t next = static_cast<size_t>(hd) * 16;
  __m512 acc[G * NB];
#pragma GCC unroll 24
  for (int x = 0; x < G * NB; ++x) acc[x] = _mm512_setzero_ps();
  for (int64_t i = 0; i < hd; ++i) {
    __m512 kt[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b) kt[b] = _mm512_load_ps(kf + b * next + 16 * i);
#pragma GCC unroll 6
    for (int h = 0; h < G; ++h) {
      // In a register: folded into each FMA it would be NB loads, not one.
      __m512 qv = _mm512_set1_ps(q[h * hd + i]);
      asm("" : "+v"(qv));
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) acc[b * G + h] = _mm512_fmadd_ps(qv, kt[b], acc[b * G + h]);
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b) {
    const int nr = std::min(16, n - 16 * b);
    // Lanes past n hold whatever the cache held there: not stored.
    const __mmask16 keep = static_cast<__mmask16>((1u << nr) - 1);
#pragma GCC unroll 6
    for (int h = 0; h < G; ++h)
      _mm512_mask_storeu_ps(s + static_cast<size_t>(h) * s_stride + 16 * b, keep, _mm512_mul_ps(acc[b * G + h], vscale));
  }
}

template <int G>
void scores_tile_nb(int nb, int64_t hd, const float* q, const float* kf, float scale, int n, float* s,
                    size_t s_stride) {
  switch (nb) {
    case 4: return scores_tile<G, 4>(hd, q, kf, scale, n, s, s_stride);
    case 3: return scores_tile<G, 3>(hd, q, kf, scale, n, s, s_stride);
    case 2: return scores_tile<G, 2>(hd, q, kf, scale, n, s, s_stride);
    default: return scores_tile<G, 1>(hd, q, kf, scale, n, s, s_stride);
  }
}

// Scores of more than 8 heads (a prompt pass's tokens sharing a KV head):
// per 64 positions, the K blocks are converted to float once and scored for
// heads in groups of at most 6 (as even as possible).
void scores_f16_wide(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride) {
  alignas(64) float kf[4 * 16 * kMaxHd];
  const int groups = (g + 5) / 6, base = g / groups, extra = g % groups;
  for (int64_t j0 = 0; j0 < n_kv; j0 += 64) {
    const int n = static_cast<int>(std::min<int64_t>(64, n_kv - j0)), nb = (n + 15) / 16;
    const uint16_t* kb = k + tensor::k_index(hd, j0, 0);
    for (int64_t x = 0; x < nb * hd * 16; x += 16) {
      if (x % 32 == 0) _mm_prefetch(reinterpret_cast<const char*>(kb + x) + kAhead, _MM_HINT_T0);
      _mm512_store_ps(kf + x, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kb + x))));
    }
    for (int gi = 0, h0 = 0; gi < groups; ++gi) {
      const int gc = base + (gi < extra ? 1 : 0);
      const float* qh = q + h0 * hd;
      float* sh = s + static_cast<size_t>(h0) * s_stride + static_cast<size_t>(j0);
      switch (gc) {
        case 6: scores_tile_nb<6>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
        case 5: scores_tile_nb<5>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
        case 4: scores_tile_nb<4>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
        case 3: scores_tile_nb<3>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
        case 2: scores_tile_nb<2>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
        default: scores_tile_nb<1>(nb, hd, qh, kf, scale, n, sh, s_stride); break;
      }
      h0 += gc;
    }
  }
}

// Up to 8 query heads quantized to Q8_0 for the integer scores: per head and
// 32-value chunk the codes, the scale, and -128 × the codes' sum (the keys
// enter VPDPBUSD as unsigned, code + 128).
struct QueryQ8 {
  BlockQ8_0 b[8][kMaxHd / kQK];
  int32_t off[8][kMaxHd / kQK];
  float d[8][kMaxHd / kQK];  // b's scales as float
};

// The G heads' 16 scores of one Q8_0 K block (codes [hd][16], then scales
// [hd / 32][16]): per 4 dimensions, the block's 64 codes are transposed to
// position-major (one VPERMD, one VPSHUFB: 4 codes of a position in a dword)
// and biased to unsigned, then one VPDPBUSD per head adds 4 dimensions × 16
// positions; per chunk of 32 dimensions the integer sums are converted and
// scaled by key scale × query scale.
template <int G>
inline void scores16_q8(int64_t hd, const QueryQ8& qq, const int8_t* codes, const uint16_t* scales, __m512* acc) {
  // Dword o of the transposed vector: position group o / 4 of dimension o % 4.
  const __m512i words = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  // Within each 128-bit lane, byte 4p + d from byte 4d + p.
  const __m512i bytes = _mm512_broadcast_i32x4(_mm_set_epi8(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0));
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int h = 0; h < G; ++h) acc[h] = _mm512_setzero_ps();
  _mm_prefetch(reinterpret_cast<const char*>(scales) + kAhead, _MM_HINT_T0);
  for (int64_t c = 0; c < hd / kQK; ++c) {
    __m512i si[G];
    for (int h = 0; h < G; ++h) si[h] = _mm512_set1_epi32(qq.off[h][c]);
#pragma GCC unroll 8
    for (int q4 = 0; q4 < kQK / 4; ++q4) {
      const int8_t* p = codes + 16 * (c * kQK + 4 * q4);
      _mm_prefetch(reinterpret_cast<const char*>(p) + kAhead, _MM_HINT_T0);
      const __m512i t = _mm512_xor_si512(
          _mm512_shuffle_epi8(_mm512_permutexvar_epi32(words, _mm512_loadu_si512(p)), bytes), bias);
#pragma GCC unroll 8
      for (int h = 0; h < G; ++h) {
        int32_t q4b;
        std::memcpy(&q4b, qq.b[h][c].qs + 4 * q4, sizeof q4b);
        si[h] = _mm512_dpbusd_epi32(si[h], t, _mm512_set1_epi32(q4b));
      }
    }
    const __m512 ks = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + 16 * c)));
    for (int h = 0; h < G; ++h)
      acc[h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si[h]),
                               _mm512_mul_ps(ks, _mm512_set1_ps(qq.d[h][c])), acc[h]);
  }
}

// Scores of g heads for n_kv positions, up to kMaxNB blocks at a time:
// score.template operator()<G, NB>(h0, j0, acc) fills acc[b·G + h] with head
// h0 + h's 16 scores of block b (b < NB) from the block at j0.
template <int kMaxNB, class Score>
void scores_blocks(int g, int64_t n_kv, float scale, float* s, size_t s_stride, Score score) {
  static_assert(tensor::kKBlock == 16);
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n_kv;) {
    const int nb = static_cast<int>(std::min<int64_t>(kMaxNB, (n_kv - j0 + 15) / 16));
    for (int h0 = 0; h0 < g; h0 += 8) {
      const int gc = std::min(8, g - h0);
      __m512 acc[8 * kMaxNB];
      auto run = [&]<int NB>() {
        switch (gc) {
          case 8: score.template operator()<8, NB>(h0, j0, acc); break;
          case 7: score.template operator()<7, NB>(h0, j0, acc); break;
          case 6: score.template operator()<6, NB>(h0, j0, acc); break;
          case 5: score.template operator()<5, NB>(h0, j0, acc); break;
          case 4: score.template operator()<4, NB>(h0, j0, acc); break;
          case 3: score.template operator()<3, NB>(h0, j0, acc); break;
          case 2: score.template operator()<2, NB>(h0, j0, acc); break;
          default: score.template operator()<1, NB>(h0, j0, acc); break;
        }
      };
      if constexpr (kMaxNB > 1) {
        if (nb == 2) run.template operator()<2>(); else run.template operator()<1>();
      } else {
        run.template operator()<1>();
      }
      for (int b = 0; b < nb; ++b) {
        const int64_t jb = j0 + 16 * b;
        const int nr = static_cast<int>(std::min<int64_t>(16, n_kv - jb));
        // Lanes past n_kv hold whatever the cache held there: not stored.
        const __mmask16 keep = static_cast<__mmask16>((1u << nr) - 1);
        for (int h = 0; h < gc; ++h)
          _mm512_mask_storeu_ps(s + static_cast<size_t>(h0 + h) * s_stride + static_cast<size_t>(jb), keep,
                                _mm512_mul_ps(acc[b * gc + h], vscale));
      }
    }
    j0 += 16 * nb;
  }
}

// Mix over blocks of kRows V rows converted to float by load(j0, nr, vr).
template <class LoadRows>
void mix_blocks(int64_t hd, int g, const float* p, size_t p_stride, int64_t n_kv, float* out, LoadRows load) {
  alignas(64) float vr[kRows * kMaxHd];
  std::fill(out, out + hd * g, 0.0f);
  for (int64_t j0 = 0; j0 < n_kv; j0 += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, n_kv - j0));
    load(j0, nr, vr);
    // Head dimensions 64 at a time (four vectors per head, four heads per
    // pass), then a remaining 32 or 16 (eight heads per pass).
    for (int64_t i0 = 0; i0 < hd;) {
      const int c = hd - i0 >= 64 ? 4 : hd - i0 >= 32 ? 2 : 1, per = c == 4 ? 4 : 8;
      for (int h = 0; h < g; h += per) {
        const int nh = std::min(per, g - h);
        const float* ph[8];
        float* o[8];
        for (int x = 0; x < nh; ++x) {
          ph[x] = p + static_cast<size_t>(h + x) * p_stride + static_cast<size_t>(j0);
          o[x] = out + (h + x) * hd + i0;
        }
        if (c == 4) mix_tile_n<4>(nh, ph, nr, vr + i0, hd, o);
        else if (c == 2) mix_tile_n<2>(nh, ph, nr, vr + i0, hd, o);
        else mix_tile_n<1>(nh, ph, nr, vr + i0, hd, o);
      }
      i0 += 16 * c;
    }
  }
}

}  // namespace

void attn_scores_f16(int64_t hd, int g, const float* q, const uint16_t* k, int64_t n_kv, float scale, float* s,
                     size_t s_stride) {
  if (g > 8 && hd <= kMaxHd) return scores_f16_wide(hd, g, q, k, n_kv, scale, s, s_stride);
  scores_blocks<2>(g, n_kv, scale, s, s_stride, [&]<int G, int NB>(int h0, int64_t j0, __m512* acc) {
    scores16<G, NB>(hd, q + h0 * hd, k + tensor::k_index(hd, j0, 0), acc);
  });
}

void attn_scores_q8(int64_t hd, int g, const float* q, const uint8_t* k, int64_t n_kv, float scale, float* s,
                    size_t s_stride) {
  if (hd % kQK != 0 || hd > kMaxHd) return tensor::attn_scores_q8(hd, g, q, k, n_kv, scale, s, s_stride);
  QueryQ8 qq;
  for (int p0 = 0; p0 < g; p0 += 8) {
    const int gp = std::min(8, g - p0);
    for (int h = 0; h < gp; ++h) {
      avx512::quantize_q8_0(q + (p0 + h) * hd, qq.b[h], hd);
      for (int64_t c = 0; c < hd / kQK; ++c) {
        int32_t sum = 0;
        for (int8_t x : qq.b[h][c].qs) sum += x;
        qq.off[h][c] = -128 * sum;
        qq.d[h][c] = _cvtsh_ss(qq.b[h][c].d);
      }
    }
    scores_blocks<1>(gp, n_kv, scale, s + static_cast<size_t>(p0) * s_stride, s_stride,
                  [&]<int G, int NB>(int h0, int64_t j0, __m512* acc) {
                    const int64_t b = j0 / tensor::kKBlock;
                    scores16_q8<G>(hd, qq, tensor::q8_k_codes(k, hd, b), tensor::q8_k_scales(k, hd, b), acc);
                  });
  }
}

void attn_mix_f16(int64_t hd, int g, const float* p, size_t p_stride, const uint16_t* v, size_t kv_stride,
                  int64_t n_kv, float* out) {
  if (hd % 16 != 0 || hd > kMaxHd) return avx2::attn_mix_f16(hd, g, p, p_stride, v, kv_stride, n_kv, out);
  mix_blocks(hd, g, p, p_stride, n_kv, out, [&](int64_t j0, int nr, float* vr) {
    f16_rows(hd, nr, v + static_cast<size_t>(j0) * kv_stride, kv_stride, vr);
  });
}

void attn_mix_q8(int64_t hd, int g, const float* p, size_t p_stride, const uint8_t* v, size_t row_bytes,
                 int64_t n_kv, float* out) {
  if (hd % 32 != 0 || hd > kMaxHd) return avx2::attn_mix_q8(hd, g, p, p_stride, v, row_bytes, n_kv, out);
  mix_blocks(hd, g, p, p_stride, n_kv, out, [&](int64_t j0, int nr, float* vr) {
    q8_rows(hd, nr, v + static_cast<size_t>(j0) * row_bytes, row_bytes, vr);
  });
}

}  // namespace hearth::kernels::avx512
