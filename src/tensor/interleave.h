// Weights interleaved 16 rows at a time ("x16"), the layout the AVX-512 VNNI
// matrix kernels stream: for each block of 32 inputs, the codes of 16 weight
// rows sit side by side so that one 512-bit register holds 4 codes of every
// row (one 32-bit lane per row), and the 16 block scales of the group load as
// one vector. One VNNI instruction then multiplies 4 inputs into all 16 rows,
// and the float work (convert, scale, accumulate) is shared by 16 rows
// instead of done per row. Same size as the GGUF layout; built once at load.
//
// A group (16 rows, n inputs, nb = n / 32 blocks) is
//   codes:  nb × kCodeBytes[type] bytes; block b's codes are chunks of 64
//           bytes, chunk c holding bytes 4c..4c+3 of each row's block codes
//           (row r at bytes 4r..4r+3 of the chunk);
//   scales: nb × 16 fp16, block b's 16 row scales.
// Q4_0 keeps its nibble codes (chunk c, c < 4: low nibbles are elements 4c..,
// high nibbles elements 16+4c..). Q8_0 codes are stored as unsigned (q ^ 0x80).
// The unsigned code minus kX16Offset is the signed weight.
//
// Activations for these kernels are Q8_0 rows converted to ActQ8 blocks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace hearth::tensor {

constexpr int kX16Rows = 16;

// Whether `t` has an interleaved layout (Q4_0, Q8_0).
bool x16_supported(DType t);
// Bytes of one group of 16 rows of n inputs (n % 32 == 0).
size_t x16_group_bytes(DType t, int64_t n);
// The unsigned-code offset: weight = code - offset (Q4_0: 8, Q8_0: 128).
int x16_offset(DType t);

// Interleaves 16 rows (row r at src + r·row_stride, GGUF blocks) into one group.
void x16_pack(DType t, const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst);
// The inverse: writes row r of the group back as GGUF blocks (for tests).
void x16_unpack_row(DType t, const uint8_t* group, int64_t n, int r, uint8_t* dst);

// A Q8_0 activation block with what the kernels need precomputed: the codes,
// the scale as float, and -offset·Σcodes (so that dot(code_w - offset, x)
// starts from it).
struct ActQ8 {
  int8_t qs[32];
  float d;
  int32_t off;
};
static_assert(sizeof(ActQ8) == 40);

// Converts a Q8_0 row of n values into n/32 ActQ8 for weights of type t.
void x16_prepare_act(DType t, const void* xq, int64_t n, ActQ8* out);

// Scalar reference: y[r] = dot(row r of the group, activation row x) for the
// 16 rows, in the same order of operations as the type's vec_dot.
void x16_gemv_ref(DType t, int64_t n, const uint8_t* group, const ActQ8* x, float* y);

}  // namespace hearth::tensor
