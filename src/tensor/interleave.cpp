#include "tensor/interleave.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/fp16.h"
#include "tensor/kquant_unpack.h"
#include "tensor/type_ops.h"

namespace hearth::tensor {

namespace {

constexpr int kR = kX16Rows;

// Two int16 in one int32 (low first), as the activation sums are stored.
int16_t pair_half(int32_t pair, int which) {
  return static_cast<int16_t>(which ? static_cast<uint32_t>(pair) >> 16 : static_cast<uint32_t>(pair) & 0xFFFF);
}

int32_t make_pair(int lo, int hi) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16) | static_cast<uint16_t>(lo));
}


// ---- Q4_0, Q4_1, Q5_0, Q5_1, Q8_0: blocks of 32 in pairs of code chunks (masks), scales (mins) (X16Legacy).

// Where a legacy block's fields sit (GGUF layouts) and its size.
struct LegacyFields {
  size_t bytes, codes, qh, m;  // qh, m: 0 when absent (d is always at 0)
};

LegacyFields legacy_fields(DType t) {
  switch (t) {
    case DType::kQ4_0: return {sizeof(BlockQ4_0), offsetof(BlockQ4_0, qs), 0, 0};
    case DType::kQ4_1: return {sizeof(BlockQ4_1), offsetof(BlockQ4_1, qs), 0, offsetof(BlockQ4_1, m)};
    case DType::kQ5_0: return {sizeof(BlockQ5_0), offsetof(BlockQ5_0, qs), offsetof(BlockQ5_0, qh), 0};
    case DType::kQ5_1: return {sizeof(BlockQ5_1), offsetof(BlockQ5_1, qs), offsetof(BlockQ5_1, qh), offsetof(BlockQ5_1, m)};
    default: return {sizeof(BlockQ8_0), offsetof(BlockQ8_0, qs), 0, 0};
  }
}

struct LegacyBlock {
  const uint8_t* codes;
  uint16_t d, m;  // m: Q4_1 / Q5_1 min
  uint32_t qh;    // Q5_0 / Q5_1 fifth bits (bit e: element e)
};

LegacyBlock legacy_block(DType t, const uint8_t* row, int64_t b) {
  const LegacyFields f = legacy_fields(t);
  const uint8_t* blk = row + static_cast<size_t>(b) * f.bytes;
  LegacyBlock lb{blk + f.codes, 0, 0, 0};
  std::memcpy(&lb.d, blk, 2);
  if (f.m) std::memcpy(&lb.m, blk + f.m, 2);
  if (f.qh) std::memcpy(&lb.qh, blk + f.qh, 4);
  return lb;
}

// Bit 4r + k of Q5_0 / Q5_1 mask (chunk c, nibble half) in the masks of a block.
int q5_0_mask_bit(const uint8_t* masks, int c, int half, int r, int k) {
  return (masks[16 * c + 8 * half + (4 * r + k) / 8] >> ((4 * r + k) % 8)) & 1;
}

// Copies `words` 4-byte pieces of one row into its lane of consecutive chunks.
void scatter(const uint8_t* src, int words, uint32_t flip, uint8_t* lane0) {
  for (int c = 0; c < words; ++c) {
    uint32_t v;
    std::memcpy(&v, src + 4 * c, 4);
    v ^= flip;
    std::memcpy(lane0 + 64 * c, &v, 4);
  }
}

void gather(const uint8_t* lane0, int words, uint32_t flip, uint8_t* dst) {
  for (int c = 0; c < words; ++c) {
    uint32_t v;
    std::memcpy(&v, lane0 + 64 * c, 4);
    v ^= flip;
    std::memcpy(dst + 4 * c, &v, 4);
  }
}

// ---- Q4_K: per super-block [scales and mins 192][d 32][dmin 32][codes 2048].
constexpr size_t kKScales = X16Q4K::kScaleMins, kKD = X16Q4K::kD, kKDmin = X16Q4K::kDmin, kKCodes = X16Q4K::kCodes,
                 kKBytes = X16Q4K::kBytes;
static_assert(kKScales == 0 && kKD == kKScales + X16KScales::kBytes && kKDmin == kKD + 32 &&
              kKCodes == kKDmin + 32 && kKCodes % 64 == 0 && kKBytes == kKCodes + 2048);

constexpr size_t min_index(int s, int r) { return X16KScales::min_index(s, r); }
uint8_t scale_of(const uint8_t* sb, int s, int r) { return X16KScales::scale(sb + kKScales, static_cast<size_t>(s * kR + r)); }
uint8_t min_of(const uint8_t* sb, int s, int r) { return X16KScales::min(sb + kKScales, min_index(s, r)); }

// Stores row r's sub-block s scale and min (6 bits each) in a super-block's
// X16KScales, leaving the other values' bits as they are.
void set_scale_min(uint8_t* sb, int s, int r, uint8_t sc, uint8_t m) {
  uint8_t* sm = sb + kKScales;
  const size_t i = static_cast<size_t>(s * kR + r), j = min_index(s, r);
  sm[i] = static_cast<uint8_t>((sm[i] & 0xF0) | (sc & 0xF));
  sm[j] = static_cast<uint8_t>((sm[j] & 0x0F) | ((m & 0xF) << 4));
  uint8_t& hs = sm[X16KScales::kHigh + (i & 63)];
  const int ss = static_cast<int>(2 * (i >> 6));
  hs = static_cast<uint8_t>((hs & ~(3 << ss)) | (((sc >> 4) & 3) << ss));
  uint8_t& hm = sm[X16KScales::kHigh + (j & 63)];
  const int sm_shift = static_cast<int>(4 + 2 * (j >> 6));
  hm = static_cast<uint8_t>((hm & ~(3 << sm_shift)) | (((m >> 4) & 3) << sm_shift));
}

// The 12 packed bytes of Q4_K scales from 8 scales and 8 mins (the inverse of
// get_scale_min_k4; every bit is determined, so the round trip is exact).
void pack_scales_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

void pack_q4_k(const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  for (int r = 0; r < kR; ++r) {
    const auto* row = reinterpret_cast<const BlockQ4_K*>(src + r * row_stride);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      uint8_t* sb = dst + static_cast<size_t>(b) * kKBytes;
      scatter(row[b].qs, 32, 0, sb + kKCodes + 4 * r);
      for (int s = 0; s < 8; ++s) {
        uint8_t sc, m;
        get_scale_min_k4(s, row[b].scales, &sc, &m);
        set_scale_min(sb, s, r, sc, m);
      }
      std::memcpy(sb + kKD + 2 * r, &row[b].d, 2);
      std::memcpy(sb + kKDmin + 2 * r, &row[b].dmin, 2);
    }
  }
}

void unpack_row_q4_k(const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  auto* row = reinterpret_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * kKBytes;
    gather(sb + kKCodes + 4 * r, 32, 0, row[b].qs);
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; ++s) {
      sc[s] = scale_of(sb, s, r);
      m[s] = min_of(sb, s, r);
    }
    pack_scales_k4(sc, m, row[b].scales);
    std::memcpy(&row[b].d, sb + kKD + 2 * r, 2);
    std::memcpy(&row[b].dmin, sb + kKDmin + 2 * r, 2);
  }
}

void gemv_ref_q4_k(int64_t n, const uint8_t* group, const ActQ8K* x, float* y) {
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sb = group + static_cast<size_t>(b) * kKBytes;
      int32_t sum_q = 0, sum_m = 0;
      for (int s = 0; s < 8; ++s) {
        int32_t dot = 0;
        for (int e = 0; e < 32; ++e) {
          // Element 32s + e: pair s/2, low nibble for even s, at qs byte 32(s/2) + e.
          const int i = 32 * (s / 2) + e;
          const uint8_t byte = sb[kKCodes + static_cast<size_t>((i / 4) * 64 + 4 * r + i % 4)];
          dot += (s % 2 ? byte >> 4 : byte & 0xF) * x[b].qs[32 * s + e];
        }
        const int16_t xsum = pair_half(x[b].msum32[s / 2], s % 2);
        sum_q += scale_of(sb, s, r) * dot;
        sum_m += min_of(sb, s, r) * xsum;
      }
      uint16_t d, dmin;
      std::memcpy(&d, sb + kKD + 2 * r, 2);
      std::memcpy(&dmin, sb + kKDmin + 2 * r, 2);
      sum += x[b].d * (fp16_to_f32(d) * static_cast<float>(sum_q) - fp16_to_f32(dmin) * static_cast<float>(sum_m));
    }
    y[r] = sum;
  }
}

// ---- Q5_K: per super-block [scales 128][mins 128][d 32][dmin 32], then per
// quarter [masks 128][codes 512].
static_assert(X16Q5K::kScaleMins == kKScales && X16Q5K::kD == kKD && X16Q5K::kDmin == kKDmin &&
              X16Q5K::masks(0) == kKCodes && X16Q5K::codes(3) + 512 == X16Q5K::kBytes);

// Bit 4r + k of the mask of quarter p, chunk c, nibble half (0 low, 1 high):
// the fifth bit of element 64p + 32·half + 4c + k, GGUF qh[4c + k] bit 2p + half.
int mask_bit(const uint8_t* sb, int p, int c, int half, int r, int k) {
  return (sb[X16Q5K::masks(p) + static_cast<size_t>(16 * c + 8 * half + (4 * r + k) / 8)] >> ((4 * r + k) % 8)) & 1;
}

// Bit l (0..31) of the result: bit j of qh[l] (bytes of 0/1 gathered 8 at a time by one multiply).
uint32_t qh_bit_plane(const uint8_t* qh, int j) {
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) {
    uint64_t v;
    std::memcpy(&v, qh + 8 * i, 8);
    v = (v >> j) & 0x0101010101010101ull;
    bits |= static_cast<uint32_t>((v * 0x0102040810204080ull) >> 56) << (8 * i);
  }
  return bits;
}

void pack_q5_k(const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint8_t* sb = dst + static_cast<size_t>(b) * X16Q5K::kBytes;
    uint64_t masks[4][8][2] = {};  // [quarter][chunk][nibble half], bit 4r + k
    for (int r = 0; r < kR; ++r) {
      const BlockQ5_K& blk = reinterpret_cast<const BlockQ5_K*>(src + r * row_stride)[b];
      for (int p = 0; p < 4; ++p) {
        scatter(blk.qs + 32 * p, 8, 0, sb + X16Q5K::codes(p) + 4 * r);
        for (int half = 0; half < 2; ++half) {
          const uint32_t plane = qh_bit_plane(blk.qh, 2 * p + half);  // bit 4c + k: chunk c, byte k
          for (int c = 0; c < 8; ++c) masks[p][c][half] |= static_cast<uint64_t>((plane >> (4 * c)) & 0xF) << (4 * r);
        }
      }
      for (int s = 0; s < 8; ++s) {
        uint8_t sc, m;
        get_scale_min_k4(s, blk.scales, &sc, &m);
        set_scale_min(sb, s, r, sc, m);
      }
      std::memcpy(sb + X16Q5K::kD + 2 * r, &blk.d, 2);
      std::memcpy(sb + X16Q5K::kDmin + 2 * r, &blk.dmin, 2);
    }
    for (int p = 0; p < 4; ++p) std::memcpy(sb + X16Q5K::masks(p), masks[p], sizeof masks[p]);  // little-endian, as the kernels load them
  }
}

void unpack_row_q5_k(const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  auto* row = reinterpret_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * X16Q5K::kBytes;
    std::memset(row[b].qh, 0, sizeof row[b].qh);
    for (int p = 0; p < 4; ++p) {
      gather(sb + X16Q5K::codes(p) + 4 * r, 8, 0, row[b].qs + 32 * p);
      for (int c = 0; c < 8; ++c)
        for (int half = 0; half < 2; ++half)
          for (int k = 0; k < 4; ++k)
            if (mask_bit(sb, p, c, half, r, k))
              row[b].qh[4 * c + k] = static_cast<uint8_t>(row[b].qh[4 * c + k] | (1u << (2 * p + half)));
    }
    uint8_t sc[8], m[8];
    for (int s = 0; s < 8; ++s) {
      sc[s] = scale_of(sb, s, r);
      m[s] = min_of(sb, s, r);
    }
    pack_scales_k4(sc, m, row[b].scales);
    std::memcpy(&row[b].d, sb + X16Q5K::kD + 2 * r, 2);
    std::memcpy(&row[b].dmin, sb + X16Q5K::kDmin + 2 * r, 2);
  }
}

void gemv_ref_q5_k(int64_t n, const uint8_t* group, const ActQ8K* x, float* y) {
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sb = group + static_cast<size_t>(b) * X16Q5K::kBytes;
      int32_t sum_q = 0, sum_m = 0;
      for (int s = 0; s < 8; ++s) {
        // Sub-block s: quarter p = s/2, low nibbles for even s.
        const int p = s / 2, half = s % 2;
        int32_t dot = 0;
        for (int e = 0; e < 32; ++e) {
          const int c = e / 4, k = e % 4;
          const uint8_t byte = sb[X16Q5K::codes(p) + static_cast<size_t>(64 * c + 4 * r + k)];
          const int high = mask_bit(sb, p, c, half, r, k);
          dot += ((half ? byte >> 4 : byte & 0xF) | (high << 4)) * x[b].qs[32 * s + e];
        }
        sum_q += scale_of(sb, s, r) * dot;
        sum_m += min_of(sb, s, r) * pair_half(x[b].msum32[p], half);
      }
      uint16_t d, dmin;
      std::memcpy(&d, sb + X16Q5K::kD + 2 * r, 2);
      std::memcpy(&dmin, sb + X16Q5K::kDmin + 2 * r, 2);
      sum += x[b].d * (fp16_to_f32(d) * static_cast<float>(sum_q) - fp16_to_f32(dmin) * static_cast<float>(sum_m));
    }
    y[r] = sum;
  }
}

// ---- Q3_K: [scale pairs 256][per half: codes 512, masks 256][d 32].
static_assert(X16Q3K::codes(0) == 256 && X16Q3K::masks(1) + 256 == X16Q3K::kD && X16Q3K::kD + 32 == X16Q3K::kBytes);

size_t pair_index(int g, int r) { return static_cast<size_t>((g / 2) * 32 + 2 * r + g % 2); }

// The 12 packed bytes of Q3_K scales from the 16 six-bit values (the inverse
// of unpack_q3_k's decoding; every bit is determined).
void pack_scales_q3(const uint8_t* sc, uint8_t* q) {
  for (int i = 0; i < 4; ++i) {
    q[i] = static_cast<uint8_t>((sc[i] & 0xF) | ((sc[8 + i] & 0xF) << 4));
    q[4 + i] = static_cast<uint8_t>((sc[4 + i] & 0xF) | ((sc[12 + i] & 0xF) << 4));
    q[8 + i] = static_cast<uint8_t>((sc[i] >> 4) | ((sc[4 + i] >> 4) << 2) | ((sc[8 + i] >> 4) << 4) | ((sc[12 + i] >> 4) << 6));
  }
}

void pack_q3_k(const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    uint8_t* sb = dst + static_cast<size_t>(b) * X16Q3K::kBytes;
    uint64_t masks[2][4][8] = {};  // [half][quarter][chunk], bit 4r + k
    for (int r = 0; r < kR; ++r) {
      const BlockQ3_K& blk = reinterpret_cast<const BlockQ3_K*>(src + r * row_stride)[b];
      KUnpacked u;
      unpack_q3_k(blk, &u);
      for (int g = 0; g < 16; ++g) sb[X16Q3K::kScales + pair_index(g, r)] = static_cast<uint8_t>(u.scale[g]);
      for (int h = 0; h < 2; ++h) {
        scatter(blk.qs + 32 * h, 8, 0, sb + X16Q3K::codes(h) + 4 * r);
        for (int j = 0; j < 4; ++j) {
          const uint32_t plane = qh_bit_plane(blk.hmask, 4 * h + j);  // bit l: element 128h + 32j + l
          for (int c = 0; c < 8; ++c) masks[h][j][c] |= static_cast<uint64_t>((plane >> (4 * c)) & 0xF) << (4 * r);
        }
      }
      std::memcpy(sb + X16Q3K::kD + 2 * r, &blk.d, 2);
    }
    for (int h = 0; h < 2; ++h) std::memcpy(sb + X16Q3K::masks(h), masks[h], sizeof masks[h]);
  }
}

int q3_mask_bit(const uint8_t* sb, int h, int j, int c, int r, int k) {
  return (sb[X16Q3K::masks(h) + static_cast<size_t>(64 * j + 8 * c + (4 * r + k) / 8)] >> ((4 * r + k) % 8)) & 1;
}

void unpack_row_q3_k(const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  auto* row = reinterpret_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * X16Q3K::kBytes;
    std::memset(row[b].hmask, 0, sizeof row[b].hmask);
    for (int h = 0; h < 2; ++h) {
      gather(sb + X16Q3K::codes(h) + 4 * r, 8, 0, row[b].qs + 32 * h);
      for (int j = 0; j < 4; ++j)
        for (int c = 0; c < 8; ++c)
          for (int k = 0; k < 4; ++k)
            if (q3_mask_bit(sb, h, j, c, r, k))
              row[b].hmask[4 * c + k] = static_cast<uint8_t>(row[b].hmask[4 * c + k] | (1u << (4 * h + j)));
    }
    uint8_t sc[16];
    for (int g = 0; g < 16; ++g) sc[g] = static_cast<uint8_t>(static_cast<int8_t>(sb[X16Q3K::kScales + pair_index(g, r)]) + 32);
    pack_scales_q3(sc, row[b].scales);
    std::memcpy(&row[b].d, sb + X16Q3K::kD + 2 * r, 2);
  }
}

// Element 128h + 32j + 4c + k: bits 2j of code chunk c's byte, plus the mask bit as 4.
void gemv_ref_q3_k(int64_t n, const uint8_t* group, const ActQ8K* x, float* y) {
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sb = group + static_cast<size_t>(b) * X16Q3K::kBytes;
      int32_t sum_q = 0;
      for (int g = 0; g < 16; ++g) {
        const int h = g / 8, j = (g % 8) / 2;
        int32_t dot = 0;
        for (int i = 0; i < 16; ++i) {
          const int l = 16 * (g % 2) + i, c = l / 4, k = l % 4;
          const uint8_t byte = sb[X16Q3K::codes(h) + static_cast<size_t>(64 * c + 4 * r + k)];
          const int code = ((byte >> (2 * j)) & 3) | (q3_mask_bit(sb, h, j, c, r, k) << 2);
          dot += (code - 4) * x[b].qs[16 * g + i];
        }
        sum_q += static_cast<int8_t>(sb[X16Q3K::kScales + pair_index(g, r)]) * dot;
      }
      uint16_t d;
      std::memcpy(&d, sb + X16Q3K::kD + 2 * r, 2);
      sum += x[b].d * (fp16_to_f32(d) * static_cast<float>(sum_q));
    }
    y[r] = sum;
  }
}

// ---- Q2_K: [scale | min << 4 pairs 256][codes 1024][d 32][dmin 32].
static_assert(X16Q2K::codes(1) + 512 == X16Q2K::kD && X16Q2K::kDmin == X16Q2K::kD + 32 &&
              X16Q2K::kBytes == X16Q2K::kDmin + 32);

void pack_q2_k(const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  for (int r = 0; r < kR; ++r) {
    const auto* row = reinterpret_cast<const BlockQ2_K*>(src + r * row_stride);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      uint8_t* sb = dst + static_cast<size_t>(b) * X16Q2K::kBytes;
      for (int g = 0; g < 16; ++g) sb[X16Q2K::kScales + pair_index(g, r)] = row[b].scales[g];
      for (int h = 0; h < 2; ++h) scatter(row[b].qs + 32 * h, 8, 0, sb + X16Q2K::codes(h) + 4 * r);
      std::memcpy(sb + X16Q2K::kD + 2 * r, &row[b].d, 2);
      std::memcpy(sb + X16Q2K::kDmin + 2 * r, &row[b].dmin, 2);
    }
  }
}

void unpack_row_q2_k(const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  auto* row = reinterpret_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * X16Q2K::kBytes;
    for (int g = 0; g < 16; ++g) row[b].scales[g] = sb[X16Q2K::kScales + pair_index(g, r)];
    for (int h = 0; h < 2; ++h) gather(sb + X16Q2K::codes(h) + 4 * r, 8, 0, row[b].qs + 32 * h);
    std::memcpy(&row[b].d, sb + X16Q2K::kD + 2 * r, 2);
    std::memcpy(&row[b].dmin, sb + X16Q2K::kDmin + 2 * r, 2);
  }
}

void gemv_ref_q2_k(int64_t n, const uint8_t* group, const ActQ8K* x, float* y) {
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sb = group + static_cast<size_t>(b) * X16Q2K::kBytes;
      int32_t sum_q = 0, sum_m = 0;
      for (int g = 0; g < 16; ++g) {
        const int h = g / 8, j = (g % 8) / 2;
        int32_t dot = 0;
        for (int i = 0; i < 16; ++i) {
          const int l = 16 * (g % 2) + i;
          const uint8_t byte = sb[X16Q2K::codes(h) + static_cast<size_t>(64 * (l / 4) + 4 * r + l % 4)];
          dot += ((byte >> (2 * j)) & 3) * x[b].qs[16 * g + i];
        }
        const uint8_t sm = sb[X16Q2K::kScales + pair_index(g, r)];
        sum_q += (sm & 0xF) * dot;
        sum_m += (sm >> 4) * pair_half(x[b].msum16[g / 2], g % 2);
      }
      uint16_t d, dmin;
      std::memcpy(&d, sb + X16Q2K::kD + 2 * r, 2);
      std::memcpy(&dmin, sb + X16Q2K::kDmin + 2 * r, 2);
      sum += x[b].d * (fp16_to_f32(d) * static_cast<float>(sum_q) - fp16_to_f32(dmin) * static_cast<float>(sum_m));
    }
    y[r] = sum;
  }
}

// ---- Q6_K: per super-block [scales 256, group-major][per group 3 packed code vectors 3072][d 32].
constexpr size_t k6D = X16Q6K::kD, k6Bytes = X16Q6K::kBytes;
static_assert(X16Q6K::scales(15) + 16 == X16Q6K::codes(0, 0) && X16Q6K::codes(15, 2) + 64 == k6D &&
              k6Bytes == k6D + 32);

// A GGUF Q6_K block's 256 codes (unsigned, q + 32) and back: element e = 128h
// + 32·quarter + l has its low 4 bits in ql[64h + 32(quarter % 2) + l] (low
// nibble for quarters 0, 1, high for 2, 3) and its high 2 in bits 2·quarter of
// qh[32h + l].
void q6_codes(const BlockQ6_K& blk, uint8_t* codes) {
  for (int h = 0; h < 2; ++h)
    for (int quarter = 0; quarter < 4; ++quarter)
      for (int l = 0; l < 32; ++l) {
        const uint8_t ql = blk.ql[64 * h + 32 * (quarter % 2) + l], qh = blk.qh[32 * h + l];
        codes[128 * h + 32 * quarter + l] =
            static_cast<uint8_t>(((quarter < 2 ? ql : ql >> 4) & 0xF) | ((qh >> (2 * quarter)) & 3) << 4);
      }
}

void q6_from_codes(const uint8_t* codes, BlockQ6_K* blk) {
  std::memset(blk->ql, 0, sizeof blk->ql);
  std::memset(blk->qh, 0, sizeof blk->qh);
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, quarter = (e % 128) / 32, l = e % 32;
    blk->ql[64 * h + 32 * (quarter % 2) + l] |= static_cast<uint8_t>((codes[e] & 0xF) << (quarter < 2 ? 0 : 4));
    blk->qh[32 * h + l] |= static_cast<uint8_t>((codes[e] >> 4) << (2 * quarter));
  }
}

// Where element e (0..255) of row r sits: group g = e / 16, chunk k = e % 16 / 4,
// lane byte 4r + e % 4 of the group's packed vectors.
size_t q6_lane(int e, int r) { return static_cast<size_t>(4 * r + e % 4); }

void pack_q6_k(const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  uint8_t codes[kQK_K];
  for (int r = 0; r < kR; ++r) {
    const auto* row = reinterpret_cast<const BlockQ6_K*>(src + r * row_stride);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      uint8_t* sb = dst + static_cast<size_t>(b) * k6Bytes;
      q6_codes(row[b], codes);
      for (int g = 0; g < 16; ++g) {
        uint32_t w[4];
        std::memcpy(w, codes + 16 * g, sizeof w);
        for (int k = 0; k < 3; ++k) {  // chunk k's codes, and bits 2k, 2k+1 of chunk 3's in bits 6-7
          const uint32_t v = w[k] | ((w[3] >> (2 * k)) & 0x03030303u) << 6;
          std::memcpy(sb + X16Q6K::codes(g, k) + q6_lane(0, r), &v, 4);
        }
        sb[X16Q6K::scales(g) + r] = static_cast<uint8_t>(row[b].scales[g]);
      }
      std::memcpy(sb + k6D + 2 * r, &row[b].d, 2);
    }
  }
}

// Element e (0..255) of row r, read through the packed layout.
int q6_code(const uint8_t* sb, int r, int e) {
  const int g = e / 16, k = e % 16 / 4;
  if (k < 3) return sb[X16Q6K::codes(g, k) + q6_lane(e, r)] & 0x3F;
  int code = 0;
  for (int m = 0; m < 3; ++m) code |= (sb[X16Q6K::codes(g, m) + q6_lane(e, r)] >> 6) << (2 * m);
  return code;
}

void unpack_row_q6_k(const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  auto* row = reinterpret_cast<BlockQ6_K*>(dst);
  uint8_t codes[kQK_K];
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const uint8_t* sb = group + static_cast<size_t>(b) * k6Bytes;
    for (int e = 0; e < kQK_K; ++e) codes[e] = static_cast<uint8_t>(q6_code(sb, r, e));
    q6_from_codes(codes, &row[b]);
    for (int g = 0; g < 16; ++g) row[b].scales[g] = static_cast<int8_t>(sb[X16Q6K::scales(g) + r]);
    std::memcpy(&row[b].d, sb + k6D + 2 * r, 2);
  }
}

void gemv_ref_q6_k(int64_t n, const uint8_t* group, const ActQ8K* x, float* y) {
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      const uint8_t* sb = group + static_cast<size_t>(b) * k6Bytes;
      int32_t sum_q = 0;
      for (int g = 0; g < 16; ++g) {
        int32_t dot = 0;
        for (int i = 0; i < 16; ++i) dot += (q6_code(sb, r, 16 * g + i) - 32) * x[b].qs[16 * g + i];
        sum_q += static_cast<int8_t>(sb[X16Q6K::scales(g) + r]) * dot;
      }
      uint16_t d;
      std::memcpy(&d, sb + k6D + 2 * r, 2);
      sum += x[b].d * (fp16_to_f32(d) * static_cast<float>(sum_q));
    }
    y[r] = sum;
  }
}

// ---- F32 / F16 / BF16: [input k][row r] values.

bool float_type(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

size_t float_bytes(DType t) { return t == DType::kF32 ? 4 : 2; }

float float_at(DType t, const uint8_t* p) {
  if (t == DType::kF32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == DType::kF16 ? fp16_to_f32(h) : bf16_to_f32(h);
}

void pack_float(DType t, const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  // A 16 × 64 tile at a time (16 runs of 64 values read, 1024 values written).
  const size_t e = float_bytes(t);
  for (int64_t k0 = 0; k0 < n; k0 += 64) {
    const int64_t k1 = std::min<int64_t>(n, k0 + 64);
    for (int r = 0; r < kR; ++r) {
      uint8_t v[64 * 4];
      std::memcpy(v, src + r * row_stride + e * static_cast<size_t>(k0), e * static_cast<size_t>(k1 - k0));
      for (int64_t k = k0; k < k1; ++k) std::memcpy(dst + e * (static_cast<size_t>(k) * kR + r), v + e * static_cast<size_t>(k - k0), e);
    }
  }
}

void unpack_row_float(DType t, const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  const size_t e = float_bytes(t);
  for (int64_t k = 0; k < n; ++k) std::memcpy(dst + e * static_cast<size_t>(k), group + e * (static_cast<size_t>(k) * kR + r), e);
}

void gemv_ref_float(DType t, int64_t n, const uint8_t* group, const float* x, float* y) {
  const size_t e = float_bytes(t);
  for (int r = 0; r < kR; ++r) {
    double s = 0;
    for (int64_t k = 0; k < n; ++k) s += static_cast<double>(float_at(t, group + e * (static_cast<size_t>(k) * kR + r))) * x[k];
    y[r] = static_cast<float>(s);
  }
}

}  // namespace

bool x16_supported(DType t) {
  return float_type(t) || t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 || t == DType::kQ5_1 ||
         t == DType::kQ8_0 || t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K ||
         t == DType::kQ6_K;
}

size_t x16_group_bytes(DType t, int64_t n) {
  if (float_type(t)) return static_cast<size_t>(n) * float_bytes(t) * kR;
  if (t == DType::kQ4_K) return static_cast<size_t>(n / kQK_K) * kKBytes;
  if (t == DType::kQ2_K) return static_cast<size_t>(n / kQK_K) * X16Q2K::kBytes;
  if (t == DType::kQ3_K) return static_cast<size_t>(n / kQK_K) * X16Q3K::kBytes;
  if (t == DType::kQ5_K) return static_cast<size_t>(n / kQK_K) * X16Q5K::kBytes;
  if (t == DType::kQ6_K) return static_cast<size_t>(n / kQK_K) * k6Bytes;
  return static_cast<size_t>((n / kQK + 1) / 2) * x16_legacy(t).pair_bytes();
}

int x16_offset(DType t) {
  switch (t) {
    case DType::kQ4_0: return 8;
    case DType::kQ5_0: return 16;
    case DType::kQ8_0: return 128;
    case DType::kQ3_K: return 4;
    case DType::kQ6_K: return 32;
    default: return 0;
  }
}

namespace {
bool k_type(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ6_K;
}
}  // namespace

bool x16_same_act(DType a, DType b) { return a == b || (k_type(a) && k_type(b)); }

void x16_pack(DType t, const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  if (float_type(t)) return pack_float(t, src, row_stride, n, dst);
  if (t == DType::kQ4_K) return pack_q4_k(src, row_stride, n, dst);
  if (t == DType::kQ2_K) return pack_q2_k(src, row_stride, n, dst);
  if (t == DType::kQ3_K) return pack_q3_k(src, row_stride, n, dst);
  if (t == DType::kQ5_K) return pack_q5_k(src, row_stride, n, dst);
  if (t == DType::kQ6_K) return pack_q6_k(src, row_stride, n, dst);
  const int64_t nb = n / kQK;
  const X16Legacy lay = x16_legacy(t);
  const int words = static_cast<int>(lay.code_bytes / kR / 4);
  const uint32_t flip = t == DType::kQ8_0 ? 0x80808080u : 0u;
  if (nb % 2) std::memset(dst + lay.codes(nb), 0, x16_group_bytes(t, n) - lay.codes(nb));  // padding block
  for (int64_t b = 0; b < nb; ++b) {
    uint64_t masks[4][2] = {};  // Q5_0: [chunk][nibble half], bit 4r + k
    for (int r = 0; r < kR; ++r) {
      LegacyBlock lb = legacy_block(t, src + r * row_stride, b);
      std::memcpy(dst + lay.scales(b) + 2 * r, &lb.d, sizeof(uint16_t));
      if (lay.mins) std::memcpy(dst + lay.min_values(b) + 2 * r, &lb.m, sizeof(uint16_t));
      scatter(lb.codes, words, flip, dst + lay.codes(b) + 4 * r);
      for (int c = 0; c < 4; ++c)
        for (int half = 0; half < 2; ++half)
          masks[c][half] |= static_cast<uint64_t>((lb.qh >> (16 * half + 4 * c)) & 0xF) << (4 * r);
    }
    if (lay.mask_bytes) std::memcpy(dst + lay.masks(b), masks, sizeof masks);
  }
}

void x16_unpack_row(DType t, const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  if (float_type(t)) return unpack_row_float(t, group, n, r, dst);
  if (t == DType::kQ4_K) return unpack_row_q4_k(group, n, r, dst);
  if (t == DType::kQ2_K) return unpack_row_q2_k(group, n, r, dst);
  if (t == DType::kQ3_K) return unpack_row_q3_k(group, n, r, dst);
  if (t == DType::kQ5_K) return unpack_row_q5_k(group, n, r, dst);
  if (t == DType::kQ6_K) return unpack_row_q6_k(group, n, r, dst);
  const int64_t nb = n / kQK;
  const X16Legacy lay = x16_legacy(t);
  const int words = static_cast<int>(lay.code_bytes / kR / 4);
  const uint32_t flip = t == DType::kQ8_0 ? 0x80808080u : 0u;
  const LegacyFields f = legacy_fields(t);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* out = dst + static_cast<size_t>(b) * f.bytes;
    std::memcpy(out, group + lay.scales(b) + 2 * r, sizeof(uint16_t));
    if (f.m) std::memcpy(out + f.m, group + lay.min_values(b) + 2 * r, sizeof(uint16_t));
    gather(group + lay.codes(b) + 4 * r, words, flip, out + f.codes);
    if (f.qh) {
      uint32_t qh = 0;
      for (int c = 0; c < 4; ++c)
        for (int half = 0; half < 2; ++half)
          for (int k = 0; k < 4; ++k)
            qh |= static_cast<uint32_t>(q5_0_mask_bit(group + lay.masks(b), c, half, r, k)) << (16 * half + 4 * c + k);
      std::memcpy(out + f.qh, &qh, 4);
    }
  }
}

size_t x16_act_bytes(DType t, int64_t n) {
  if (float_type(t)) return static_cast<size_t>(n) * sizeof(float);
  return k_type(t) ? static_cast<size_t>(n / kQK_K) * sizeof(ActQ8K)
                           : static_cast<size_t>(n / kQK) * sizeof(ActQ8);
}

void x16_prepare_act(DType t, const void* xq, int64_t n, void* out) {
  if (float_type(t)) {
    for (int64_t k = 0; k < n; ++k)
      static_cast<float*>(out)[k] = float_at(t, static_cast<const uint8_t*>(xq) + float_bytes(t) * static_cast<size_t>(k));
    return;
  }
  if (k_type(t)) {
    const auto* x = static_cast<const BlockQ8_K*>(xq);
    auto* a = static_cast<ActQ8K*>(out);
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      std::memcpy(a[b].qs, x[b].qs, kQK_K);
      a[b].d = x[b].d;
      const int16_t* s = x[b].bsums;
      for (int k = 0; k < 8; ++k) a[b].msum16[k] = make_pair(s[2 * k], s[2 * k + 1]);
      for (int k = 0; k < 4; ++k) a[b].msum32[k] = make_pair(s[4 * k] + s[4 * k + 1], s[4 * k + 2] + s[4 * k + 3]);
      for (int g = 0; g < 16; ++g) a[b].q6_off[g] = -32 * s[g];
    }
    return;
  }
  if (t == DType::kQ4_1 || t == DType::kQ5_1) {
    const auto* x = static_cast<const BlockQ8_1*>(xq);
    auto* a = static_cast<ActQ8*>(out);
    for (int64_t b = 0; b < n / kQK; ++b) {
      std::memcpy(a[b].qs, x[b].qs, kQK);
      a[b].d = fp16_to_f32(x[b].d);
      a[b].s = fp16_to_f32(x[b].s);
    }
    return;
  }
  const auto* x = static_cast<const BlockQ8_0*>(xq);
  auto* a = static_cast<ActQ8*>(out);
  const int k = x16_offset(t);
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sum = 0;
    for (int i = 0; i < kQK; ++i) sum += x[b].qs[i];
    std::memcpy(a[b].qs, x[b].qs, kQK);
    a[b].d = fp16_to_f32(x[b].d);
    a[b].off = -k * sum;
  }
}

void x16_quantize_act(DType t, const float* x, int64_t n, void* out) {
  if (float_type(t)) {
    for (int64_t k = 0; k < n; ++k) {
      if (t == DType::kF32) {
        static_cast<float*>(out)[k] = x[k];
        continue;
      }
      const uint16_t h = t == DType::kF16 ? f32_to_fp16(x[k]) : f32_to_bf16(x[k]);
      x16_prepare_act(t, &h, 1, static_cast<float*>(out) + k);
    }
    return;
  }
  if (k_type(t)) {
    BlockQ8_K q;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      quantize_q8_k(x + b * kQK_K, &q, kQK_K);
      x16_prepare_act(t, &q, kQK_K, static_cast<ActQ8K*>(out) + b);
    }
    return;
  }
  if (t == DType::kQ4_1 || t == DType::kQ5_1) {
    BlockQ8_1 q;
    for (int64_t b = 0; b < n / kQK; ++b) {
      quantize_q8_1(x + b * kQK, &q, kQK);
      x16_prepare_act(t, &q, kQK, static_cast<ActQ8*>(out) + b);
    }
    return;
  }
  BlockQ8_0 q;
  for (int64_t b = 0; b < n / kQK; ++b) {
    quantize_q8_0(x + b * kQK, &q, kQK);
    x16_prepare_act(t, &q, kQK, static_cast<ActQ8*>(out) + b);
  }
}

void x16_gemv_ref(DType t, int64_t n, const uint8_t* group, const void* xv, float* y) {
  if (float_type(t)) return gemv_ref_float(t, n, group, static_cast<const float*>(xv), y);
  if (t == DType::kQ4_K) return gemv_ref_q4_k(n, group, static_cast<const ActQ8K*>(xv), y);
  if (t == DType::kQ2_K) return gemv_ref_q2_k(n, group, static_cast<const ActQ8K*>(xv), y);
  if (t == DType::kQ3_K) return gemv_ref_q3_k(n, group, static_cast<const ActQ8K*>(xv), y);
  if (t == DType::kQ5_K) return gemv_ref_q5_k(n, group, static_cast<const ActQ8K*>(xv), y);
  if (t == DType::kQ6_K) return gemv_ref_q6_k(n, group, static_cast<const ActQ8K*>(xv), y);
  const auto* x = static_cast<const ActQ8*>(xv);
  const int64_t nb = n / kQK;
  const X16Legacy lay = x16_legacy(t);
  const int k = x16_offset(t);
  for (int r = 0; r < kR; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* codes = group + lay.codes(b);
      uint16_t d;
      std::memcpy(&d, group + lay.scales(b) + 2 * r, sizeof d);
      int s = 0;
      for (int i = 0; i < kQK; ++i) {
        int w;
        if (t != DType::kQ8_0) {
          const uint8_t byte = codes[((i % 16) / 4) * 64 + r * 4 + i % 4];
          w = i < 16 ? byte & 0x0f : byte >> 4;
          if (lay.mask_bytes) w |= q5_0_mask_bit(group + lay.masks(b), (i % 16) / 4, i / 16, r, i % 4) << 4;
        } else {
          w = codes[(i / 4) * 64 + r * 4 + i % 4];
        }
        s += (w - k) * x[b].qs[i];
      }
      sum += static_cast<float>(s) * fp16_to_f32(d) * x[b].d;
      if (lay.mins) {
        uint16_t m;
        std::memcpy(&m, group + lay.min_values(b) + 2 * r, sizeof m);
        sum += fp16_to_f32(m) * x[b].s;
      }
    }
    y[r] = sum;
  }
}

}  // namespace hearth::tensor
