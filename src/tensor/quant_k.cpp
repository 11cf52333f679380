// K-quants (Q2_K..Q6_K) and Q8_K: unpacking, dequantization and dot products
// (scalar reference). The quantizers are in kquant_quantize.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/kquant_unpack.h"
#include "tensor/type_ops.h"

namespace hearth::tensor {

void unpack_q2_k(const BlockQ2_K& b, KUnpacked* u) {
  u->d = fp16_to_f32(b.d);
  u->dmin = fp16_to_f32(b.dmin);
  for (int g = 0; g < 16; ++g) {
    u->scale[g] = b.scales[g] & 0xF;
    u->min[g] = b.scales[g] >> 4;
  }
  // 128 values per half: byte l of the half holds elements l, l+32, l+64, l+96
  // (shifts 0, 2, 4, 6) for l in [0, 32).
  for (int half = 0; half < 2; ++half)
    for (int shift = 0; shift < 4; ++shift)
      for (int l = 0; l < 32; ++l)
        u->q[half * 128 + shift * 32 + l] = static_cast<int8_t>((b.qs[half * 32 + l] >> (2 * shift)) & 3);
}

void unpack_q3_k(const BlockQ3_K& b, KUnpacked* u) {
  u->d = fp16_to_f32(b.d);
  u->dmin = 0;
  // 16 6-bit scales: low 4 bits in scales[0..7] nibbles, high 2 bits in scales[8..11].
  uint32_t aux[4];
  std::memcpy(aux, b.scales, 12);
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  int8_t sc[16];
  std::memcpy(sc, aux, 16);
  for (int g = 0; g < 16; ++g) {
    u->scale[g] = static_cast<int16_t>(sc[g] - 32);
    u->min[g] = 0;
  }
  for (int half = 0; half < 2; ++half)
    for (int shift = 0; shift < 4; ++shift) {
      uint8_t m = static_cast<uint8_t>(1u << (half * 4 + shift));
      for (int l = 0; l < 32; ++l) {
        int q = (b.qs[half * 32 + l] >> (2 * shift)) & 3;
        u->q[half * 128 + shift * 32 + l] = static_cast<int8_t>(q - ((b.hmask[l] & m) ? 0 : 4));
      }
    }
}

void unpack_q4_k(const BlockQ4_K& b, KUnpacked* u) {
  u->d = fp16_to_f32(b.d);
  u->dmin = fp16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, &sc, &m);
    u->scale[2 * j] = u->scale[2 * j + 1] = sc;
    u->min[2 * j] = u->min[2 * j + 1] = m;
  }
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      u->q[c * 64 + l] = static_cast<int8_t>(b.qs[c * 32 + l] & 0xF);
      u->q[c * 64 + 32 + l] = static_cast<int8_t>(b.qs[c * 32 + l] >> 4);
    }
}

void unpack_q5_k(const BlockQ5_K& b, KUnpacked* u) {
  u->d = fp16_to_f32(b.d);
  u->dmin = fp16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, b.scales, &sc, &m);
    u->scale[2 * j] = u->scale[2 * j + 1] = sc;
    u->min[2 * j] = u->min[2 * j + 1] = m;
  }
  for (int c = 0; c < 4; ++c) {
    uint8_t u1 = static_cast<uint8_t>(1u << (2 * c)), u2 = static_cast<uint8_t>(2u << (2 * c));
    for (int l = 0; l < 32; ++l) {
      u->q[c * 64 + l] = static_cast<int8_t>((b.qs[c * 32 + l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0));
      u->q[c * 64 + 32 + l] = static_cast<int8_t>((b.qs[c * 32 + l] >> 4) + ((b.qh[l] & u2) ? 16 : 0));
    }
  }
}

void unpack_q6_k(const BlockQ6_K& b, KUnpacked* u) {
  u->d = fp16_to_f32(b.d);
  u->dmin = 0;
  for (int g = 0; g < 16; ++g) {
    u->scale[g] = b.scales[g];
    u->min[g] = 0;
  }
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + half * 64;
    const uint8_t* qh = b.qh + half * 32;
    int8_t* q = u->q + half * 128;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

namespace {

void dequantize_unpacked(const KUnpacked& u, float* y) {
  for (int g = 0; g < 16; ++g) {
    float dl = u.d * static_cast<float>(u.scale[g]);
    float ml = u.dmin * static_cast<float>(u.min[g]);
    for (int l = 0; l < 16; ++l) y[g * 16 + l] = dl * static_cast<float>(u.q[g * 16 + l]) - ml;
  }
}

float dot_unpacked(const KUnpacked& u, const BlockQ8_K& y) {
  int32_t sum_q = 0, sum_m = 0;
  for (int g = 0; g < 16; ++g) {
    int32_t s = 0;
    for (int l = 0; l < 16; ++l) s += u.q[g * 16 + l] * y.qs[g * 16 + l];
    sum_q += u.scale[g] * s;
    sum_m += u.min[g] * y.bsums[g];
  }
  return y.d * (u.d * static_cast<float>(sum_q) - u.dmin * static_cast<float>(sum_m));
}

template <class Block, void (*Unpack)(const Block&, KUnpacked*)>
void dequantize_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const Block*>(src);
  KUnpacked u;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    Unpack(b[i], &u);
    dequantize_unpacked(u, y + i * kQK_K);
  }
}

template <class Block, void (*Unpack)(const Block&, KUnpacked*)>
float vec_dot_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const Block*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  KUnpacked u;
  float sum = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    Unpack(a[i], &u);
    sum += dot_unpacked(u, b[i]);
  }
  return sum;
}

}  // namespace

void dequantize_q2_k(const void* s, float* y, int64_t n) { dequantize_k<BlockQ2_K, unpack_q2_k>(s, y, n); }
void dequantize_q3_k(const void* s, float* y, int64_t n) { dequantize_k<BlockQ3_K, unpack_q3_k>(s, y, n); }
void dequantize_q4_k(const void* s, float* y, int64_t n) { dequantize_k<BlockQ4_K, unpack_q4_k>(s, y, n); }
void dequantize_q5_k(const void* s, float* y, int64_t n) { dequantize_k<BlockQ5_K, unpack_q5_k>(s, y, n); }
void dequantize_q6_k(const void* s, float* y, int64_t n) { dequantize_k<BlockQ6_K, unpack_q6_k>(s, y, n); }
float vec_dot_q2_k(int64_t n, const void* w, const void* x) { return vec_dot_k<BlockQ2_K, unpack_q2_k>(n, w, x); }
float vec_dot_q3_k(int64_t n, const void* w, const void* x) { return vec_dot_k<BlockQ3_K, unpack_q3_k>(n, w, x); }
float vec_dot_q4_k(int64_t n, const void* w, const void* x) { return vec_dot_k<BlockQ4_K, unpack_q4_k>(n, w, x); }
float vec_dot_q5_k(int64_t n, const void* w, const void* x) { return vec_dot_k<BlockQ5_K, unpack_q5_k>(n, w, x); }
float vec_dot_q6_k(int64_t n, const void* w, const void* x) { return vec_dot_k<BlockQ6_K, unpack_q6_k>(n, w, x); }

// ---- Q8_K (activations for the K-quants): x = d * q, d = max / -127, bsums per 16
void dequantize_q8_k(const void* src, float* y, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) y[i * kQK_K + j] = b[i].d * static_cast<float>(b[i].qs[j]);
}

void quantize_q8_k(const float* x, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK_K; ++j)
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    if (amax == 0) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // -127 (not -128) as the reference engine does, so activations round alike.
    float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      b[i].qs[j] = static_cast<int8_t>(std::min(127, v));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b[i].qs[g * 16 + l];
      b[i].bsums[g] = static_cast<int16_t>(s);
    }
    b[i].d = 1 / iscale;
  }
}

}  // namespace hearth::tensor
