#include "tensor/interleave.h"

#include <cstring>

#include "tensor/blocks.h"
#include "tensor/fp16.h"

namespace hearth::tensor {

namespace {

// Bytes of codes per block of 16 rows.
size_t code_bytes(DType t) { return t == DType::kQ4_0 ? 16 * 16 : 16 * 32; }

// Code bytes per row and block, and where a row's block starts in GGUF form.
struct RowBlock {
  const uint8_t* codes;
  uint16_t d;
};

RowBlock row_block(DType t, const uint8_t* row, int64_t b) {
  if (t == DType::kQ4_0) {
    const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
    return {blk.qs, blk.d};
  }
  const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
  return {reinterpret_cast<const uint8_t*>(blk.qs), blk.d};
}

}  // namespace

bool x16_supported(DType t) { return t == DType::kQ4_0 || t == DType::kQ8_0; }

size_t x16_group_bytes(DType t, int64_t n) {
  return static_cast<size_t>(n / kQK) * (code_bytes(t) + kX16Rows * sizeof(uint16_t));
}

int x16_offset(DType t) { return t == DType::kQ4_0 ? 8 : 128; }

void x16_pack(DType t, const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst) {
  const int64_t nb = n / kQK;
  const size_t cb = code_bytes(t);
  const int words = static_cast<int>(cb / kX16Rows / 4);  // 4-byte words of codes per row and block
  const uint32_t flip = t == DType::kQ8_0 ? 0x80808080u : 0u;
  auto* scales = reinterpret_cast<uint16_t*>(dst + static_cast<size_t>(nb) * cb);
  for (int r = 0; r < kX16Rows; ++r) {
    const uint8_t* row = src + r * row_stride;
    for (int64_t b = 0; b < nb; ++b) {
      RowBlock rb = row_block(t, row, b);
      scales[b * kX16Rows + r] = rb.d;
      uint8_t* codes = dst + static_cast<size_t>(b) * cb + r * 4;
      for (int c = 0; c < words; ++c) {
        uint32_t v;
        std::memcpy(&v, rb.codes + 4 * c, 4);
        v ^= flip;
        std::memcpy(codes + 64 * c, &v, 4);
      }
    }
  }
}

void x16_unpack_row(DType t, const uint8_t* group, int64_t n, int r, uint8_t* dst) {
  const int64_t nb = n / kQK;
  const size_t cb = code_bytes(t);
  const int per_row = static_cast<int>(cb / kX16Rows);
  const uint8_t flip = t == DType::kQ8_0 ? 0x80 : 0x00;
  const auto* scales = reinterpret_cast<const uint16_t*>(group + static_cast<size_t>(nb) * cb);
  const size_t block = t == DType::kQ4_0 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* out = dst + static_cast<size_t>(b) * block;
    std::memcpy(out, &scales[b * kX16Rows + r], sizeof(uint16_t));
    const uint8_t* codes = group + static_cast<size_t>(b) * cb;
    for (int i = 0; i < per_row; ++i) out[2 + i] = codes[(i / 4) * 64 + r * 4 + i % 4] ^ flip;
  }
}

void x16_prepare_act(DType t, const void* xq, int64_t n, ActQ8* out) {
  const auto* x = static_cast<const BlockQ8_0*>(xq);
  const int k = x16_offset(t);
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sum = 0;
    for (int i = 0; i < kQK; ++i) sum += x[b].qs[i];
    std::memcpy(out[b].qs, x[b].qs, kQK);
    out[b].d = fp16_to_f32(x[b].d);
    out[b].off = -k * sum;
  }
}

void x16_gemv_ref(DType t, int64_t n, const uint8_t* group, const ActQ8* x, float* y) {
  const int64_t nb = n / kQK;
  const size_t cb = code_bytes(t);
  const auto* scales = reinterpret_cast<const uint16_t*>(group + static_cast<size_t>(nb) * cb);
  const int k = x16_offset(t);
  for (int r = 0; r < kX16Rows; ++r) {
    float sum = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* codes = group + static_cast<size_t>(b) * cb;
      int s = 0;
      for (int i = 0; i < kQK; ++i) {
        int w;
        if (t == DType::kQ4_0) {
          const uint8_t byte = codes[((i % 16) / 4) * 64 + r * 4 + i % 4];
          w = i < 16 ? byte & 0x0f : byte >> 4;
        } else {
          w = codes[(i / 4) * 64 + r * 4 + i % 4];
        }
        s += (w - k) * x[b].qs[i];
      }
      sum += static_cast<float>(s) * fp16_to_f32(scales[b * kX16Rows + r]) * x[b].d;
    }
    y[r] = sum;
  }
}

}  // namespace hearth::tensor
